// End to end on the example lab: deploy the example topology (P4 leaves on
// bmv2 when its tools are here, always under CI), apply the example policy
// over SSH, P4Runtime and gNMI from the lab's management namespace, probe
// every endpoint pair with real packets against the reference evaluator (0
// differences), destroy leaving nothing.

import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runE2e } from '../../lab/e2e.ts';
import { p4ToolsUnavailable } from '../p4/tools.ts';
import { labName, leftovers, requireLab } from './helpers.ts';

const repo = resolve(import.meta.dirname, '../..');
const enabled = requireLab();
// bmv2 when its tools are here (under CI a missing tool fails here), else the emulation, said so.
const p4 = enabled && p4ToolsUnavailable(['p4c-bm2-ss', 'simple_switch_grpc'], { root: true }) === undefined ? 'bmv2' : 'emulated';

describe.runIf(enabled)('example lab end to end', () => {
  it('deploys, applies the example policy, probes with 0 differences and destroys', async () => {
    const lab = labName('e');
    const lines: string[] = [];
    const r = await runE2e({
      topologyPath: join(repo, 'lab/topologies/example.clab.yml'),
      policyPath: join(repo, 'examples/policy.yaml'),
      name: lab,
      p4,
      say: (l) => lines.push(l),
    });
    expect(r.p4Switch).toBe(p4 === 'bmv2' ? 'bmv2' : 'emulation');
    const failed = r.apply?.results.filter((x) => x.status === 'failed') ?? [];
    expect(failed.map((x) => `${x.device}: ${x.detail}`)).toEqual([]);
    expect(r.apply?.results.length).toBeGreaterThan(0);
    expect(r.probe?.probes).toBeGreaterThan(1000);
    const diffs = r.probe?.cells.filter((c) => c.expected !== c.observed).map((c) => `${c.src}->${c.dst} ${c.dstAddr} ${c.service}: expected ${c.expected}`) ?? ['no probe'];
    expect(diffs.slice(0, 20)).toEqual([]);
    expect(r.ok).toBe(true);
    // monitor-1 plugs straight into leaf2 (a P4 leaf, exact on that port): what it may not send, the leaf drops.
    expect(r.probe?.drops.find((d) => d.device === 'leaf2')?.probes ?? 0).toBeGreaterThan(0);
    expect(leftovers(lab)).toEqual([]);
    console.log(lines.at(-1));
    console.log(`lab e2e (P4 leaves on ${r.p4Switch}): ${r.probe?.probes} probes (${r.probe?.pairs} pairs x ${r.probe?.services.length} services), ${r.probe?.differences} differences, total ${r.totalSeconds.toFixed(1)}s`);
  }, 600_000);
});
