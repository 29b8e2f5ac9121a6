// The probed services: every port the example policy names, range edges
// included, a seeded sample of others, and ping; and the printed matrix.

import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../orchestrator/policy/load.ts';
import { formatProbe, probeServices, serviceName, type ProbeReport } from './probe.ts';

const repo = resolve(import.meta.dirname, '..');

describe('probeServices', () => {
  const policy = loadPolicy(join(repo, 'examples/policy.yaml'));

  it('takes every named port and range edge, plus a seeded sample', () => {
    const s = probeServices(policy, 1, 2).map(serviceName);
    for (const want of ['tcp/22', 'tcp/23', 'tcp/443', 'tcp/8080', 'tcp/8089', 'tcp/9100', 'tcp/9199', 'tcp/5433', 'udp/161', 'udp/30000', 'udp/32767', 'udp/2049', 'ping']) {
      expect(s).toContain(want);
    }
    expect(s).not.toContain('tcp/8085');
    expect(probeServices(policy, 1, 2)).toEqual(probeServices(policy, 1, 2));
    const extra = (seed: number): string[] => probeServices(policy, seed, 2).map(serviceName).filter((x) => !probeServices(policy, seed, 0).map(serviceName).includes(x));
    expect(extra(1)).toHaveLength(4);
    expect(extra(1)).not.toEqual(extra(2));
  });
});

describe('formatProbe', () => {
  it('marks differences and ends with the summary line', () => {
    const cell = { src: 'a', dst: 'b', family: 4 as const, srcAddr: '10.0.0.1', dstAddr: '10.0.0.2', rule: 3, ruleName: 'no-ping' };
    const r: ProbeReport = {
      lab: 'x',
      endpoints: 2,
      pairs: 1,
      services: ['tcp/22', 'ping', 'udp/53', 'tcp/80'],
      probes: 4,
      differences: 1,
      seconds: 1,
      cells: [
        { ...cell, service: 'tcp/22', expected: true, observed: true },
        { ...cell, service: 'ping', expected: false, observed: true },
        { ...cell, service: 'udp/53', expected: false, observed: false, droppedAt: { device: 'dpu1', kind: 'dpu', by: 'counters' } },
        { ...cell, service: 'tcp/80', expected: false, observed: false },
      ],
      drops: [{ device: 'dpu1', kind: 'dpu', by: 'counters', probes: 1, hits: { 'no-ping': 1 } }],
      unattributed: 1,
    };
    const text = formatProbe(r).split('\n');
    // Blocked as expected: d where a DPU dropped it, . where nothing accounts for it.
    expect(text.some((l) => /^a -> b v4 +A\.\.\. {2}A!d\.$/.test(l))).toBe(true);
    expect(text.at(-4)).toBe('difference: a (10.0.0.1) -> b (10.0.0.2) ping: expected deny (no-ping), observed allow');
    expect(text.at(-3)).toBe('dropped at dpu1 (dpu): 1 probes; its rule counters moved: no-ping +1');
    expect(text.at(-2)).toBe('dropped where no counter or placement accounts for it: 1 probes');
    expect(text.at(-1)).toMatch(/^probe x: 4 probes \(1 endpoint pairs x 4 services.*1 differences/);
  });
});
