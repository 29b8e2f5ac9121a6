// Policy analysis from the compiled IR: groups that resolve to no address,
// rules that can never match (shadowed by earlier rules), and rules whose
// removal would change no verdict (redundant). Exact, by walking the rule
// lists of identity pairs rather than sampling flows.

import type { Diagnostic } from '../diagnostics.ts';
import type { Policy, Rule } from '../policy/model.ts';
import type { Fabric } from '../../inventory/model.ts';
import type { Ir } from '../ir/model.ts';
import { forEachPair, ListInterner, PROTO_SLOTS, ruleShape, winsInSlot, type RuleShape } from '../ir/expand.ts';

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

interface RuleFacts {
  /** Some pair of identities (with a family in common) is covered by the rule. */
  applies: boolean;
  /** Removing the rule would change the verdict of some flow. */
  needed: boolean;
  /** Earlier rules that take flows the rule matches. */
  coveredBy: Set<number>;
}

function analyzeLists(policy: Policy, ir: Ir, shapes: RuleShape[]): RuleFacts[] {
  const rules = policy.rules;
  const facts: RuleFacts[] = rules.map(() => ({ applies: false, needed: false, coveredBy: new Set() }));
  // Findings depend on the rule list only: each distinct list is examined once.
  const lists = new ListInterner<true>();
  forEachPair(rules, ir.identities, (_s, _d, pairList) => {
    lists.get(pairList, (list) => {
      examine(list);
      return true;
    });
  });
  return facts;

  function examine(list: number[]): void {
    for (const r of list) facts[r].applies = true;
    for (let slot = 0; slot < PROTO_SLOTS; slot++) {
      const wins = winsInSlot(list, shapes, slot);
      const winners = new Set(wins.map((w) => w.rule));
      for (const w of wins) {
        const f = facts[w.rule];
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
        if (rest.length > 0 && policy.defaultAction !== action) f.needed = true;
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

function isEmptySide(peers: Rule['from'], empty: Set<string>): boolean {
  return peers.every((p) => p.kind === 'group' && empty.has(p.name));
}

export function analyze(policy: Policy, _fabric: Fabric, ir: Ir): Diagnostic[] {
  const out: Diagnostic[] = [];
  const nonEmpty = new Set<string>();
  for (const id of ir.identities) for (const g of id.groups) nonEmpty.add(g);
  const empty = new Set<string>();
  for (const g of policy.groups.values()) {
    if (nonEmpty.has(g.name)) continue;
    empty.add(g.name);
    out.push({
      code: 'empty-group',
      severity: 'warning',
      message: `group ${g.name} resolves to no address`,
      span: g.span,
      hint: g.selector ? 'no endpoint of the inventory has every label of its selector, and its cidrs (minus except) are empty' : 'its except list covers all its cidrs',
    });
  }

  const won = new Uint8Array(policy.rules.length);
  for (let i = 0; i < ir.cells.length; i++) won[ir.cells.rule[i]] = 1;
  const shapes = policy.rules.map((r) => ruleShape(r.ports));
  const facts = analyzeLists(policy, ir, shapes);

  for (const r of policy.rules) {
    const f = facts[r.index];
    const fromEmpty = isEmptySide(r.from, empty);
    const toEmpty = isEmptySide(r.to, empty);
    if (fromEmpty || toEmpty) {
      const side = fromEmpty && toEmpty ? 'from and to' : fromEmpty ? 'from' : 'to';
      out.push({
        code: 'empty-group',
        severity: 'warning',
        message: `rule ${r.name} never matches: its ${side} groups resolve to no address`,
        span: r.span,
        hint: 'fix the groups or remove the rule',
      });
      continue;
    }
    if (!won[r.index]) {
      if (!f.applies) {
        out.push({
          code: 'shadowed-rule',
          severity: 'warning',
          message: `rule ${r.name} never matches: its sources and destinations share no address family`,
          span: r.span,
          hint: 'a flow is IPv4 or IPv6 at both ends',
        });
        continue;
      }
      const by = [...f.coveredBy].sort((a, b) => a - b).map((i) => policy.rules[i].name);
      out.push({
        code: 'shadowed-rule',
        severity: 'warning',
        message: `rule ${r.name} is shadowed: earlier rules decide every flow it matches${by.length > 0 ? ` (${by.join(', ')})` : ''}`,
        span: r.span,
        hint: 'move it above the rules that shadow it, or remove it',
      });
      continue;
    }
    if (!f.needed) {
      out.push({
        code: 'redundant-rule',
        severity: 'warning',
        message: `rule ${r.name} is redundant: without it every flow it decides gets the same verdict (${r.action}) from later rules or the default`,
        span: r.span,
        hint: 'remove it, unless it is there for logging or documentation',
      });
    }
  }
  return out;
}
