// Weft's P4Runtime client and driver against the real thing: bmv2's
// simple_switch_grpc with the PI P4Runtime server, in a namespace of its
// own, the pipeline compiled by p4c and pushed by the driver, the entries
// from the P4 target's codegen. Arbitration, pipeline config, writes,
// read-back of entries and counters, a relabelling policy change written
// into the inactive generation with the flip observed between the batches, a
// batch failing in the middle (undone: the read equals the old policy
// exactly), and bad device configs or pipelines (refused, switch untouched).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Device } from '../../inventory/model.ts';
import { InputError } from '../../orchestrator/diagnostics.ts';
import { P4RuntimeClient } from '../../targets/p4/client.ts';
import { applyP4, pipelineCookie, readDesiredEntries, removeP4, weftTables } from '../../targets/p4/driver.ts';
import { compileP4, type CompiledP4 } from '../../targets/p4/p4c.ts';
import { P4_SOURCE_PATH, P4INFO, parseP4InfoText, PIPELINE } from '../../targets/p4/p4info.ts';
import { entryString, type WireEntry } from '../../targets/p4/table-entry.ts';
import { versioningOf } from '../../targets/p4/generation.ts';
import { inGeneration, planTransition, runTransition, splitGenerations, TransitionError, type SwitchTables } from '../../targets/p4/transition.ts';
import { startBmv2Fixture, type Bmv2Fixture } from './bmv2-netns.ts';
import { changedPolicy, p4Scenario, writeP4Bundle, type P4Scenario } from './scenario.ts';
import { p4ToolsUnavailable } from './tools.ts';

const why = p4ToolsUnavailable(['p4c-bm2-ss', 'simple_switch_grpc'], { root: true });

const sorted = (es: WireEntry[]): string[] => es.map(entryString).sort();
const VERSIONING = versioningOf(PIPELINE);
const aclOf = (es: WireEntry[]): WireEntry[] => es.filter((e) => e.priority);
const classesOf = (es: WireEntry[]): WireEntry[] => es.filter((e) => !e.priority);

