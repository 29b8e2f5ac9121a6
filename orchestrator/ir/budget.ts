// The cell budget: the IR holds one cell per (source identity, destination
// identity, protocol, port segment), so a rule over `any` on both sides costs
// one cell per pair of identities per protocol. Before a cell is written, the
// rules' reach gives a cheap lower bound on the cell count; a policy over the
// budget is refused there, naming the rules that cost the most, instead of
// running the process out of memory.

import { formatSpan, InputError } from '../diagnostics.ts';
import type { Rule } from '../policy/model.ts';
import { PROTO_SLOTS, type RuleReach, type RuleShape } from './expand.ts';

/**
 * About 17 bytes a cell, held twice while the table is joined: ~2 GiB at the
 * budget, which the worst case of the compile benchmark (ping from `any` to
 * `any` over 7,000 identities, ~58M cells) fits under.
 */
export const DEFAULT_MAX_CELLS = 64_000_000;

export interface RuleCost {
  rule: number;
  /** Pairs of identities (with a family in common) the rule covers. */
  pairs: number;
  /** IR protocols the rule matches. */
  protocols: number;
}

export interface CellEstimate {
  /**
   * A lower bound on the cells: each source identity, in each protocol some
   * rule from it matches, gets at least one cell per destination of the
   * widest such rule.
   */
  atLeast: number;
  /** Rules covering any pair, most pairs x protocols first. */
  costs: RuleCost[];
}

export function estimateCells(rules: Rule[], shapes: RuleShape[], reach: RuleReach): CellEstimate {
  const { from, to, rulesFrom, fam } = reach;
  // Per rule and source family mask: destinations with a family in common.
  const toCompat = new Float64Array(rules.length * 4);
  const slots = new Uint8Array(rules.length);
  const costs: RuleCost[] = [];
  for (const r of rules) {
    const i = r.index;
    let v4 = 0;
    let v6 = 0;
    let both = 0;
    const members = to[i];
    for (let j = 0; j < members.length; j++) {
      const m = fam[members[j]];
      if (m === 3) both++;
      else if (m === 2) v6++;
      else if (m === 1) v4++;
    }
    toCompat[i * 4 + 1] = v4 + both;
    toCompat[i * 4 + 2] = v6 + both;
    toCompat[i * 4 + 3] = v4 + v6 + both;
    let protocols = 0;
    for (let k = 0; k < PROTO_SLOTS; k++) {
      if (shapes[i][k].length > 0) {
        slots[i] |= 1 << k;
        protocols++;
      }
    }
    let pairs = 0;
    for (let j = 0; j < from[i].length; j++) pairs += toCompat[i * 4 + fam[from[i][j]]];
    if (pairs > 0 && protocols > 0) costs.push({ rule: i, pairs, protocols });
  }
  costs.sort((a, b) => b.pairs * b.protocols - a.pairs * a.protocols || a.rule - b.rule);
  let atLeast = 0;
  const widest = new Float64Array(PROTO_SLOTS);
  for (let s = 0; s < rulesFrom.length; s++) {
    const list = rulesFrom[s];
    if (list.length === 0) continue;
    widest.fill(0);
    for (const r of list) {
      const c = toCompat[r * 4 + fam[s]];
      for (let k = 0; k < PROTO_SLOTS; k++) if (slots[r] & (1 << k) && c > widest[k]) widest[k] = c;
    }
    for (let k = 0; k < PROTO_SLOTS; k++) atLeast += widest[k];
  }
  return { atLeast, costs };
}

function formatCount(x: number): string {
  return x.toLocaleString('en-US');
}

/**
 * The refusal, named after the rules costing the most; `stoppedAt` (1-based
 * source identity) when emitting overran the budget the estimate passed.
 */
export function cellBudgetError(rules: Rule[], estimate: CellEstimate, maxCells: number, identities: number, stoppedAt?: number): InputError {
  const top = estimate.costs.slice(0, 3).map((c) => {
    const r = rules[c.rule];
    return `rule ${r.name} (${formatSpan(r.span)}): ${formatCount(c.pairs)} identity pairs x ${c.protocols} protocol${c.protocols === 1 ? '' : 's'}`;
  });
  const head =
    stoppedAt === undefined
      ? `policy needs at least ${formatCount(estimate.atLeast)} cells over ${formatCount(identities)} identities, more than the budget of ${formatCount(maxCells)}`
      : `policy needs more than the budget of ${formatCount(maxCells)} cells, reached at source identity ${formatCount(stoppedAt)} of ${formatCount(identities)} (estimated at least ${formatCount(estimate.atLeast)})`;
  const worst = estimate.costs[0] ? rules[estimate.costs[0].rule] : undefined;
  return new InputError([
    {
      code: 'ir-too-large',
      severity: 'error',
      message: `${head}; largest rules: ${top.join('; ')}`,
      span: worst?.span,
      hint: 'narrow from/to of these rules, or replace a final catch-all rule with spec.defaultAction',
    },
  ]);
}
