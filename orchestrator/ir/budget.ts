// The share budget: a device's share costs, before any cell is made, one
// (remote identity, rule, protocol) triple per specific rule its local
// identities hold on their local side, times the identities on the rule's
// remote side (wildcard rules cost one). Counting these is cheap (group
// sizes, no member walk), so a device whose share would not fit in memory is
// refused before its codegen allocates, naming the device and the rules that
// cost the most.

import { formatSpan, InputError, type SourceSpan } from '../diagnostics.ts';
import type { Ir } from './model.ts';
import { irReach } from './reach.ts';
import { sidesOf } from './share.ts';

/**
 * Triples a device's share may cost. Each triple is one step of resolving
 * the share and yields about one cell (more where earlier rules split a
 * port range, none where it is shadowed); a cell takes ~40 bytes while a
 * target holds it, so the budget keeps a share near 2.5 GiB at most.
 */
export const DEFAULT_MAX_SHARE_TRIPLES = 64_000_000;

export interface ShareCost {
  rule: number;
  triples: number;
}

export interface ShareEstimate {
  /** (remote, rule, protocol) triples over both directions: the work of resolving the share. */
  triples: number;
  /** Rules by cost, most first. */
  costs: ShareCost[];
}

export function estimateShare(ir: Ir, locals: Iterable<number>): ShareEstimate {
  const reach = irReach(ir);
  const byRule = new Float64Array(ir.rules.length);
  const protocols = ir.rules.map((r) => r.services.filter((l) => l.length > 0).length);
  const sizes = { from: new Float64Array(ir.rules.length).fill(-1), to: new Float64Array(ir.rules.length).fill(-1) };
  let triples = 0;
  for (const id of new Set(locals)) {
    const p = reach.pos.get(id);
    if (p === undefined) continue;
    for (const dir of ['egress', 'ingress'] as const) {
      const side = sidesOf(dir);
      const size = sizes[side.remote];
      for (const r of reach.rulesHolding(p, side.local)) {
        if (size[r] < 0) size[r] = ir.rules[r][side.remote] === 'any' ? 1 : reach.sideSize(ir.rules[r], side.remote);
        const t = size[r] * protocols[r];
        byRule[r] += t;
        triples += t;
      }
    }
  }
  const costs: ShareCost[] = [];
  byRule.forEach((t, rule) => {
    if (t > 0) costs.push({ rule, triples: t });
  });
  costs.sort((a, b) => b.triples - a.triples || a.rule - b.rule);
  return { triples, costs };
}

function formatCount(x: number): string {
  return x.toLocaleString('en-US');
}

/** Refuses (InputError 'share-too-large') a device whose share would exceed `max` triples. */
export function checkShareBudget(ir: Ir, device: { name: string; span?: SourceSpan }, locals: Iterable<number>, max = DEFAULT_MAX_SHARE_TRIPLES): ShareEstimate {
  const estimate = estimateShare(ir, locals);
  if (estimate.triples <= max) return estimate;
  const top = estimate.costs.slice(0, 3).map((c) => {
    const r = ir.rules[c.rule];
    return `rule ${r.name} (${formatSpan(r.span)}): ${formatCount(c.triples)}`;
  });
  const worst = estimate.costs[0] ? ir.rules[estimate.costs[0].rule] : undefined;
  throw new InputError([
    {
      code: 'share-too-large',
      severity: 'error',
      message: `device ${device.name}${device.span ? ` (${formatSpan(device.span)})` : ''}: its share of the policy needs up to ${formatCount(estimate.triples)} (remote identity, rule, protocol) triples, more than the budget of ${formatCount(max)}; largest rules: ${top.join('; ')}`,
      span: worst?.span,
      hint: 'narrow the groups on the far side of these rules, or use `any` there: a wildcard side costs one triple',
    },
  ]);
}

