// The cell budget: a policy whose IR would not fit is refused with
// 'ir-too-large' (before emitting when the lower bound already exceeds the
// budget, while emitting otherwise), naming the rules that cost the most;
// and the estimate really is a lower bound, with exact per-rule pair counts.

import { describe, expect, it } from 'vitest';
import { InputError, type Diagnostic } from '../diagnostics.ts';
import { buildIdentities } from '../identity/build.ts';
import { generateScenario, makeRng } from '../testing/generate.ts';
import { makeFabric, makePolicy, type RuleSpec } from '../testing/build.ts';
import type { Policy } from '../policy/model.ts';
import { buildIr } from './build.ts';
import { estimateCells } from './budget.ts';
import { forEachPair, ruleReach, ruleShape } from './expand.ts';

/** `count` single-address groups: with world, count + 1 identities, all IPv4-capable. */
function hosts(count: number, rules: RuleSpec[]): Policy {
  const groups: Record<string, { cidrs: string[] }> = {};
  for (let i = 0; i < count; i++) groups[`g${i}`] = { cidrs: [`10.0.${i >> 8}.${i & 255}/32`] };
  return makePolicy({ groups, rules });
}

function refusal(f: () => unknown): Diagnostic {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    const ds = (e as InputError).diagnostics;
    expect(ds).toHaveLength(1);
    return ds[0];
  }
  throw new Error('expected an InputError');
}

const fabric = makeFabric([]);

describe('cell budget', () => {
  it('refuses a final catch-all rule before emitting, naming the costliest rules in order', () => {
    const policy = hosts(40, [
      { name: 'one', from: ['g2'], to: ['g3'], ports: [{ protocol: 'tcp', port: 80 }], action: 'allow' },
      { name: 'ssh-in', from: ['g0', 'g1'], to: ['any'], ports: [{ protocol: 'tcp', port: 22 }], action: 'allow' },
      { name: 'ping-all', from: ['any'], to: ['any'], ports: [{ protocol: 'icmp', type: 8 }], action: 'allow' },
      { name: 'deny-all', from: ['any'], to: ['any'], action: 'deny' },
    ]);
    const d = refusal(() => buildIr(policy, fabric, { maxCells: 5_000 }));
    expect(d.code).toBe('ir-too-large');
    expect(d.severity).toBe('error');
    expect(d.span).toEqual(policy.rules[3].span);
    // 41 identities, every pair shares IPv4: 1,681 pairs in each of 5 protocols.
    expect(d.message).toContain('at least 8,405 cells over 41 identities');
    expect(d.message).toContain('budget of 5,000');
    const at = (i: number): string => `${policy.rules[i].span.file}:${policy.rules[i].span.line}:${policy.rules[i].span.col}`;
    const named = [
      `rule deny-all (${at(3)}): 1,681 identity pairs x 5 protocols`,
      `rule ping-all (${at(2)}): 1,681 identity pairs x 1 protocol`,
      `rule ssh-in (${at(1)}): 82 identity pairs x 1 protocol`,
    ];
    for (const n of named) expect(d.message).toContain(n);
    expect(d.message.indexOf(named[0])).toBeLessThan(d.message.indexOf(named[1]));
    expect(d.message.indexOf(named[1])).toBeLessThan(d.message.indexOf(named[2]));
    expect(d.message).not.toContain('rule one');
    expect(d.hint).toBe('narrow from/to of these rules, or replace a final catch-all rule with spec.defaultAction');

    // The same policy within the default budget: the bound was exact.
    const ir = buildIr(policy, fabric);
    expect(ir.cells.length).toBeGreaterThanOrEqual(8_405);
  });

  it('stops while emitting when first match splits rules beyond the estimate', () => {
    // Three separate ports: three cells a pair, while the bound counts one.
    const policy = hosts(40, [{ name: 'web', from: ['any'], to: ['any'], ports: [22, 80, 443].map((port) => ({ protocol: 'tcp' as const, port })), action: 'allow' }]);
    expect(buildIr(policy, fabric).cells.length).toBe(3 * 1_681);
    const d = refusal(() => buildIr(policy, fabric, { maxCells: 3_000 }));
    expect(d.code).toBe('ir-too-large');
    expect(d.span).toEqual(policy.rules[0].span);
    expect(d.message).toContain('more than the budget of 3,000 cells, reached at source identity 25 of 41 (estimated at least 1,681)');
    expect(d.message).toContain('rule web (test/policy.yaml:');
  });

  it('holds the budget exactly', () => {
    const policy = hosts(30, [
      { from: ['g1'], to: ['any'], ports: [{ protocol: 'tcp', port: '1-1000' }], action: 'allow' },
      { from: ['any'], to: ['g2', 'g3'], ports: [{ protocol: 'udp', port: 53 }, { protocol: 'tcp', port: 53 }], action: 'allow' },
      { from: ['any'], to: ['any'], action: 'deny' },
    ]);
    const cells = buildIr(policy, fabric).cells.length;
    expect(buildIr(policy, fabric, { maxCells: cells }).cells.length).toBe(cells);
    expect(refusal(() => buildIr(policy, fabric, { maxCells: cells - 1 })).code).toBe('ir-too-large');
  });

  it('estimates a lower bound on the cells and exact pair counts on generated policies', () => {
    let policies = 0;
    let bound = 0;
    let total = 0;
    for (let seed = 1; seed <= 45; seed++) {
      const { policy, fabric } = generateScenario(makeRng(seed), seed > 40 ? { rules: 120, groups: 30, endpoints: 200 } : {});
      const { identities } = buildIdentities(policy, fabric);
      const reach = ruleReach(policy.rules, identities);
      const est = estimateCells(
        policy.rules,
        policy.rules.map((r) => ruleShape(r.ports)),
        reach,
      );
      const cells = buildIr(policy, fabric).cells.length;
      expect({ seed, atLeast: Math.min(est.atLeast, cells) }).toEqual({ seed, atLeast: est.atLeast });
      bound += est.atLeast;
      total += cells;
      if (cells > 0) expect(est.atLeast).toBeGreaterThan(0);
      const pairs = new Float64Array(policy.rules.length);
      forEachPair(policy.rules, identities, (_s, _d, list) => {
        for (const r of list) pairs[r]++;
      });
      const estimated = new Float64Array(policy.rules.length);
      for (const c of est.costs) estimated[c.rule] = c.pairs;
      expect({ seed, pairs: [...estimated] }).toEqual({ seed, pairs: [...pairs] });
      policies++;
    }
    console.log(`cell estimate: ${policies} generated policies, lower bound ${bound} of ${total} cells`);
    expect(policies).toBe(45);
  });
});
