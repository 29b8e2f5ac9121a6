// The P4Runtime client (targets/p4/client.ts, driver.ts) against the
// emulated switch agent over real gRPC on loopback: arbitration, pipeline
// config, batched writes with per-update errors (CONTINUE_ON_ERROR only, as
// PI), read-back, counters, enforcement in the datapath, and faults (a
// refused datapath program, a client lost mid-write). test/p4/ runs the same
// client against bmv2's PI server.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { MemoryDatapath } from '../memory-datapath.ts';
import type { SwitchAclTable } from '../datapath.ts';
import { startP4RuntimeAgent, type P4RuntimeAgent } from './server.ts';
import { P4RpcError, P4RuntimeClient, P4WriteError } from '../../../targets/p4/client.ts';
import { applyP4, diffEntries, removeP4 } from '../../../targets/p4/driver.ts';
import { P4INFO, P4INFO_TEXT, PIPELINE, type P4InfoObject } from '../../../targets/p4/p4info.ts';
import { entryToJson, type AclEntry, type P4Entry, type UpdateJson } from '../../../targets/p4/entries.ts';
import { buildAclEntries, entriesDocument } from '../../../targets/p4/codegen.ts';
import { PipelineModel } from '../../../targets/p4/semantics.ts';
import { exactTernary, fenceRangeTernaries } from '../../../targets/p4/ternary.ts';
import { generateFlows, generateScenario, makeRng } from '../../../orchestrator/testing/generate.ts';
import { buildIr } from '../../../orchestrator/ir/build.ts';
import { place } from '../../../orchestrator/placement/place.ts';
import { ReferenceEvaluator } from '../../../orchestrator/reference/evaluator.ts';
import { checkSwitchFlows, endpointSources } from '../../../targets/switch-common/index.ts';
import type { Device } from '../../../inventory/model.ts';
import { InputError } from '../../../orchestrator/diagnostics.ts';
import { compileP4 } from '../../../targets/p4/p4c.ts';
import { versioningOf } from '../../../targets/p4/generation.ts';
import { p4ToolsUnavailable } from '../../../test/p4/tools.ts';

const noP4c = p4ToolsUnavailable(['p4c-bm2-ss']);

function entry(priority: number, dport: number, action: 'permit' | 'deny' = 'deny'): AclEntry {
  return {
    priority,
    action,
    origin: `test ${priority}`,
    match: { ether_type: exactTernary(0x0800, 16), ip_proto: exactTernary(6, 8), l4_dst_port_fence: fenceRangeTernaries([{ lo: dport, hi: dport }])[0] },
  };
}
const acl = (es: AclEntry[]): P4Entry[] => es.map((entry) => ({ kind: 'acl', entry }));
const insert = (e: AclEntry): UpdateJson => ({ type: 'INSERT', entity: { tableEntry: entryToJson(e) } });

/** A datapath whose program() can be held until the test releases it. */
class GatedDatapath extends MemoryDatapath {
  gate: Promise<void> | undefined;
  entered: (() => void) | undefined;
  override async program(table: SwitchAclTable): Promise<void> {
    if (this.gate) {
      this.entered?.();
      await this.gate;
    }
    return super.program(table);
  }
}

