// Lab figures on the example lab: deploy, apply (every transport), probe and
// destroy times, the size of the probe matrix and its differences.

import { join, resolve } from 'node:path';
import { runE2e } from '../lab/e2e.ts';

export async function run(): Promise<Record<string, unknown>> {
  if (process.getuid?.() !== 0) return { skipped: 'the lab needs root' };
  const repo = resolve(import.meta.dirname, '..');
  const r = await runE2e({
    topologyPath: join(repo, 'lab/topologies/example.clab.yml'),
    policyPath: join(repo, 'examples/policy.yaml'),
    name: `bench${process.pid % 100000}`,
  });
  const s = (x: number | undefined): number | undefined => (x === undefined ? undefined : Number(x.toFixed(2)));
  return {
    'lab.example.deploySeconds': s(r.deploySeconds),
    'lab.example.applySeconds': s(r.apply?.seconds),
    'lab.example.devicesApplied': r.apply?.results.filter((x) => x.status === 'applied').length,
    'lab.example.probeSeconds': s(r.probe?.seconds),
    'lab.example.probeEndpoints': r.probe?.endpoints,
    'lab.example.probePairs': r.probe?.pairs,
    'lab.example.probeServices': r.probe?.services.length,
    'lab.example.probes': r.probe?.probes,
    'lab.example.probeDifferences': r.probe?.differences,
    'lab.example.destroySeconds': s(r.destroySeconds),
    'lab.example.e2eSeconds': s(r.totalSeconds),
  };
}
