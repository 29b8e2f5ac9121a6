// The two-leaf lab with its P4 leaf on bmv2 (simple_switch_grpc running p4c's
// weft.p4): deploy starts it on the leaf's veths with the gRPC server on the
// management address and fills the forwarding stage from the topology;
// `weft lab apply` pushes the policy through the normal P4 driver and leaves
// the forwarding stage and the pipeline alone; probes agree with the
// reference before and after a policy change; destroy leaves nothing, also
// when the leaf's namespace vanished under a running bmv2.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { labApply } from '../../lab/apply.ts';
import { deploy, destroy } from '../../lab/emulator.ts';
import { probeLab, type ProbeReport } from '../../lab/probe.ts';
import { labDir, netnsName, readState, type LabState } from '../../lab/state.ts';
import { loadTopology } from '../../lab/topology.ts';
import { nodeEntry } from '../../orchestrator/package-root.ts';
import { p4ToolsUnavailable } from '../p4/tools.ts';
import { labName, leftovers, netnsExec, requireLab } from './helpers.ts';
import { processAlive as alive } from '../../orchestrator/process-alive.ts';

const repo = resolve(import.meta.dirname, '../..');
const twoLeaf = join(repo, 'lab/topologies/two-leaf.clab.yml');
const policy = join(repo, 'test/fixtures/lab-two-leaf/policy.yaml');
const enabled = requireLab() && p4ToolsUnavailable(['p4c-bm2-ss', 'simple_switch_grpc'], { root: true }) === undefined;
const made: string[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'weft-lab-bmv2-'));

afterAll(async () => {
  for (const lab of made) await destroy(lab);
  rmSync(scratch, { recursive: true, force: true });
});

interface LeafTables {
  l2: number;
  l2Keys: string[];
  policy: number;
  cookie?: string;
}

/** What leaf1's bmv2 holds, read over P4Runtime from the lab's management namespace. */
function leafTables(state: LabState): LeafTables {
  const leaf = state.nodes.find((n) => n.name === 'leaf1')!;
  const r = netnsExec(state.mgmtNetns, [process.execPath, ...nodeEntry('test/lab/bmv2-tables.run.ts'), `${leaf.mgmtIpv4}:${leaf.agentPort}`, '1']);
  if (r.code !== 0) throw new Error(`reading leaf1's tables: ${r.err}`);
  return JSON.parse(r.out) as LeafTables;
}


const differences = (r: ProbeReport): string[] => r.cells.filter((c) => c.expected !== c.observed).map((c) => `${c.src}->${c.dst} ${c.dstAddr} ${c.service}: expected ${c.expected}`);

