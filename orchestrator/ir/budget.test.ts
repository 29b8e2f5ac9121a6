// The share budget: a device whose share would not fit is refused with
// 'share-too-large' before any cell is made, naming the device and the rules
// that cost the most; catch-all rules cost one triple per local; and the
// estimate counts what a brute-force walk over every rule counts.

import { describe, expect, it } from 'vitest';
import { InputError, type Diagnostic } from '../diagnostics.ts';
import { generateScenario, makeRng } from '../testing/generate.ts';
import { makeFabric, makePolicy, type RuleSpec } from '../testing/build.ts';
import type { Policy } from '../policy/model.ts';
import { buildIr } from './build.ts';
import { checkShareBudget, estimateShare } from './budget.ts';
import { IrLookup } from './lookup.ts';
import { shareCells } from './share.ts';

/** `count` single-address groups g0..: with world, count + 1 identities. */
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
const many = (n: number): string[] => Array.from({ length: n }, (_, i) => `g${i + 1}`);

describe('share budget', () => {
  it('refuses a device whose share is too large, naming the device and the costliest rules in order', () => {
    const policy = hosts(400, [
      { name: 'one', from: ['g0'], to: ['g3'], ports: [{ protocol: 'tcp', port: 80 }], action: 'allow' },
      { name: 'to-many', from: ['g0'], to: many(300), ports: [{ protocol: 'tcp', port: 22 }, { protocol: 'udp', port: 53 }], action: 'allow' },
      { name: 'from-many', from: many(200), to: ['g0'], ports: [{ protocol: 'icmp', type: 8 }], action: 'allow' },
      { name: 'deny-all', from: ['any'], to: ['any'], action: 'deny' },
    ]);
    const ir = buildIr(policy, fabric);
    const g0 = new IrLookup(ir).identityOf({ family: 4, value: 10n << 24n });
    const span = { file: 'fabric.yaml', line: 7, col: 5 };
    const d = refusal(() => checkShareBudget(ir, { name: 'host1', span }, [g0], 500));
    expect(d.code).toBe('share-too-large');
    expect(d.severity).toBe('error');
    expect(d.span).toEqual(policy.rules[1].span);
    // to-many: 300 remotes x 2 protocols; from-many: 200 x 1; one: 1; deny-all: 5 per direction.
    expect(d.message).toContain('device host1 (fabric.yaml:7:5)');
    expect(d.message).toContain(`up to ${(600 + 200 + 1 + 10).toLocaleString('en-US')} (remote identity, rule, protocol) triples`);
    const at = (i: number): string => `${policy.rules[i].span.file}:${policy.rules[i].span.line}:${policy.rules[i].span.col}`;
    const named = [`rule to-many (${at(1)}): 600`, `rule from-many (${at(2)}): 200`, `rule deny-all (${at(3)}): 10`];
    for (const n of named) expect(d.message).toContain(n);
    expect(d.message.indexOf(named[0])).toBeLessThan(d.message.indexOf(named[1]));
    expect(d.message.indexOf(named[1])).toBeLessThan(d.message.indexOf(named[2]));
    expect(checkShareBudget(ir, { name: 'host1' }, [g0], 811).triples).toBe(811);
  });

  it('charges a catch-all rule one triple per protocol and local, however many identities exist', () => {
    const policy = hosts(4000, [
      { name: 'ping-all', from: ['any'], to: ['any'], ports: [{ protocol: 'icmp', type: 8 }], action: 'allow' },
      { name: 'deny-all', from: ['any'], to: ['any'], action: 'deny' },
    ]);
    const ir = buildIr(policy, fabric);
    const locals = ir.identities.slice(0, 10).map((i) => i.id);
    expect(estimateShare(ir, locals).triples).toBe(10 * 2 * (1 + 5));
    let cells = 0;
    for (const dir of ['egress', 'ingress'] as const) for (const _ of shareCells(ir, locals, dir)) cells++;
    // Per local and direction: icmp 0-0x7ff deny, 0x800-0x8ff allow, the rest deny; four other protocols deny.
    expect(cells).toBe(10 * 2 * (3 + 4));
  });

  it('counts what a walk over every rule and identity counts on generated shares', () => {
    let shares = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const rng = makeRng(seed);
      const { policy, fabric: f } = generateScenario(rng);
      const ir = buildIr(policy, f);
      const locals = ir.identities.filter(() => rng.chance(0.3));
      // Brute force: every rule, every local it holds on one side, every group on the other.
      let want = 0;
      for (const r of ir.rules) {
        const protocols = r.services.filter((l) => l.length > 0).length;
        const holds = (side: typeof r.from, groups: string[]): boolean => side === 'any' || side.groups.some((g) => groups.includes(g));
        const size = (side: typeof r.from): number =>
          side === 'any' ? 1 : side.groups.reduce((n, g) => n + ir.identities.filter((i) => i.groups.includes(g)).length, 0);
        for (const l of locals) {
          if (holds(r.from, l.groups)) want += size(r.to) * protocols;
          if (holds(r.to, l.groups)) want += size(r.from) * protocols;
        }
      }
      const est = estimateShare(ir, locals.map((i) => i.id));
      expect(est.triples).toBe(want);
      expect(est.costs.reduce((a, c) => a + c.triples, 0)).toBe(est.triples);
      shares++;
    }
    expect(shares).toBe(20);
  });
});
