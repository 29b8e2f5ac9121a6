// What each rule does across the whole fabric: whether it applies to any
// pair of identities, whether it wins first match anywhere, whether removing
// it would change a verdict, and which earlier rules take its flows. Exact,
// without the identities x identities product: identities are first merged
// into classes that no rule side tells apart (partition refinement over the
// groups the rules name, per address family), and only class pairs some
// rule names specifically are visited; every other destination class of a
// source class sees the same list (its `to: any` rules) and is examined once.
// The walk has a work budget; past it the facts are not computed and say so
// (readers then treat every rule as possibly winning, which is always safe).

import type { Ir } from '../ir/model.ts';
import { ListInterner, PROTO_SLOTS, winsInSlot, type RuleShape } from '../ir/expand.ts';
import { irReach, type IrReach, type RuleSide } from '../ir/reach.ts';

export interface RuleFacts {
  /** Some pair of identities (with a family in common) is on both sides of the rule. */
  applies: boolean;
  /** The rule decides at least one flow. */
  wins: boolean;
  /** Removing the rule would change the verdict of some flow. */
  needed: boolean;
  /** Up to three earlier rules that take flows the rule matches. */
  coveredBy: Set<number>;
}

export interface PolicyFacts {
  /** False when the walk would exceed its budget: `rules` is then empty. */
  exact: boolean;
  /** Why the facts were not computed, with the sizes that decided it. */
  skipped?: string;
  rules: RuleFacts[];
  /** Identity classes per side and the class pairs (lists) examined. */
  stats: { sourceClasses: number; destinationClasses: number; work: number; lists: number };
}

/** (class, rule) visits allowed before the walk gives up. */
export const DEFAULT_FACTS_BUDGET = 40_000_000;

/** Parts of the sorted disjoint pairs `have` that lie outside [lo, hi]. */
function minus(have: number[], lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < have.length; i += 2) {
    const a = have[i];
    const b = have[i + 1];
    if (b < lo || a > hi) {
      out.push(a, b);
      continue;
    }
    if (a < lo) out.push(a, lo - 1);
    if (b > hi) out.push(hi + 1, b);
  }
  return out;
}

function overlaps(have: number[], lo: number, hi: number): boolean {
  for (let i = 0; i < have.length; i += 2) if (have[i] <= hi && have[i + 1] >= lo) return true;
  return false;
}

/** Identities merged by (family mask, groups named on `side`): members of a class are alike there. */
interface Classes {
  of: Int32Array; // position -> class
  rep: number[]; // class -> a member position
  fam: number[]; // class -> family mask
}

function classify(reach: IrReach, side: RuleSide, named: Set<string>): Classes {
  const index = new Map<string, number>();
  const of = new Int32Array(reach.count);
  const rep: number[] = [];
  const fam: number[] = [];
  reach.ir.identities.forEach((id, p) => {
    const key = `${reach.fam[p]}|${id.groups.filter((g) => named.has(g)).join(',')}`;
    let c = index.get(key);
    if (c === undefined) {
      c = rep.length;
      index.set(key, c);
      rep.push(p);
      fam.push(reach.fam[p]);
    }
    of[p] = c;
  });
  return { of, rep, fam };
}

function namedOn(ir: Ir, side: RuleSide): Set<string> {
  const out = new Set<string>();
  for (const r of ir.rules) {
    const peers = r[side];
    if (peers !== 'any') for (const g of peers.groups) out.add(g);
  }
  return out;
}