describe.runIf(enabled)('the two-leaf lab with its P4 leaf on bmv2', () => {
  it('deploys bmv2, applies, probes with 0 differences, changes the policy, probes again and destroys leaving nothing', async () => {
    const lab = labName('b');
    made.push(lab);
    const state = await deploy(loadTopology(twoLeaf), { name: lab, p4: 'bmv2' });
    expect(state.p4).toEqual({ kind: 'bmv2', reason: 'chosen with --p4 bmv2' });
    expect(state.nodes.find((n) => n.name === 'leaf1')?.p4Switch).toBe('bmv2');
    const sw = state.processes.filter((p) => p.node === 'leaf1' && p.service !== 'snmpd' && p.service !== 'lldpd');
    expect(sw.map((p) => p.service)).toEqual(['bmv2']);
    const cmdline = readFileSync(`/proc/${sw[0].pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline[0]).toBe(`${netnsName(lab, 'leaf1')}/simple_switch_grpc`);
    expect(cmdline.join(' ')).toContain(`--grpc-server-addr ${state.nodes.find((n) => n.name === 'leaf1')?.mgmtIpv4}:9559`);
    expect(sw[0].log.startsWith(labDir(lab))).toBe(true);

    // The inventory points the leaf at its server and at the device config it runs.
    const inv = parseYaml(readFileSync(state.inventory!, 'utf8')) as { spec: { devices: { name: string; mgmt: { p4runtime?: { deviceConfig?: string } } }[] } };
    const ref = inv.spec.devices.find((d) => d.name === 'leaf1')?.mgmt.p4runtime?.deviceConfig;
    expect(ref).toBe('p4/weft.json');
    expect(existsSync(join(labDir(lab), ref!))).toBe(true);

    // Forwarding stage from the topology: ep-a and ep-b, plus the 16 link-local drops; no policy yet.
    const deployed = leafTables(state);
    expect(deployed).toMatchObject({ l2: 18, policy: 0 });

    const applied = await labApply({ lab, policyPath: policy });
    expect(applied.results.filter((r) => r.status === 'failed').map((r) => `${r.device}: ${r.detail}`)).toEqual([]);
    const leaf1 = applied.results.find((r) => r.device === 'leaf1');
    expect(leaf1?.status).toBe('applied');
    expect(leaf1?.detail).not.toMatch(/pipeline set/);
    const afterApply = leafTables(state);
    expect(afterApply.policy).toBeGreaterThan(0);
    expect(afterApply.l2Keys).toEqual(deployed.l2Keys);
    expect(afterApply.cookie).toBe(deployed.cookie);

    const first = await probeLab({ lab, policyPath: policy, seed: 1, extraPorts: 2 });
    expect(differences(first)).toEqual([]);
    expect(first.cells.some((c) => c.src === 'ep-a' && c.service === 'ping' && c.observed)).toBe(true);

    // A changed policy: a no longer pings b, b now reaches a on 80.
    const changed = join(scratch, 'changed.yaml');
    writeFileSync(
      changed,
      readFileSync(policy, 'utf8')
        .replace(/ {4}- name: a-pings-b\n(?: {6}.*\n)+/, '')
        .replace('    - name: b-to-a-ssh\n      from: [b]\n      to: [a]\n      ports: [{protocol: tcp, port: 22}]', '    - name: b-to-a-ssh\n      from: [b]\n      to: [a]\n      ports: [{protocol: tcp, port: 22}, {protocol: tcp, port: 80}]'),
    );
    expect(readFileSync(changed, 'utf8')).not.toContain('a-pings-b');
    const reapplied = await labApply({ lab, policyPath: changed });
    expect(reapplied.results.filter((r) => r.status === 'failed').map((r) => `${r.device}: ${r.detail}`)).toEqual([]);
    expect(leafTables(state).l2Keys).toEqual(deployed.l2Keys);
    const second = await probeLab({ lab, policyPath: changed, seed: 1, extraPorts: 2 });
    expect(differences(second)).toEqual([]);
    expect(second.cells.filter((c) => c.src === 'ep-a' && c.service === 'ping').map((c) => c.observed)).toEqual([false, false]);
    expect(second.cells.filter((c) => c.src === 'ep-b' && c.service === 'tcp/80').map((c) => c.observed)).toEqual([true, true]);
    console.log(`lab bmv2 (two-leaf): ${first.probes} + ${second.probes} probes, ${first.differences} + ${second.differences} differences, probe ${first.seconds.toFixed(1)}s + ${second.seconds.toFixed(1)}s`);

    const pid = sw[0].pid;
    await destroy(lab);
    expect(alive(pid)).toBe(false);
    expect(leftovers(lab)).toEqual([]);
  }, 600_000);

  it("stops a recorded bmv2 whose namespace was deleted under it (a crash's remains)", async () => {
    const lab = labName('c');
    made.push(lab);
    const state = await deploy(loadTopology(twoLeaf), { name: lab, p4: 'bmv2' });
    const sw = state.processes.find((p) => p.service === 'bmv2')!;
    // The namespace's name goes; the switch keeps running in it.
    execFileSync('ip', ['netns', 'del', netnsName(lab, 'leaf1')]);
    expect(alive(sw.pid)).toBe(true);
    expect(readState(lab)?.processes.some((p) => p.pid === sw.pid)).toBe(true);
    const d = await destroy(lab);
    expect(d.processes).toBeGreaterThan(0);
    for (let i = 0; i < 40 && alive(sw.pid); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive(sw.pid)).toBe(false);
    expect(leftovers(lab)).toEqual([]);
  }, 300_000);
});
