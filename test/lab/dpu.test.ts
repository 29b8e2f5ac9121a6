// DPUs and SmartNICs in the wire, for real: deploy lab/topologies/dpu-wire
// (a BlueField DPU in front of a host without an agent, an NFP SmartNIC in
// front of a host with one, and a client on a host without an agent), apply
// a policy through the rollout, and check that each DPU runs its artefact on
// both of its ports, that probes match the reference, and that a denied probe
// towards the host behind the DPU moves the DPU's own counter for the deciding
// rule and is attributed to the DPU.

import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { labApply } from '../../lab/apply.ts';
import { readAgentStatus, ruleHits } from '../../lab/agent-status.ts';
import { deploy, destroy } from '../../lab/emulator.ts';
import { formatProbe, probeLab } from '../../lab/probe.ts';
import { readState, type LabState } from '../../lab/state.ts';
import { loadTopology } from '../../lab/topology.ts';
import { labName, leftovers, requireLab } from './helpers.ts';

const repo = resolve(import.meta.dirname, '../..');
const topology = join(repo, 'lab/topologies/dpu-wire.clab.yml');
const policyPath = join(repo, 'test/fixtures/lab-dpu/policy.yaml');
const enabled = requireLab();

describe.runIf(enabled)('DPUs in the wire of a lab', () => {
  it('loads each DPU artefact on its ports and attributes a denied probe to the DPU by its counters', async () => {
    const lab = labName('dpu');
    try {
      await deploy(loadTopology(topology), { name: lab });
      const applied = await labApply({ lab, policyPath });
      expect(applied.results.filter((r) => r.status === 'failed').map((r) => `${r.device}: ${r.detail}`)).toEqual([]);
      // Hosts without an agent get nothing; both DPUs and host3 run the agent.
      expect(applied.results.map((r) => r.device).sort()).toEqual(['dpu2', 'host3', 'leaf1', 'nic3']);
      const byName = new Map(applied.dpus.map((d) => [d.device, d]));
      expect(byName.get('dpu2')).toMatchObject({ kind: 'dpu', profile: 'bluefield', mode: 'exact', generation: 1 });
      expect(byName.get('nic3')).toMatchObject({ kind: 'smartnic', profile: 'nfp', mode: 'prefilter', generation: 1 });
      for (const d of applied.dpus) {
        // Host-facing and uplink port both carry the artefact, and every attach point is live.
        expect(new Set(d.attach.map((a) => a.iface))).toEqual(new Set(['eth1', 'eth2']));
        expect(d.attach.filter((a) => !a.attached)).toEqual([]);
      }

      const state = readState(lab) as LabState;
      const before = ruleHits(await readAgentStatus(state, 'dpu2'));
      const report = await probeLab({ lab, policyPath, seed: 1, extraPorts: 2 });
      const after = ruleHits(await readAgentStatus(state, 'dpu2'));
      console.log(formatProbe(report).split('\n').filter((l) => l.startsWith('dropped') || l.startsWith('probe')).join('\n'));
      expect(report.cells.filter((c) => c.expected !== c.observed).map((c) => `${c.src}->${c.dstAddr} ${c.service}`)).toEqual([]);

      // client-1's host runs no agent and leaf1 only prefilters deny rules: the default deny towards app-1 (5432 is db-1's port) is dpu2's.
      const denied = report.cells.find((c) => c.src === 'client-1' && c.dst === 'app-1' && c.family === 4 && c.service === 'tcp/5432');
      expect(denied).toMatchObject({ expected: false, observed: false, rule: -1, droppedAt: { device: 'dpu2', kind: 'dpu', by: 'counters' } });
      const toDpu = report.cells.filter((c) => c.droppedAt?.device === 'dpu2' && c.rule === -1).length;
      const moved = (after.get(-1) ?? 0n) - (before.get(-1) ?? 0n);
      expect(toDpu).toBeGreaterThan(0);
      expect(moved).toBeGreaterThanOrEqual(BigInt(toDpu));
      expect(report.drops.find((d) => d.device === 'dpu2')).toMatchObject({ kind: 'dpu', by: 'counters', hits: { default: Number(moved) } });
      expect(report.unattributed).toBe(0);
      console.log(`lab dpu: ${report.probes} probes, 0 differences; dpu2 dropped ${toDpu} denied probes by default deny (its counter +${moved})`);
    } finally {
      await destroy(lab);
    }
    expect(leftovers(lab)).toEqual([]);
  }, 600_000);
});
