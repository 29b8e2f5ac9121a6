// The stateful reference on hand-made exchanges, and its invariants on
// generated packet sequences.

import { describe, expect, it } from 'vitest';
import { ReferenceConntrack } from './stateful.ts';
import { ReferenceEvaluator } from './evaluator.ts';
import { flow, ip, makeFabric, makePolicy } from '../testing/build.ts';
import { generatePacketSequences, generateScenario, makeRng } from '../testing/generate.ts';
import type { Flow } from '../flow.ts';

const policy = makePolicy({
  groups: { web: { cidrs: ['10.0.0.0/24', 'fd00::/64'] }, db: { cidrs: ['10.0.1.0/24', 'fd01::/64'] } },
  rules: [
    { from: ['web'], to: ['db'], ports: [{ protocol: 'tcp', port: 5432 }, { protocol: 'udp', port: 53 }], action: 'allow' },
    { from: ['web'], to: ['db'], ports: [{ protocol: 'icmp', type: 8 }, { protocol: 'icmpv6', type: 128 }], action: 'allow' },
  ],
});
const fabric = makeFabric([]);

function tcp(src: string, sport: number, dst: string, dport: number, proto = 6): Flow {
  return { src: ip(src), dst: ip(dst), proto, sport, dport };
}

function echo(src: string, dst: string, type: number, id: number, proto = 1): Flow {
  return { ...flow(src, dst, proto, type, 0), icmpId: id };
}

describe('ReferenceConntrack', () => {
  it('carries replies of allowed TCP and UDP connections only', () => {
    const ct = new ReferenceConntrack(new ReferenceEvaluator(policy, fabric));
    expect(ct.packet(tcp('10.0.1.1', 5432, '10.0.0.1', 40000))).toBe('deny'); // reply before any request
    expect(ct.packet(tcp('10.0.0.1', 40000, '10.0.1.1', 5432))).toBe('allow');
    expect(ct.packet(tcp('10.0.1.1', 5432, '10.0.0.1', 40000))).toBe('allow');
    expect(ct.packet(tcp('10.0.1.1', 5432, '10.0.0.1', 40001))).toBe('deny'); // other port
    expect(ct.packet(tcp('10.0.1.1', 5432, '10.0.0.2', 40000))).toBe('deny'); // other host
    expect(ct.packet(tcp('10.0.1.1', 5432, '10.0.0.1', 40000, 17))).toBe('deny'); // other protocol
    expect(ct.packet(tcp('10.0.0.1', 40000, '10.0.1.1', 22))).toBe('deny');
    expect(ct.packet(tcp('10.0.1.1', 22, '10.0.0.1', 40000))).toBe('deny'); // reply of a denied flow
    expect(ct.packet(tcp('fd00::1', 5000, 'fd01::1', 53, 17))).toBe('allow');
    expect(ct.packet(tcp('fd01::1', 53, 'fd00::1', 5000, 17))).toBe('allow');
    expect(ct.size).toBe(2);
  });

  it('pairs ICMP echo replies with their request by id', () => {
    const ct = new ReferenceConntrack(new ReferenceEvaluator(policy, fabric));
    expect(ct.packet(echo('10.0.1.1', '10.0.0.1', 0, 7))).toBe('deny');
    expect(ct.packet(echo('10.0.0.1', '10.0.1.1', 8, 7))).toBe('allow');
    expect(ct.packet(echo('10.0.1.1', '10.0.0.1', 0, 7))).toBe('allow');
    expect(ct.packet(echo('10.0.1.1', '10.0.0.1', 0, 8))).toBe('deny'); // other id
    expect(ct.packet(echo('10.0.1.1', '10.0.0.2', 0, 7))).toBe('deny'); // other peer
    expect(ct.packet(echo('10.0.1.1', '10.0.0.1', 3, 7))).toBe('deny'); // not an echo reply
    expect(ct.packet(echo('fd00::1', 'fd01::1', 128, 9, 58))).toBe('allow');
    expect(ct.packet(echo('fd01::1', 'fd00::1', 129, 9, 58))).toBe('allow');
    expect(ct.packet(echo('fd01::1', 'fd00::1', 0, 9, 58))).toBe('deny'); // ICMPv4 reply type on ICMPv6
  });

  it('never denies what the policy allows, and passes some replies only through state', () => {
    let packets = 0;
    let viaState = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const rng = makeRng(seed);
      const { policy: p, fabric: f } = generateScenario(rng);
      const ev = new ReferenceEvaluator(p, f);
      const ct = new ReferenceConntrack(ev);
      for (const seq of generatePacketSequences(rng, p, f, 500)) {
        for (const pkt of seq) {
          packets++;
          const stateless = ev.verdict(pkt).verdict;
          const stateful = ct.packet(pkt);
          if (stateless === 'allow') expect(stateful).toBe('allow');
          else if (stateful === 'allow') viaState++;
        }
      }
    }
    console.log(`conntrack reference: ${packets} packets, ${viaState} allowed only through state`);
    expect(viaState).toBeGreaterThan(100);
  });
});
