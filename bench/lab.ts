// Lab figures on the example lab, run twice in one go so they compare on the
// same machine: P4 leaves on the nftables emulation, then on bmv2 (when
// simple_switch_grpc is here). Each run: deploy, apply (every transport),
// probe and destroy times, the probe matrix's size and differences, and the
// CPU seconds the run cost this process and every process it started and
// reaped (bmv2, daemons, agents: /proc/self/stat utime+stime+cutime+cstime).

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runE2e } from '../lab/e2e.ts';
import type { P4Choice } from '../lab/p4-leaves.ts';
import { findP4Tool } from '../targets/p4/p4c.ts';

/** CPU seconds of this process and its reaped children (Linux clock ticks are 1/100 s). */
function cpuSecondsWithChildren(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  // Fields 14-17 of proc(5) (utime, stime, cutime, cstime); the split starts at field 3.
  return fields.slice(11, 15).reduce((a, f) => a + Number(f), 0) / 100;
}

async function one(repo: string, p4: P4Choice): Promise<Record<string, unknown>> {
  const cpu0 = cpuSecondsWithChildren();
  const r = await runE2e({
    topologyPath: join(repo, 'lab/topologies/example.clab.yml'),
    policyPath: join(repo, 'examples/policy.yaml'),
    name: `bench${process.pid % 100000}${p4[0]}`,
    p4,
  });
  const s = (x: number | undefined): number | undefined => (x === undefined ? undefined : Number(x.toFixed(2)));
  const k = `lab.example.${p4 === 'bmv2' ? 'bmv2' : 'emulation'}`;
  return {
    [`${k}.p4Leaves`]: r.p4Switch,
    [`${k}.deploySeconds`]: s(r.deploySeconds),
    [`${k}.applySeconds`]: s(r.apply?.seconds),
    [`${k}.devicesApplied`]: r.apply?.results.filter((x) => x.status === 'applied').length,
    [`${k}.probeSeconds`]: s(r.probe?.seconds),
    [`${k}.probeEndpoints`]: r.probe?.endpoints,
    [`${k}.probePairs`]: r.probe?.pairs,
    [`${k}.probeServices`]: r.probe?.services.length,
    [`${k}.probes`]: r.probe?.probes,
    [`${k}.probeDifferences`]: r.probe?.differences,
    [`${k}.destroySeconds`]: s(r.destroySeconds),
    [`${k}.e2eSeconds`]: s(r.totalSeconds),
    [`${k}.e2eCpuSecondsWithChildren`]: s(cpuSecondsWithChildren() - cpu0),
  };
}

export async function run(): Promise<Record<string, unknown>> {
  if (process.getuid?.() !== 0) return { skipped: 'the lab needs root' };
  const repo = resolve(import.meta.dirname, '..');
  const emulation = await one(repo, 'emulated');
  if (!findP4Tool('simple_switch_grpc')) return { ...emulation, 'lab.example.bmv2': 'skipped: simple_switch_grpc not found' };
  return { ...emulation, ...(await one(repo, 'bmv2')) };
}
