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
      services: ['tcp/22', 'ping'],
      probes: 2,
      differences: 1,
      seconds: 1,
      cells: [
        { ...cell, service: 'tcp/22', expected: true, observed: true },
        { ...cell, service: 'ping', expected: false, observed: true },
      ],
    };
    const text = formatProbe(r).split('\n');
    expect(text.some((l) => /^a -> b v4 +A\. {2}A!$/.test(l))).toBe(true);
    expect(text.at(-2)).toBe('difference: a (10.0.0.1) -> b (10.0.0.2) ping: expected deny (no-ping), observed allow');
    expect(text.at(-1)).toMatch(/^probe x: 2 probes \(1 endpoint pairs x 2 services.*1 differences/);
  });
});