describe.skipIf(why)('P4Runtime against bmv2 (PI)', () => {
  let fx: Bmv2Fixture;
  let compiled: CompiledP4;
  let other: CompiledP4;
  /** Id, name and original size of the table `other` resizes to 1000. */
  let changedTable: string[];
  let scenario: P4Scenario;
  let bundle: string;
  let changedBundle: string;
  const clients: P4RuntimeClient[] = [];
  const connect = async (electionId: bigint): Promise<P4RuntimeClient> => {
    const c = await P4RuntimeClient.connect({ address: fx.address, deviceId: 1, electionId, name: 'bmv2', timeoutMs: 30_000 });
    clients.push(c);
    return c;
  };
  const device = (deviceConfig?: string): Device => ({ ...scenario.device, mgmt: { ...scenario.device.mgmt, p4runtime: { port: 9559, deviceId: 1, deviceConfig } } });
  const apply = (dir: string, deviceConfig?: string) => applyP4({ device: device(deviceConfig), deviceDir: dir, address: fx.address, electionId: 100n, timeoutMs: 30_000 });
  const read = async (): Promise<WireEntry[]> => (await readTables()).entries;
  /** Weft's entries and the active generation, as PI reports them. */
  const readTables = async (): Promise<SwitchTables> => {
    const c = await connect(1n);
    try {
      return await weftTables(c, P4INFO).readTables();
    } finally {
      c.close();
    }
  };
  const inGen = (es: WireEntry[], g: number): WireEntry[] => es.map((e) => inGeneration(e, g, VERSIONING));

  beforeAll(async () => {
    scenario = p4Scenario(2);
    fx = await startBmv2Fixture(scenario.ports);
    compiled = await compileP4({ outDir: join(fx.dir, 'p4c') });
    // The same program with another table size: a device config and P4Info that are not Weft's.
    const src = readFileSync(P4_SOURCE_PATH, 'utf8').replace(/size = \d+;/, 'size = 1000;');
    // The table whose size changed: the last one declared before the first `size =`.
    const original = readFileSync(P4_SOURCE_PATH, 'utf8');
    const at = original.search(/size = \d+;/);
    const decl = [...original.slice(0, at).matchAll(/@id\((0x[0-9a-fA-F]+)\)\s*table\s+(\w+)/g)].pop()!;
    changedTable = [`0x${decl[1].slice(2).padStart(8, '0')}`, decl[2], /size = (\d+);/.exec(original)![1]];
    writeFileSync(join(fx.dir, 'other.p4'), src);
    other = await compileP4({ source: join(fx.dir, 'other.p4'), outDir: join(fx.dir, 'other') });
    bundle = join(fx.dir, 'bundle');
    changedBundle = join(fx.dir, 'changed');
    await writeP4Bundle(scenario, bundle);
    await writeP4Bundle(changedPolicy(scenario), changedBundle);
  }, 120_000);
  afterAll(async () => {
    for (const c of clients.splice(0)) c.close();
    await fx?.close();
  });

  it('arbitrates: a lower election id is a backup whose writes PI refuses', async () => {
    const primary = await connect(10n);
    const backup = await connect(5n);
    expect(primary.isPrimary).toBe(true);
    expect(backup.isPrimary).toBe(false);
    await expect(backup.setPipeline(P4INFO, 'VERIFY_AND_COMMIT', compiled.bmv2Json)).rejects.toMatchObject({ code: 7 });
    expect(await primary.capabilities()).toMatch(/^1\./);
    primary.close();
    backup.close();
  });

  it("pushes p4c's pipeline and codegen's entries; PI reads back exactly them, with a counter each", async () => {
    const r = await apply(bundle, compiled.bmv2JsonPath);
    const want = await readDesiredEntries(bundle, P4INFO);
    console.log(`bmv2: ${want.length} entries from codegen for ${scenario.device.name} (${scenario.exactPorts.length} exact, ${scenario.prefilterPorts.length} prefilter ports)`);
    // A fresh pipeline runs generation 0 (empty); the policy is written into generation 1 and the flag flipped.
    expect(r).toMatchObject({ pipelineSet: true, inserted: want.length, deleted: 0, entries: want.length, inPlaceTables: [], generation: 1 });
    expect(await readTables()).toEqual({ entries: expect.anything(), active: 1 });
    expect(sorted(await read())).toEqual(sorted(inGen(want, 1)));
    const c = await connect(11n);
    const cfg = await c.getPipelineConfig('ALL');
    expect(cfg?.cookie).toBe(pipelineCookie(P4INFO, compiled.bmv2Json));
    expect(Buffer.from(cfg!.deviceConfig!).equals(compiled.bmv2Json)).toBe(true);
    // Only the ACL has direct counters.
    const counters = await c.readCounters();
    expect(classesOf(want).length).toBeGreaterThan(0);
    expect(counters).toHaveLength(aclOf(want).length);
    expect(counters.every((x) => x.packets === 0n)).toBe(true);
    c.close();
  });

  it('a relabelling change is written into the inactive generation, flipped in one write, then the old one deleted; PI shows each step', async () => {
    const before = await readTables();
    const old = inGen(await readDesiredEntries(bundle, P4INFO), before.active);
    expect(sorted(before.entries)).toEqual(sorted(old));
    const desired = await readDesiredEntries(changedBundle, P4INFO);
    const next = inGen(desired, 1 - before.active);
    // The change relabels: some classifier entry keeps its prefix but gets another label.
    const oldLabels = new Map(classesOf(old).map((e) => [JSON.stringify(e.match.filter((m) => !m.exact)), JSON.stringify(e.action)]));
    expect(classesOf(next).some((e) => { const l = oldLabels.get(JSON.stringify(e.match.filter((m) => !m.exact))); return l !== undefined && l !== JSON.stringify(e.action); })).toBe(true);
    const c = await connect(16n);
    try {
      const sw = weftTables(c, P4INFO);
      const plan = planTransition(before, desired, () => 4096, sw.versioning);
      expect(plan).toMatchObject({ active: 1 - before.active, inPlace: [], closed: false });
      // Batch by batch, reading PI in between: the old generation stays whole and active until the flip, the new one whole from then on.
      const seen: string[] = [];
      for (const batch of plan.batches) {
        await runTransition(sw, { ...plan, batches: [batch] }, await sw.readTables(), sw.versioning);
        const now = await sw.readTables();
        const live = sorted(splitGenerations(now, VERSIONING).live);
        expect(live, `after ${batch.length} ${batch[0].type}`).toEqual(now.active === before.active ? sorted(old) : sorted(next));
        seen.push(`${batch[0].entry.isDefaultAction ? 'flip' : batch[0].type} -> generation ${now.active}, ${now.entries.length} entries`);
      }
      console.log(`bmv2 relabelling change: ${seen.join('; ')}`);
      expect(seen.filter((x) => x.startsWith('flip'))).toHaveLength(1);
      expect(await sw.readTables()).toEqual({ entries: expect.anything(), active: plan.active });
      expect(sorted(await read())).toEqual(sorted(next));
    } finally {
      c.close();
    }
    expect(await apply(changedBundle, compiled.bmv2JsonPath)).toMatchObject({ pipelineSet: false, inserted: 0, deleted: 0, modified: 0, generation: 1 - before.active });
    // Back to the first policy through the driver: into the other generation again.
    const back = await apply(bundle, compiled.bmv2JsonPath);
    expect(back).toMatchObject({ inserted: old.length, deleted: next.length, modified: 0, inPlaceTables: [], generation: before.active });
    expect(sorted(await read())).toEqual(sorted(old));
  });

  it('a change without room for two generations is made in place behind a closed generation; PI ends on the new policy in the same generation', async () => {
    const before = await readTables();
    const next = await readDesiredEntries(changedBundle, P4INFO);
    const old = await readDesiredEntries(bundle, P4INFO);
    // Room in weft_acl for one policy and the two closing entries, not for both policies.
    const room = Math.max(aclOf(old).length, aclOf(next).length) + 2;
    const small = { ...device(compiled.bmv2JsonPath), capacity: { aclEntries: room } };
    const r = await applyP4({ device: small, deviceDir: changedBundle, address: fx.address, electionId: 100n, timeoutMs: 30_000 });
    expect(r.inPlaceTables).toContain(PIPELINE.tableId);
    expect(r.generation).toBe(before.active);
    expect(await readTables()).toEqual({ entries: expect.anything(), active: before.active });
    expect(sorted(await read())).toEqual(sorted(inGen(next, before.active)));
    // Back with room: side by side again.
    const back = await apply(bundle, compiled.bmv2JsonPath);
    expect(back).toMatchObject({ inPlaceTables: [], generation: 1 - before.active });
    expect(sorted(await read())).toEqual(sorted(inGen(old, 1 - before.active)));
  });

  it('a batch refused in the middle is undone: the read equals the old policy exactly', async () => {
    const before = await readTables();
    const next = await readDesiredEntries(changedBundle, P4INFO);
    const c = await connect(12n);
    try {
      // An update PI refuses half-way through the inserts (a table id the pipeline has not).
      const poisoned = [...next];
      poisoned.splice(Math.floor(next.length / 2), 0, { ...next[0], tableId: 0x02000099 });
      const sw = weftTables(c, P4INFO);
      const plan = planTransition(before, poisoned, () => 4096, sw.versioning);
      const err = await runTransition(sw, plan, before, sw.versioning).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransitionError);
      expect((err as TransitionError).restored).toBe(true);
      expect((err as TransitionError).failed.map((f) => f.status.code)).toEqual([3]);
      expect(await sw.readTables()).toEqual({ entries: expect.anything(), active: before.active });
      expect(sorted((await sw.readTables()).entries)).toEqual(sorted(before.entries));

      // A refusal in the last batch (a delete of an entry the switch has not): the inserts and deletes already made are undone too.
      // A refusal in the last batch, after the flip (a delete of an entry the switch has not): the inserts, the flip and the deletes already made are undone too.
      const plan2 = planTransition(before, next, () => 4096, sw.versioning);
      const last = plan2.batches[plan2.batches.length - 1];
      expect(last.every((u) => u.type === 'DELETE')).toBe(true);
      expect(plan2.batches[plan2.batches.length - 2].map((u) => u.entry.isDefaultAction)).toEqual([true]);
      const aclDelete = last.find((u) => u.entry.priority)!;
      last.splice(Math.floor(last.length / 2), 0, { type: 'DELETE', entry: { ...aclDelete.entry, priority: 77 }, before: { ...aclDelete.before!, priority: 77 } });
      const err2 = await runTransition(sw, plan2, before, sw.versioning).catch((e: unknown) => e);
      expect(err2).toBeInstanceOf(TransitionError);
      expect((err2 as TransitionError).failed.map((f) => f.status.code)).toEqual([5]);
      expect((err2 as TransitionError).message).toMatch(/NOT_FOUND.*previous entries/);
      expect(await sw.readTables()).toEqual({ entries: expect.anything(), active: before.active });
      expect(sorted((await sw.readTables()).entries)).toEqual(sorted(before.entries));
    } finally {
      c.close();
    }
  });

  it('refuses a device config that is not the bmv2 JSON of the P4Info, naming the device and the numbers; the switch is untouched', async () => {
    const before = await read();
    writeFileSync(join(fx.dir, 'garbage.json'), 'not json at all');
    const wrong = apply(bundle, other.bmv2JsonPath);
    await expect(wrong).rejects.toBeInstanceOf(InputError);
    await expect(wrong).rejects.toThrow(new RegExp(`${scenario.device.name}: mgmt\\.p4runtime\\.deviceConfig: .*other/weft\\.json is not the bmv2 JSON of p4info\\.txtpb: table ${changedTable[0]} WeftIngress\\.${changedTable[1]}: size ${changedTable[2]} in the P4Info, 1000 in the bmv2 JSON`));
    await expect(apply(bundle, join(fx.dir, 'garbage.json'))).rejects.toThrow(/garbage\.json is not the bmv2 JSON of p4info\.txtpb: not a bmv2 JSON/);
    expect(sorted(await read())).toEqual(sorted(before));
    const c = await connect(13n);
    expect((await c.getPipelineConfig('COOKIE_ONLY'))?.cookie).toBe(pipelineCookie(P4INFO, compiled.bmv2Json));
    c.close();
  });

  it("refuses to replace another program without a device config, naming the differences; with one, Weft's pipeline comes back", async () => {
    const otherInfo = parseP4InfoText(other.p4infoText);
    const c = await connect(14n);
    await c.setPipeline(otherInfo, 'VERIFY_AND_COMMIT', other.bmv2Json, 1n);
    c.close();
    await expect(apply(bundle)).rejects.toThrow(
      new RegExp(`^${scenario.device.name}: the switch runs a pipeline whose P4Info differs from Weft's: table ${changedTable[0]} WeftIngress\\.${changedTable[1]}: size 1000 in the switch, ${changedTable[2]} in .*p4info\\.txtpb; without mgmt\\.p4runtime\\.deviceConfig .*nothing written`),
    );
    const c2 = await connect(15n);
    expect((await c2.getPipelineConfig('COOKIE_ONLY'))?.cookie).toBe(1n);
    expect(await c2.readTableEntries()).toEqual([]);
    c2.close();
    const want = await readDesiredEntries(bundle, P4INFO);
    expect(await apply(bundle, compiled.bmv2JsonPath)).toMatchObject({ pipelineSet: true, inserted: want.length, entries: want.length });
  });

  it('removes every entry, all or nothing', async () => {
    const n = (await read()).length;
    expect(await removeP4({ device: device(), address: fx.address, electionId: 100n, timeoutMs: 30_000 })).toBe(n);
    expect(await read()).toEqual([]);
    // PI writes CONTINUE_ON_ERROR only, which is why Weft never asks for more.
    await expect(connect(1n).then((c) => c.write([{ type: 'INSERT', entity: { tableEntry: { tableId: 1 } } }], 'ROLLBACK_ON_ERROR'))).rejects.toMatchObject({ code: 12 });
  });
});