describe('P4Runtime agent and client', () => {
  let datapath: GatedDatapath;
  let agent: P4RuntimeAgent;
  const clients: P4RuntimeClient[] = [];
  const connect = async (electionId: bigint, deviceId = 7): Promise<P4RuntimeClient> => {
    const c = await P4RuntimeClient.connect({ address: agent.address, deviceId, electionId, name: 'leaf1', timeoutMs: 5000 });
    clients.push(c);
    return c;
  };
  const waitFor = async (cond: () => boolean): Promise<void> => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(cond()).toBe(true);
  };

  beforeEach(async () => {
    datapath = new GatedDatapath();
    agent = await startP4RuntimeAgent({ address: '127.0.0.1:0', deviceId: 7, datapath });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await agent.close();
  });

  it('arbitrates: the highest election id is primary, a backup cannot write, and takes over when the primary leaves', async () => {
    const low = await connect(5n);
    expect(low.isPrimary).toBe(true);
    const high = await connect(9n);
    expect(high.isPrimary).toBe(true);
    await waitFor(() => !low.isPrimary);
    await high.setPipeline(P4INFO, 'VERIFY_AND_COMMIT');
    await expect(low.write([insert(entry(10, 22))])).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    await expect(low.setPipeline(P4INFO, 'VERIFY_AND_COMMIT')).rejects.toBeInstanceOf(P4RpcError);
    expect(agent.entries()).toEqual([]);
    high.close();
    await waitFor(() => low.isPrimary);
    await low.write([insert(entry(10, 22))]);
    expect(agent.entries().length).toBe(1);
  });

  it('rejects a wrong device id and a write before any pipeline', async () => {
    await expect(connect(1n, 8)).rejects.toBeInstanceOf(P4RpcError);
    const c = await connect(1n);
    await expect(c.write([insert(entry(10, 22))])).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
    expect(await c.getPipeline()).toBeUndefined();
  });

  it('verifies the P4Info it is given', async () => {
    const c = await connect(1n);
    const broken: P4InfoObject = JSON.parse(JSON.stringify(P4INFO));
    const aclTable = broken.tables!.find((t) => t.preamble?.name?.endsWith('.weft_acl'))!;
    aclTable.matchFields = aclTable.matchFields!.filter((f) => f.name !== 'l4_dst_port_fence');
    await expect(c.setPipeline(broken, 'VERIFY')).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, message: expect.stringContaining('l4_dst_port_fence') });
    await c.setPipeline(P4INFO, 'VERIFY');
    expect(await c.getPipeline()).toBeUndefined();
    await c.setPipeline(P4INFO, 'VERIFY_AND_COMMIT');
    expect((await c.getPipeline())?.tables?.map((t) => t.preamble?.name)).toContain('WeftIngress.acl.weft_acl');
    expect(await c.capabilities()).toMatch(/^1\./);
  });

  it('keeps a pipeline\'s device config and cookie and returns them as the response type asks', async () => {
    const c = await connect(1n);
    const config = new Uint8Array(4096).map((_, i) => (i * 131 + 7) & 0xff);
    await c.setPipeline(P4INFO, 'VERIFY_AND_COMMIT', config, 0xfedcba9876543210n);
    const all = await c.getPipelineConfig('ALL');
    expect(all?.p4info?.tables?.map((t) => t.preamble?.name)).toContain('WeftIngress.acl.weft_acl');
    expect(all?.deviceConfig).toEqual(config);
    expect(all?.cookie).toBe(0xfedcba9876543210n);
    const dev = await c.getPipelineConfig('DEVICE_CONFIG_AND_COOKIE');
    expect(dev).toEqual({ p4info: undefined, deviceConfig: config, cookie: 0xfedcba9876543210n });
    const info = await c.getPipelineConfig('P4INFO_AND_COOKIE');
    expect(info?.deviceConfig).toBeUndefined();
    expect(info?.p4info).toBeDefined();
    expect(await c.getPipelineConfig('COOKIE_ONLY')).toEqual({ p4info: undefined, deviceConfig: undefined, cookie: 0xfedcba9876543210n });
    // A saved config carries its device config through COMMIT.
    const next = new Uint8Array([1, 2, 3]);
    await c.setPipeline(P4INFO, 'VERIFY_AND_SAVE', next, 1n);
    expect((await c.getPipelineConfig('ALL'))?.deviceConfig).toEqual(config);
    await c.setPipeline(P4INFO, 'COMMIT');
    expect(await c.getPipelineConfig('DEVICE_CONFIG_AND_COOKIE')).toEqual({ p4info: undefined, deviceConfig: next, cookie: 1n });
  });

  it.skipIf(noP4c)('applyP4 sends the inventory\'s device config, sets the pipeline again when the file changes, and refuses an unreadable one before writing', async () => {
    const inv = mkdtempSync(join(tmpdir(), 'weft-p4-inv-'));
    try {
      const dir = join(inv, 'bundle');
      mkdirSync(dir);
      mkdirSync(join(inv, 'build'));
      writeFileSync(join(dir, 'p4info.txtpb'), P4INFO_TEXT);
      const entries = [entry(10, 22), entry(9, 23, 'permit')];
      writeFileSync(join(dir, 'entries.json'), JSON.stringify(entriesDocument({ entries, classes: [] }, 7)));
      const bmv2 = (await compileP4({ outDir: join(inv, 'p4c') })).bmv2Json;
      writeFileSync(join(inv, 'build', 'weft.json'), bmv2);
      const device = (deviceConfig: string): Device =>
        ({ name: 'leaf1', kind: 'switch', pipeline: 'p4', mgmt: { p4runtime: { port: agent.port, deviceId: 7, deviceConfig } }, labels: {}, span: { file: 'fabric.yaml', line: 4, col: 5 } }) as Device;
      const apply = (d: Device) => applyP4({ device: d, deviceDir: dir, inventoryDir: inv, address: agent.address, electionId: 3n });

      expect(await apply(device('build/weft.json'))).toMatchObject({ pipelineSet: true, inserted: 2, entries: 2 });
      const c = await connect(1n);
      expect(Buffer.from((await c.getPipelineConfig('ALL'))!.deviceConfig!)).toEqual(bmv2);
      // Same P4Info and same device config (relative or absolute path): nothing to set.
      expect(await apply(device(join(inv, 'build', 'weft.json')))).toMatchObject({ pipelineSet: false, inserted: 0, deleted: 0, entries: 2 });

      // A recompiled device config replaces the pipeline (which empties the table), and the entries are written again.
      const rebuilt = Buffer.concat([bmv2, Buffer.from('\n')]);
      writeFileSync(join(inv, 'build', 'weft.json'), rebuilt);
      expect(await apply(device('build/weft.json'))).toMatchObject({ pipelineSet: true, inserted: 2, entries: 2 });
      expect(Buffer.from((await c.getPipelineConfig('DEVICE_CONFIG_AND_COOKIE'))!.deviceConfig!)).toEqual(rebuilt);

      // A missing file is an input error naming the device and the path, raised before the switch sees any write.
      const programs = datapath.programs;
      const missing = apply(device('build/missing.json'));
      await expect(missing).rejects.toBeInstanceOf(InputError);
      await expect(missing).rejects.toThrow(/fabric\.yaml:4:5: error: leaf1: mgmt\.p4runtime\.deviceConfig: cannot read .*build\/missing\.json.*\[bad-device-config\]/);
      writeFileSync(join(inv, 'build', 'empty.json'), '');
      await expect(apply(device('build/empty.json'))).rejects.toThrow(/empty\.json is empty/);
      await expect(applyP4({ device: device('build/weft.json'), deviceDir: dir, address: agent.address, electionId: 3n })).rejects.toThrow(/relative and the inventory's directory is unknown/);
      expect(datapath.programs).toBe(programs);
      expect(Buffer.from((await c.getPipelineConfig('ALL'))!.deviceConfig!)).toEqual(rebuilt);
      expect(agent.entries()).toHaveLength(2);
    } finally {
      rmSync(inv, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses atomic write modes as PI does, and applies what it can of a CONTINUE_ON_ERROR batch, reporting every update', async () => {
    const c = await connect(1n);
    await c.setPipeline(P4INFO, 'VERIFY_AND_COMMIT');
    await c.write([insert(entry(10, 22)), insert(entry(9, 23))]);
    for (const mode of ['ROLLBACK_ON_ERROR', 'DATAPLANE_ATOMIC'] as const) {
      await expect(c.write([insert(entry(8, 24))], mode)).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
    }
    const programs = datapath.programs;
    const batch: UpdateJson[] = [
      insert(entry(8, 24)),
      insert(entry(10, 22)), // exists
      { type: 'DELETE', entity: { tableEntry: entryToJson(entry(7, 99)) } }, // missing
      { type: 'MODIFY', entity: { tableEntry: entryToJson(entry(9, 23, 'permit')) } },
    ];
    let err: unknown;
    try {
      await c.write(batch);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(P4WriteError);
    const w = err as P4WriteError;
    expect(w.code).toBe(grpc.status.UNKNOWN);
    expect(w.updates.map((u) => u.code)).toEqual([grpc.status.OK, grpc.status.ALREADY_EXISTS, grpc.status.NOT_FOUND, grpc.status.OK]);
    expect(w.message).toContain('update 1: ALREADY_EXISTS');
    expect(w.message).toContain('update 2: NOT_FOUND');
    expect(datapath.programs).toBe(programs + 1);
    expect(await c.writeEach(batch)).toEqual([
      expect.objectContaining({ code: grpc.status.ALREADY_EXISTS }),
      expect.objectContaining({ code: grpc.status.ALREADY_EXISTS }),
      expect.objectContaining({ code: grpc.status.NOT_FOUND }),
      expect.objectContaining({ code: grpc.status.OK }),
    ]);
    const after = await c.readEntries();
    expect(after.map((e) => [e.priority, e.action]).sort()).toEqual([
      [10, 'deny'],
      [9, 'permit'],
      [8, 'deny'],
    ].sort());
    // Malformed entries are INVALID_ARGUMENT: a don't-care field given, a zero priority.
    const bad = entryToJson(entry(5, 80));
    bad.match.push({ fieldId: 10, ternary: { value: 'AA==', mask: 'AA==' } });
    const zero = entryToJson(entry(5, 81));
    zero.priority = 0;
    await expect(c.write([{ type: 'INSERT', entity: { tableEntry: bad } }, { type: 'INSERT', entity: { tableEntry: zero } }])).rejects.toMatchObject({
      updates: [expect.objectContaining({ code: grpc.status.INVALID_ARGUMENT }), expect.objectContaining({ code: grpc.status.INVALID_ARGUMENT })],
    });
  });

  it('reads with a filter, counts hits per entry and enforces in the datapath', async () => {
    const c = await connect(1n);
    await c.setPipeline(P4INFO, 'VERIFY_AND_COMMIT');
    const port5 = { ...entry(20, 22), match: { ...entry(20, 22).match, ingress_port: exactTernary(5, 9) } };
    await c.write([insert(port5), insert(entry(10, 80, 'permit')), insert(entry(9, 23))]);
    const pkt = (inPort: string, dport: number) => ({
      inPort,
      etherType: 0x0800,
      src: { family: 4 as const, value: 0x0a000001n },
      dst: { family: 4 as const, value: 0x0a000002n },
      proto: 6,
      sport: 40000,
      dport,
      tcpFlags: 2,
      icmpType: 0,
      icmpCode: 0,
    });
    expect(datapath.evaluate(pkt('eth5', 22))).toBe('deny');
    expect(datapath.evaluate(pkt('eth1', 22))).toBe('permit');
    expect(datapath.evaluate(pkt('eth1', 23))).toBe('deny');
    expect(datapath.evaluate(pkt('eth1', 80))).toBe('permit');
    const counters = await c.readCounters();
    const byPrio = new Map(counters.map((x) => [x.entry.priority, x.packets]));
    expect(byPrio.get(20)).toBe(1n);
    expect(byPrio.get(10)).toBe(1n);
    expect(byPrio.get(9)).toBe(1n);
    expect(datapath.current().entries.find((e) => e.priority === 20)?.inPort).toBe('eth5');
  });

  it("enforces only the active generation's entries; a MODIFY of weft_gen's default entry flips it and a read returns it", async () => {
    const c = await connect(1n);
    await c.setPipeline(P4INFO, 'VERIFY_AND_COMMIT');
    const v = versioningOf(PIPELINE);
    const pkt = { inPort: 'eth1', etherType: 0x0800, src: { family: 4 as const, value: 0x0a000001n }, dst: { family: 4 as const, value: 0x0a000002n }, proto: 6, sport: 40000, dport: 22, tcpFlags: 2, icmpType: 0, icmpCode: 0 };
    const flag = async (): Promise<number> => v.activeOf((await c.readDefaultEntry(v.flagTable))!);
    expect(await flag()).toBe(0);
    // Generation 0 permits port 22, generation 1 denies it: only the active one decides.
    await c.write([insert(entry(10, 22, 'permit')), insert({ ...entry(10, 22), gen: 1 })]);
    expect(datapath.evaluate(pkt)).toBe('permit');
    await c.write([{ type: 'MODIFY', entity: { tableEntry: v.flag(1) } }]);
    expect([await flag(), agent.generation(), datapath.evaluate(pkt)]).toEqual([1, 1, 'deny']);
    // Only weft_gen's default can be written, and only by MODIFY.
    await expect(c.write([{ type: 'INSERT', entity: { tableEntry: v.flag(0) } }])).rejects.toMatchObject({ updates: [expect.objectContaining({ code: grpc.status.INVALID_ARGUMENT })] });
    await expect(c.write([{ type: 'MODIFY', entity: { tableEntry: { ...v.flag(0), tableId: PIPELINE.tableId } } }])).rejects.toMatchObject({ updates: [expect.objectContaining({ code: grpc.status.INVALID_ARGUMENT })] });
    expect(agent.generation()).toBe(1);
  });

  it('applies a compiled bundle, enforces it as the reference says, converges idempotently and removes it', async () => {
    const { policy, fabric } = generateScenario(makeRng(2));
    const ir = buildIr(policy, fabric);
    const dp = place(policy, fabric, ir).devices.find((d) => d.mode === 'exact' && (d.target === 'p4' || d.target === 'openconfig'))!;
    const program = buildAclEntries({ policy, ir, devicePlacement: dp, fabric });
    const dir = mkdtempSync(join(tmpdir(), 'weft-p4-'));
    try {
      writeFileSync(join(dir, 'p4info.txtpb'), P4INFO_TEXT);
      writeFileSync(join(dir, 'entries.json'), JSON.stringify(entriesDocument(program, 7)));
      const device = { name: dp.device, kind: 'switch', pipeline: 'p4', mgmt: { p4runtime: { port: agent.port, deviceId: 7 } }, labels: {}, span: { file: 'f', line: 1, col: 1 } } as Device;
      const first = await applyP4({ device, deviceDir: dir, address: agent.address, electionId: 3n });
      const total = program.entries.length + program.classes.length;
      expect(program.classes.length).toBeGreaterThan(0);
      expect(first).toMatchObject({ pipelineSet: true, inserted: total, deleted: 0, entries: total });
      expect(agent.classEntries()).toHaveLength(program.classes.length);
      const again = await applyP4({ device, deviceDir: dir, address: agent.address, electionId: 3n });
      expect(again).toMatchObject({ pipelineSet: false, inserted: 0, modified: 0, deleted: 0 });

      // What the datapath now enforces equals the reference on the exact ports.
      const ref = new ReferenceEvaluator(policy, fabric);
      const flows = generateFlows(makeRng(77), policy, fabric, 2000);
      const compiled = new PipelineModel(program.entries, program.classes);
      const r = checkSwitchFlows({
        exactPorts: dp.interfaces.filter((i) => i.role === 'unmanaged-endpoint').map((i) => i.name),
        prefilterPorts: dp.interfaces.filter((i) => i.role !== 'unmanaged-endpoint').map((i) => i.name),
        flows,
        reference: (f) => ref.verdict(f).verdict,
        evaluate: (p) => datapath.evaluate(p),
        // Which entry decides, from the compiled table: reply-shaped packets a reverse entry passes are the documented approximation.
        replyEntry: (p) => compiled.replyEntry(p),
        sourcesOf: (port) => endpointSources(fabric, dp.device, port),
        ports: 'rotate',
      });
      console.log(`p4runtime enforce: ${flows.length} flows through the agent's datapath, ${r.mismatches} mismatches, ${r.approximated} passed by reverse entries`);
      expect(r.mismatches).toBe(0);

      // A smaller table: make-before-break writes the whole policy into the other generation, flips the flag, then deletes the old one.
      const fewer = program.entries.slice(0, Math.floor(program.entries.length / 2));
      writeFileSync(join(dir, 'entries.json'), JSON.stringify(entriesDocument({ entries: fewer, classes: program.classes }, 7)));
      const was = agent.generation();
      const third = await applyP4({ device, deviceDir: dir, address: agent.address, electionId: 3n });
      expect(third).toMatchObject({ inserted: fewer.length + program.classes.length, modified: 0, deleted: total, entries: fewer.length + program.classes.length, inPlaceTables: [], generation: 1 - was });
      expect(agent.generation()).toBe(1 - was);
      expect([...agent.entries(), ...agent.classEntries()].every((e) => (e.gen ?? 0) === agent.generation())).toBe(true);
      expect(await removeP4({ device, address: agent.address, electionId: 3n })).toBe(fewer.length + program.classes.length);
      expect(agent.entries()).toEqual([]);
      expect(agent.classEntries()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a datapath refusing the table fails the write and changes nothing', async () => {
    const c = await connect(1n);
    await c.setPipeline(P4INFO, 'VERIFY_AND_COMMIT');
    await c.write([insert(entry(10, 22))]);
    datapath.failNext = 'nft: out of memory';
    await expect(c.write([insert(entry(9, 23))])).rejects.toMatchObject({ code: grpc.status.INTERNAL, message: expect.stringContaining('nothing applied') });
    expect((await c.readEntries()).map((e) => e.priority)).toEqual([10]);
    expect(datapath.current().entries.map((e) => e.priority)).toEqual([10]);
  });

  it('a client lost mid-write leaves the old table or the whole new one, and a re-apply converges', async () => {
    const c = await connect(1n);
    await c.setPipeline(P4INFO, 'VERIFY_AND_COMMIT');
    const old = [entry(100, 1), entry(99, 2)];
    await c.write(old.map(insert));
    const desired = Array.from({ length: 50 }, (_, i) => entry(50 - i, 1000 + i));
    let release!: () => void;
    datapath.gate = new Promise((r) => (release = r));
    const entered = new Promise<void>((r) => (datapath.entered = r));
    const pending = c.write(diffEntries(acl(old), acl(desired)));
    await entered;
    c.close(); // the connection goes away while the switch is programming
    await expect(pending).rejects.toBeDefined();
    datapath.gate = undefined;
    release();
    await new Promise((r) => setTimeout(r, 50));
    const keys = (es: AclEntry[]) => es.map((e) => e.priority).sort((a, b) => a - b);
    const now = keys(agent.entries());
    expect([keys(old), keys(desired)]).toContainEqual(now);
    expect(keys(datapath.current().entries.map((e) => ({ ...e, match: {}, origin: '' })))).toEqual(now);
    const c2 = await connect(2n);
    await c2.write(diffEntries(acl(await c2.readEntries()), acl(desired)));
    expect(keys(await c2.readEntries())).toEqual(keys(desired));
  });
});