function computeFacts(ir: Ir, budget: number): PolicyFacts {
  const reach = irReach(ir);
  const rules = ir.rules;
  const shapes: RuleShape[] = reach.shapes;
  const src = classify(reach, 'from', namedOn(ir, 'from'));
  const dst = classify(reach, 'to', namedOn(ir, 'to'));
  const stats = { sourceClasses: src.rep.length, destinationClasses: dst.rep.length, work: 0, lists: 0 };
  // Destination classes per rule with a specific `to`, computed once per rule.
  const toClasses: (Int32Array | undefined)[] = new Array(rules.length);
  const classesTo = (r: number): Int32Array => {
    let c = toClasses[r];
    if (c) return c;
    const seen = new Set<number>();
    for (const members of reach.sideMembers(rules[r], 'to')!) for (const d of members) seen.add(dst.of[d]);
    c = Int32Array.from([...seen].sort((a, b) => a - b));
    toClasses[r] = c;
    return c;
  };
  // Destination classes compatible with each family mask.
  const compatible = [0, 0, 0, 0];
  for (const f of dst.fam) for (let m = 1; m <= 3; m++) if (f & m) compatible[m]++;

  const facts: RuleFacts[] = rules.map(() => ({ applies: false, wins: false, needed: false, coveredBy: new Set() }));
  const lists = new ListInterner<true>();
  const examineOnce = (list: number[]): void => {
    lists.get(list, (l) => {
      examine(l);
      return true;
    });
  };
  const buckets = new Map<number, number[]>();
  for (let c = 0; c < src.rep.length; c++) {
    const fam = src.fam[c];
    const from = reach.rulesHolding(src.rep[c], 'from');
    const wildTo: number[] = [];
    buckets.clear();
    for (const r of from) {
      if (rules[r].to === 'any') {
        wildTo.push(r);
        continue;
      }
      const cls = classesTo(r);
      stats.work += cls.length;
      for (const d of cls) {
        if ((dst.fam[d] & fam) === 0) continue;
        const b = buckets.get(d);
        if (!b) buckets.set(d, [r]);
        else b.push(r);
      }
    }
    stats.work += from.length;
    if (stats.work > budget) {
      return {
        exact: false,
        skipped: `shadowed and redundant rule checks skipped: ${src.rep.length.toLocaleString('en-US')} source x ${dst.rep.length.toLocaleString('en-US')} destination identity classes need more than ${budget.toLocaleString('en-US')} steps`,
        rules: [],
        stats,
      };
    }
    // Destination classes no specific rule names see only the wildcard rules.
    if (buckets.size < compatible[fam] && wildTo.length > 0) examineOnce(wildTo);
    for (const b of buckets.values()) {
      if (wildTo.length === 0) {
        examineOnce(b);
        continue;
      }
      examineOnce([...b, ...wildTo].sort((x, y) => x - y));
    }
  }
  stats.lists = lists.size;
  return { exact: true, rules: facts, stats };

  function examine(list: number[]): void {
    for (const r of list) facts[r].applies = true;
    for (let slot = 0; slot < PROTO_SLOTS; slot++) {
      const wins = winsInSlot(list, shapes, slot);
      const winners = new Set(wins.map((w) => w.rule));
      for (const w of wins) {
        const f = facts[w.rule];
        f.wins = true;
        if (f.needed) continue;
        // Who decides w's pieces once w is gone: the later rules in order, then the default.
        let rest = w.pieces;
        const action = rules[w.rule].action;
        for (let k = list.indexOf(w.rule) + 1; k < list.length && rest.length > 0 && !f.needed; k++) {
          const later = shapes[list[k]][slot];
          for (let i = 0; i < later.length && !f.needed; i += 2) {
            if (!overlaps(rest, later[i], later[i + 1])) continue;
            if (rules[list[k]].action !== action) f.needed = true;
            rest = minus(rest, later[i], later[i + 1]);
          }
        }
        if (rest.length > 0 && ir.defaultAction !== action) f.needed = true;
      }
      // Rules of this list that win nothing here: which earlier winners cover them.
      for (let k = 0; k < list.length; k++) {
        const r = list[k];
        const want = shapes[r][slot];
        if (want.length === 0 || winners.has(r)) continue;
        for (const w of wins) {
          if (w.rule >= r || facts[r].coveredBy.size >= 3) continue;
          for (let i = 0; i < want.length; i += 2) {
            if (overlaps(w.pieces, want[i], want[i + 1])) {
              facts[r].coveredBy.add(w.rule);
              break;
            }
          }
        }
      }
    }
  }
}

const cache = new WeakMap<Ir, Map<number, PolicyFacts>>();

/** The facts of an IR's rules, computed once per IR and budget. */
export function policyFacts(ir: Ir, budget = DEFAULT_FACTS_BUDGET): PolicyFacts {
  let m = cache.get(ir);
  if (!m) cache.set(ir, (m = new Map()));
  let f = m.get(budget);
  if (!f) m.set(budget, (f = computeFacts(ir, budget)));
  return f;
}

/**
 * Rules that may decide a flow: exactly the winners when the facts were
 * computed, else every rule (keeping a rule that never wins is always safe).
 */
export function winningRules(ir: Ir): Set<number> {
  const f = policyFacts(ir);
  return new Set(ir.rules.filter((r) => !f.exact || f.rules[r.index].wins).map((r) => r.index));
}
