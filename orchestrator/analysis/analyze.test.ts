// The analysis against brute force: on small generated policies, evaluate a
// covering set of flows (one address per class of equal group membership,
// every port and ICMP edge) with the reference evaluator, with and without
// each rule, and compare with what the analysis reports.

import { describe, expect, it } from 'vitest';
import { analyze } from './analyze.ts';
import { buildIr } from '../ir/build.ts';
import { ReferenceEvaluator } from '../reference/evaluator.ts';
import { generateScenario, makeRng } from '../testing/generate.ts';
import { makeFabric, makePolicy } from '../testing/build.ts';
import { cidrRange, type Family, type IpAddr } from '../net/ip.ts';
import type { Policy } from '../policy/model.ts';
import type { Fabric } from '../../inventory/model.ts';
import type { Flow } from '../flow.ts';

/** One address per membership class, found among every edge of every prefix. */
function representatives(policy: Policy, fabric: Fabric, ref: ReferenceEvaluator): IpAddr[] {
  const cand: IpAddr[] = [];
  const max: Record<Family, bigint> = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n };
  const add = (family: Family, v: bigint): void => {
    if (v >= 0n && v <= max[family]) cand.push({ family, value: v });
  };
  for (const f of [4, 6] as const) {
    add(f, 0n);
    add(f, max[f]);
  }
  for (const ep of fabric.endpoints) for (const a of ep.addresses) cand.push(a);
  for (const g of policy.groups.values()) {
    for (const c of [...g.cidrs, ...g.except]) {
      const { lo, hi } = cidrRange(c);
      for (const v of [lo, hi, lo - 1n, hi + 1n]) add(c.family, v);
    }
  }
  const bySig = new Map<string, IpAddr>();
  for (const a of cand) {
    const sig = `${a.family}|${ref.groupsOf(a).join(',')}`;
    if (!bySig.has(sig)) bySig.set(sig, a);
  }
  return [...bySig.values()];
}

function keys(policy: Policy): { ports: number[]; icmp: [number, number][] } {
  const ports = new Set([0, 65535]);
  const types = new Set([0, 255]);
  const codes = new Set([0, 255]);
  for (const r of policy.rules) {
    for (const m of r.ports) {
      if (m.protocol === 'tcp' || m.protocol === 'udp') for (const p of [m.lo, m.hi, m.lo - 1, m.hi + 1]) if (p >= 0 && p <= 65535) ports.add(p);
      if (m.protocol === 'icmp' || m.protocol === 'icmpv6') {
        for (const t of m.type === undefined ? [] : [m.type - 1, m.type, m.type + 1]) if (t >= 0 && t <= 255) types.add(t);
        for (const c of m.code === undefined ? [] : [m.code - 1, m.code, m.code + 1]) if (c >= 0 && c <= 255) codes.add(c);
      }
    }
  }
  const icmp: [number, number][] = [];
  for (const t of types) for (const c of codes) icmp.push([t, c]);
  return { ports: [...ports], icmp };
}

function* coveringFlows(policy: Policy, fabric: Fabric, ref: ReferenceEvaluator): Generator<Flow> {
  const reps = representatives(policy, fabric, ref);
  const { ports, icmp } = keys(policy);
  for (const s of reps) {
    for (const d of reps) {
      if (s.family !== d.family) continue;
      for (const proto of [6, 17]) for (const p of ports) yield { src: s, dst: d, proto, sport: 1, dport: p };
      for (const proto of [1, 58]) for (const [t, c] of icmp) yield { src: s, dst: d, proto, sport: 0, dport: 0, icmpType: t, icmpCode: c };
      yield { src: s, dst: d, proto: 47, sport: 0, dport: 0 };
    }
  }
}

interface Brute {
  shadowed: Set<string>;
  redundant: Set<string>;
  emptyGroups: Set<string>;
  flows: number;
}

function bruteForce(policy: Policy, fabric: Fabric): Brute {
  const ref = new ReferenceEvaluator(policy, fabric);
  const without = policy.rules.map((r) => new ReferenceEvaluator({ ...policy, rules: policy.rules.filter((x) => x !== r) }, fabric));
  const decides = new Uint8Array(policy.rules.length);
  const needed = new Uint8Array(policy.rules.length);
  let flows = 0;
  for (const f of coveringFlows(policy, fabric, ref)) {
    flows++;
    const v = ref.verdict(f);
    if (v.rule < 0) continue;
    decides[v.rule] = 1;
    if (!needed[v.rule] && without[v.rule].verdict(f).verdict !== v.verdict) needed[v.rule] = 1;
  }
  const emptyGroups = new Set<string>();
  const reps = representatives(policy, fabric, ref);
  for (const g of policy.groups.keys()) if (!reps.some((a) => ref.groupsOf(a).includes(g))) emptyGroups.add(g);
  const shadowed = new Set<string>();
  const redundant = new Set<string>();
  for (const r of policy.rules) {
    if (!decides[r.index]) shadowed.add(r.name);
    else if (!needed[r.index]) redundant.add(r.name);
  }
  return { shadowed, redundant, emptyGroups, flows };
}

