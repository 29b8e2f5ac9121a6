// The generators: deterministic from a seed, and rich enough that the
// differential tests built on them exercise every feature of the policy.

import { describe, expect, it } from 'vitest';
import { generateFlows, generatePacketSequences, generateScenario, makeRng } from './generate.ts';

describe('generators', () => {
  it('are deterministic for a seed', () => {
    const a = makeRng(42);
    const b = makeRng(42);
    const sa = generateScenario(a);
    const sb = generateScenario(b);
    expect(sa.policy.digest).toBe(sb.policy.digest);
    expect(sa.fabric.digest).toBe(sb.fabric.digest);
    const fa = generateFlows(a, sa.policy, sa.fabric, 200);
    const fb = generateFlows(b, sb.policy, sb.fabric, 200);
    expect(fa).toEqual(fb);
    expect(generateScenario(makeRng(43)).policy.digest).not.toBe(sa.policy.digest);
  });

  it('makes integers within bounds, covering both ends', () => {
    const rng = makeRng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const v = rng.int(-2, 3);
      expect(v).toBeGreaterThanOrEqual(-2);
      expect(v).toBeLessThanOrEqual(3);
      seen.add(v);
    }
    expect(seen.size).toBe(6);
    for (let i = 0; i < 200; i++) {
      const v = rng.bigint(5n, 9n);
      expect(v >= 5n && v <= 9n).toBe(true);
    }
  });

  it('covers every feature over a few seeds', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      const rng = makeRng(seed);
      const { policy, fabric } = generateScenario(rng);
      for (const g of policy.groups.values()) {
        if (g.selector) seen.add('selector');
        if (g.except.length > 0) seen.add('except');
        if (g.cidrs.some((c) => c.family === 6)) seen.add('ipv6-cidr');
      }
      for (const r of policy.rules) {
        if (r.from.some((p) => p.kind === 'any') || r.to.some((p) => p.kind === 'any')) seen.add('any');
        if (r.ports.length === 0) seen.add('no-ports');
        for (const m of r.ports) {
          seen.add(m.protocol);
          if ((m.protocol === 'tcp' || m.protocol === 'udp') && m.hi > m.lo) seen.add('range');
          if ((m.protocol === 'icmp' || m.protocol === 'icmpv6') && m.code !== undefined) seen.add('icmp-code');
        }
        if (r.section) seen.add('section');
        expect(r.index).toBe(policy.rules.indexOf(r));
      }
      if (policy.defaultAction === 'allow') seen.add('default-allow');
      for (const ep of fabric.endpoints) {
        seen.add(ep.host ? 'managed' : 'unmanaged');
        if (ep.addresses.some((a) => a.family === 6)) seen.add('ipv6-endpoint');
      }
      for (const f of generateFlows(rng, policy, fabric, 300)) {
        expect(f.src.family).toBe(f.dst.family);
        seen.add(`proto-${f.proto}`);
      }
      for (const seq of generatePacketSequences(rng, policy, fabric, 50)) expect(seq.length).toBeGreaterThan(0);
    }
    const want = ['selector', 'except', 'ipv6-cidr', 'any', 'no-ports', 'tcp', 'udp', 'icmp', 'icmpv6', 'range', 'icmp-code', 'section', 'default-allow', 'managed', 'unmanaged', 'ipv6-endpoint', 'proto-6', 'proto-17', 'proto-1', 'proto-58', 'proto-47'];
    expect(want.filter((w) => !seen.has(w))).toEqual([]);
  });
});
