// What runs the lab's P4 leaves and what a bmv2 leaf is given: endpoint MACs
// unique and stable, every endpoint behind exactly one forwarding port of a
// leaf (blocked ports carry none and are never given to bmv2), the
// forwarding updates built from them, and the choice between bmv2 and the
// emulation: a forced bmv2 without its tools is an input error naming what
// is valid, auto falls back and says why.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../orchestrator/diagnostics.ts';
import { P4INFO } from '../targets/p4/p4info.ts';
import { bmv2ConfigProblems } from '../targets/p4/pipeline-check.ts';
import { p4ToolsUnavailable } from '../test/p4/tools.ts';
import { blockedPorts, endpointMac, endpointsBehindPorts } from './forwarding.ts';
import { bmv2Ports, leafForwarding, planP4Leaves } from './p4-leaves.ts';
import { loadTopology } from './topology.ts';

const repo = resolve(import.meta.dirname, '..');
const example = loadTopology(join(repo, 'lab/topologies/example.clab.yml'));

describe('bmv2 leaf forwarding from the topology', () => {
  it('gives every endpoint a distinct, stable, locally administered unicast MAC', () => {
    const eps = example.nodes.filter((n) => n.role === 'endpoint').map((n) => n.name);
    const macs = eps.map((e) => endpointMac(example, e));
    expect(new Set(macs).size).toBe(eps.length);
    for (const m of macs) expect(m).toMatch(/^02:57:46:00:[0-9a-f]{2}:[0-9a-f]{2}$/);
    expect(endpointMac(loadTopology(join(repo, 'lab/topologies/example.clab.yml')), eps[3])).toBe(macs[3]);
    expect(() => endpointMac(example, 'leaf1')).toThrow(/not an endpoint/);
  });

  it('puts each endpoint behind exactly one forwarding port of each leaf, none behind a blocked port', () => {
    const blocked = blockedPorts(example);
    const endpoints = example.nodes.filter((n) => n.role === 'endpoint').map((n) => n.name).sort();
    for (const leaf of ['leaf1', 'leaf2']) {
      const behind = endpointsBehindPorts(example, leaf, blocked);
      for (const p of blocked.get(leaf) ?? []) expect(behind.has(p), `${leaf}:${p}`).toBe(false);
      expect([...behind.values()].flat().sort(), leaf).toEqual(endpoints);
    }
    const leaf1 = endpointsBehindPorts(example, 'leaf1', blocked);
    // The tree is built in file order: leaf1 keeps both uplinks, and spine2 reaches nothing else.
    expect(blocked.get('leaf1')).toBeUndefined();
    expect(blocked.get('leaf2')).toEqual(['eth50']);
    expect(leaf1.get('eth1')).toEqual(['web-1']);
    expect(leaf1.get('eth2')?.sort()).toEqual(['ops-1', 'web-2']);
    expect(leaf1.get('eth49')?.length).toBe(endpoints.length - 3);
    expect(leaf1.get('eth50')).toEqual([]);
  });

  it('builds one L2 entry per endpoint, the flood group over the forwarding ports, and the link-local drops', () => {
    const blocked = blockedPorts(example);
    const leaf2 = example.nodes.find((n) => n.name === 'leaf2')!;
    const updates = leafForwarding(example, leaf2, blocked);
    const endpoints = example.nodes.filter((n) => n.role === 'endpoint').length;
    const tables = updates.filter((u) => 'tableEntry' in u.entity);
    expect(tables.length).toBe(endpoints + 16);
    const groups = updates.flatMap((u) => ('packetReplicationEngineEntry' in u.entity ? [u.entity.packetReplicationEngineEntry.multicastGroupEntry] : []));
    expect(groups.length).toBe(1);
    expect(groups[0].replicas.map((r) => r.egressPort)).toEqual([1, 2, 5, 49]);
    expect(bmv2Ports(['eth1', 'eth2', 'eth5', 'eth49', 'eth50'], blocked.get('leaf2') ?? [])).toEqual({ 1: 'eth1', 2: 'eth2', 5: 'eth5', 49: 'eth49' });
    expect(() => bmv2Ports(['eth1', 'swp1'], [])).toThrow(/ports eth1 and swp1 both number 1/);
  });
});

describe('what runs the P4 leaves', () => {
  const saved = { tools: process.env.WEFT_P4TOOLS, path: process.env.PATH };
  let empty: string | undefined;
  afterEach(() => {
    if (saved.tools === undefined) delete process.env.WEFT_P4TOOLS;
    else process.env.WEFT_P4TOOLS = saved.tools;
    process.env.PATH = saved.path;
    if (empty) rmSync(empty, { recursive: true, force: true });
    empty = undefined;
  });
  const withoutTools = (): void => {
    empty = mkdtempSync(join(tmpdir(), 'weft-no-p4tools-'));
    process.env.WEFT_P4TOOLS = empty;
    process.env.PATH = empty;
  };

  it('refuses --p4 bmv2 without simple_switch_grpc, naming what is valid; auto falls back to the emulation and says why', async () => {
    withoutTools();
    const err = await planP4Leaves('bmv2', example).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    const d = (err as InputError).diagnostics[0];
    expect(d.code).toBe('p4-bmv2-unavailable');
    expect(d.message).toMatch(/simple_switch_grpc not found/);
    expect(d.hint).toMatch(/--p4 auto .* or --p4 emulated/);
    const auto = await planP4Leaves('auto', example);
    expect(auto.kind).toBe('emulation');
    expect(auto.reason).toMatch(/^bmv2 unavailable: simple_switch_grpc not found/);
    expect(await planP4Leaves('emulated', example)).toEqual({ kind: 'emulation', reason: 'chosen with --p4 emulated' });
  });

  it('needs nothing for a topology without P4 leaves', async () => {
    withoutTools();
    expect(await planP4Leaves('bmv2', loadTopology(join(repo, 'lab/topologies/plain.clab.yml')))).toEqual({ kind: 'emulation', reason: 'no P4 leaves' });
  });

  it.skipIf(p4ToolsUnavailable(['p4c-bm2-ss', 'simple_switch_grpc']))("picks bmv2 with p4c's JSON of the checked-in program when the tools are here", async () => {
    const plan = await planP4Leaves('auto', example);
    expect(plan.kind).toBe('bmv2');
    expect(bmv2ConfigProblems(plan.deviceConfig!, P4INFO)).toEqual([]);
  }, 120_000);
});