function reported(policy: Policy, fabric: Fabric): Brute {
  const ds = analyze(policy, fabric, buildIr(policy, fabric));
  const out: Brute = { shadowed: new Set(), redundant: new Set(), emptyGroups: new Set(), flows: 0 };
  for (const d of ds) {
    expect(d.severity).toBe('warning');
    expect(d.span?.line).toBeGreaterThan(0);
    const name = /^(?:rule|group) (\S+)/.exec(d.message)?.[1] ?? '';
    if (d.code === 'shadowed-rule') out.shadowed.add(name);
    else if (d.code === 'redundant-rule') out.redundant.add(name);
    else if (d.code === 'empty-group') {
      // A rule over empty groups never matches: brute force sees it as shadowed.
      if (d.message.startsWith('rule ')) out.shadowed.add(name);
      else out.emptyGroups.add(name);
    }
  }
  return out;
}

describe('analyze', () => {
  it('reports shadowed, redundant and empty-group exactly as brute force finds them', () => {
    let flows = 0;
    let findings = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const rng = makeRng(seed);
      const { policy, fabric } = generateScenario(rng, { rules: rng.int(6, 14), groups: rng.int(3, 6), endpoints: rng.int(6, 14) });
      const want = bruteForce(policy, fabric);
      const got = reported(policy, fabric);
      flows += want.flows;
      findings += want.shadowed.size + want.redundant.size + want.emptyGroups.size;
      expect({ seed, shadowed: [...got.shadowed].sort() }).toEqual({ seed, shadowed: [...want.shadowed].sort() });
      expect({ seed, redundant: [...got.redundant].sort() }).toEqual({ seed, redundant: [...want.redundant].sort() });
      expect({ seed, empty: [...got.emptyGroups].sort() }).toEqual({ seed, empty: [...want.emptyGroups].sort() });
    }
    console.log(`analysis verify: 40 policies, ${flows} flows, ${findings} findings`);
    expect(findings).toBeGreaterThan(20);
  });

  it('explains each finding on a hand-made policy', () => {
    const policy = makePolicy({
      defaultAction: 'deny',
      groups: {
        web: { selector: { app: 'web' } },
        ghost: { selector: { app: 'ghost' } },
        hollow: { cidrs: ['10.9.0.0/24'], except: ['10.9.0.0/24'] },
        v6only: { cidrs: ['fd00::/64'] },
      },
      rules: [
        { name: 'web-https', from: ['any'], to: ['web'], ports: [{ protocol: 'tcp', port: 443 }], action: 'allow' },
        { name: 'web-https-again', from: ['any'], to: ['web'], ports: [{ protocol: 'tcp', port: 443 }], action: 'allow' },
        { name: 'to-ghost', from: ['any'], to: ['ghost', 'hollow'], action: 'allow' },
        { name: 'deny-ssh', from: ['any'], to: ['web'], ports: [{ protocol: 'tcp', port: 22 }], action: 'deny' },
        { name: 'mixed', from: ['v6only'], to: ['web'], action: 'allow' },
      ],
    });
    const fabric = makeFabric([{ name: 'w1', addresses: ['10.0.0.1'], labels: { app: 'web' } }]);
    const ds = analyze(policy, fabric, buildIr(policy, fabric));
    const lines = ds.map((d) => `${d.code} ${d.span?.line} ${d.message}`);
    expect(lines).toEqual([
      'empty-group 2 group ghost resolves to no address',
      'empty-group 3 group hollow resolves to no address',
      // Each of two identical rules is redundant alone; the second can never match.
      'redundant-rule 6 rule web-https is redundant: without it every flow it decides gets the same verdict (allow) from later rules or the default',
      'shadowed-rule 7 rule web-https-again is shadowed: earlier rules decide every flow it matches (web-https)',
      'empty-group 8 rule to-ghost never matches: its to groups resolve to no address',
      'redundant-rule 9 rule deny-ssh is redundant: without it every flow it decides gets the same verdict (deny) from later rules or the default',
      'shadowed-rule 10 rule mixed never matches: its sources and destinations share no address family',
    ]);
  });
});
