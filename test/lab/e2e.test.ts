// End to end on the example lab: deploy the example topology, apply the
// example policy over SSH, P4Runtime and gNMI from the lab's management
// namespace, probe every endpoint pair with real packets against the
// reference evaluator (0 differences), destroy leaving nothing.

import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runE2e } from '../../lab/e2e.ts';
import { labName, leftovers, requireLab } from './helpers.ts';

const repo = resolve(import.meta.dirname, '../..');
const enabled = requireLab();

describe.runIf(enabled)('example lab end to end', () => {
  it('deploys, applies the example policy, probes with 0 differences and destroys', async () => {
    const lab = labName('e');
    const lines: string[] = [];
    const r = await runE2e({
      topologyPath: join(repo, 'lab/topologies/example.clab.yml'),
      policyPath: join(repo, 'examples/policy.yaml'),
      name: lab,
      say: (l) => lines.push(l),
    });
    const failed = r.apply?.results.filter((x) => x.status === 'failed') ?? [];
    expect(failed.map((x) => `${x.device}: ${x.detail}`)).toEqual([]);
    expect(r.apply?.results.length).toBeGreaterThan(0);
    expect(r.probe?.probes).toBeGreaterThan(1000);
    const diffs = r.probe?.cells.filter((c) => c.expected !== c.observed).map((c) => `${c.src}->${c.dst} ${c.dstAddr} ${c.service}: expected ${c.expected}`) ?? ['no probe'];
    expect(diffs.slice(0, 20)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(leftovers(lab)).toEqual([]);
    console.log(lines.at(-1));
    console.log(`lab e2e: ${r.probe?.probes} probes (${r.probe?.pairs} pairs x ${r.probe?.services.length} services), ${r.probe?.differences} differences, total ${r.totalSeconds.toFixed(1)}s`);
  }, 600_000);
});
