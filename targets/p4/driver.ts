// Talks to a P4 switch: makes its pipeline Weft's (only if it differs, since
// committing a pipeline wipes the tables), then moves the tables from what
// the switch holds to what entries.json says, make-before-break by policy
// generation and all or nothing (transition.ts), and reads them back: the
// active generation is the policy the switch runs, and entries left in the
// other one (a change cut short) are reported apart. The pipeline carries the
// operator's compiled device configuration (bmv2 JSON, Tofino binary) when the
// inventory references one; a bmv2 JSON is checked against the P4Info first,
// and a switch running another program is never reprogrammed without one.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { Device } from '../../inventory/model.ts';
import type { DriverContext, TargetDriver } from '../contract.ts';
import { withConnection, type Link } from '../connections.ts';
import { InputError } from '../../orchestrator/diagnostics.ts';
import { logger } from '../../orchestrator/log.ts';
import { p4EntryFromProto, p4EntryKey, p4EntryToJson, type EntriesDocument, type P4Entry, type UpdateJson } from './entries.ts';
import { versioningOf, type Versioning } from './generation.ts';
import { parseP4InfoText, pipelineFromP4Info, type P4InfoObject } from './p4info.ts';
import { bmv2ConfigProblems, entryProblems, firstProblems, p4InfoDifferences, p4InfoDigestKey } from './pipeline-check.ts';
import { P4RuntimeClient, type PipelineConfig } from './client.ts';
import { entryString, wireEntry, type WireEntry } from './table-entry.ts';
import { driftOf, planTransition, runTransition, splitGenerations, type EntryWriter, type SwitchTables } from './transition.ts';
import { p4CounterHits } from './counters.ts';
import { ENTRIES_FILE, P4INFO_FILE } from './verify.ts';

const log = logger('p4-driver');

export interface P4ApplyOptions {
  device: Device;
  deviceDir: string;
  /** Overrides the inventory's mgmt address:port (the lab's management namespace may differ). */
  address?: string;
  /** The inventory file's directory: a relative mgmt.p4runtime.deviceConfig is resolved against it. */
  inventoryDir?: string;
  /** Higher than any other controller of this switch; default 1. */
  electionId?: bigint;
  timeoutMs?: number;
}

export interface P4ApplyResult {
  device: string;
  pipelineSet: boolean;
  /** Tables changed in place instead of side by side (too full for two generations); the change ran with all IP dropped. */
  inPlaceTables: number[];
  /** The policy generation active after the write. */
  generation: number;
  inserted: number;
  modified: number;
  deleted: number;
  entries: number;
}

export function p4Address(device: Device): string {
  const rt = device.mgmt.p4runtime;
  if (!device.mgmt.address || !rt) throw new Error(`${device.name}: no mgmt.address / mgmt.p4runtime in the inventory (needed to reach its P4Runtime server)`);
  return `${device.mgmt.address.includes(':') ? `[${device.mgmt.address}]` : device.mgmt.address}:${rt.port}`;
}

/** The update batch taking `current` to `desired`, entries of any table: deletes first, so no table overflows mid-batch. */
export function diffEntries(current: P4Entry[], desired: P4Entry[]): UpdateJson[] {
  const cur = new Map(current.map((e) => [p4EntryKey(e), e]));
  const want = new Map(desired.map((e) => [p4EntryKey(e), e]));
  const update = (type: UpdateJson['type'], e: P4Entry): UpdateJson => ({ type, entity: { tableEntry: p4EntryToJson(e) } });
  const dels: UpdateJson[] = [];
  const mods: UpdateJson[] = [];
  const ins: UpdateJson[] = [];
  for (const [k, e] of cur) if (!want.has(k)) dels.push(update('DELETE', e));
  for (const [k, e] of want) {
    const had = cur.get(k);
    if (!had) ins.push(update('INSERT', e));
    else if (JSON.stringify(p4EntryToJson(had)) !== JSON.stringify(p4EntryToJson(e))) mods.push(update('MODIFY', e));
  }
  return [...dels, ...mods, ...ins];
}

/**
 * Parsed P4Infos by their text. Every P4 switch of a fabric runs the same
 * program, and parsing its P4Info for each switch (twice a rollout, with the
 * final read-back) cost more than the few entries a change writes.
 */
const p4InfoByText = new Map<string, P4InfoObject>();

/**
 * The P4Info of a device directory; callers share the object and never
 * change it. Artefact files are a few kilobytes, read at once: an
 * asynchronous read's four steps (open, stat, read, close) cost a
 * thousand-switch rollout more CPU than the reads themselves.
 */
async function readP4Info(deviceDir: string): Promise<P4InfoObject> {
  const file = join(deviceDir, P4INFO_FILE);
  const text = readFileSync(file, 'utf8');
  let info = p4InfoByText.get(text);
  if (!info) {
    info = parseP4InfoText(text, file);
    p4InfoByText.set(text, info);
  }
  return info;
}

/** p4InfoDigestKey of the P4Infos Weft pushes (never changed once parsed), computed once each. */
const digestKeys = new WeakMap<P4InfoObject, string>();

function weftDigestKey(info: P4InfoObject): string {
  let key = digestKeys.get(info);
  if (key === undefined) {
    key = p4InfoDigestKey(info);
    digestKeys.set(info, key);
  }
  return key;
}

/** The device's P4Info and the entries of every table its entries.json holds. */
export async function readDeviceArtefacts(deviceDir: string): Promise<{ p4info: P4InfoObject; entries: P4Entry[] }> {
  const p4info = await readP4Info(deviceDir);
  const pipe = pipelineFromP4Info(p4info);
  const doc = JSON.parse(readFileSync(join(deviceDir, ENTRIES_FILE), 'utf8')) as EntriesDocument;
  return { p4info, entries: doc.updates.map((u) => p4EntryFromProto(u.entity.tableEntry, pipe)) };
}

/** The bytes of the device's mgmt.p4runtime.deviceConfig file, or undefined when the inventory references none. */
export async function readDeviceConfig(device: Device, inventoryDir: string | undefined): Promise<Uint8Array | undefined> {
  const ref = device.mgmt.p4runtime?.deviceConfig;
  if (ref === undefined) return undefined;
  const problem = (message: string, hint: string): InputError =>
    new InputError([{ code: 'bad-device-config', severity: 'error', message: `${device.name}: mgmt.p4runtime.deviceConfig: ${message}`, span: device.span, hint }]);
  let path: string;
  if (isAbsolute(ref)) path = ref;
  else if (inventoryDir !== undefined) path = resolve(inventoryDir, ref);
  else throw problem(`"${ref}" is relative and the inventory's directory is unknown`, 'give an absolute path');
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw problem(`cannot read ${path}: ${(e as Error).message}`, "the path is relative to the inventory file's directory, or absolute");
  }
  if (bytes.length === 0) throw problem(`${path} is empty`, 'point it at the device configuration compiled from the P4 source (bmv2 JSON, Tofino binary)');
  return new Uint8Array(bytes);
}

/** The pipeline's cookie: a digest of P4Info and device config, so a changed device config is seen on the switch. */
export function pipelineCookie(p4info: P4InfoObject, deviceConfig: Uint8Array | undefined): bigint {
  const h = createHash('sha256').update(weftDigestKey(p4info));
  if (deviceConfig) h.update(deviceConfig);
  return h.digest().readBigUInt64BE(0);
}

/**
 * The last desired entries made from each entries.json, with the text and
 * P4Info they came from: a rollout reads a switch's twice (its push, the
 * read-back at the end of the run), and converting and checking the entries
 * cost more than reading the file.
 */
const desiredByFile = new Map<string, { text: string; p4info: P4InfoObject; entries: readonly WireEntry[] }>();

/** The entries Weft wants on the switch, in wire form, each checked against the P4Info it was compiled for (frozen: shared by every caller). */
export async function readDesiredEntries(deviceDir: string, p4info: P4InfoObject): Promise<WireEntry[]> {
  const file = join(deviceDir, ENTRIES_FILE);
  const text = readFileSync(file, 'utf8');
  const known = desiredByFile.get(file);
  if (known && known.text === text && known.p4info === p4info) return [...known.entries];
  const doc = JSON.parse(text) as EntriesDocument;
  const entries = Object.freeze(
    doc.updates.map((u, i) => {
      const e = wireEntry(u.entity.tableEntry);
      const problems = entryProblems(e, p4info);
      if (problems.length) throw new Error(`${file}: update ${i}: ${problems.join('; ')}`);
      return Object.freeze(e);
    }),
  );
  desiredByFile.set(file, { text, p4info, entries });
  return [...entries];
}

/** Refuses a device config that cannot be this P4Info's program, before anything reaches the switch. */
function checkDeviceConfig(device: Device, p4info: P4InfoObject, config: Uint8Array | undefined, inventoryDir: string | undefined): void {
  // v1model programs run on bmv2, whose device config is its JSON; other architectures' binaries are opaque here.
  if (!config || p4info.pkgInfo?.arch !== 'v1model') return;
  const problems = bmv2ConfigProblems(config, p4info);
  if (problems.length === 0) return;
  const ref = device.mgmt.p4runtime?.deviceConfig ?? '';
  const path = isAbsolute(ref) || inventoryDir === undefined ? ref : resolve(inventoryDir, ref);
  throw new InputError([
    {
      code: 'bad-device-config',
      severity: 'error',
      message: `${device.name}: mgmt.p4runtime.deviceConfig: ${path} is not the bmv2 JSON of ${P4INFO_FILE}: ${firstProblems(problems)}`,
      span: device.span,
      hint: 'compile the device config from the same P4 source as the P4Info (npm run build:p4, or p4c-bm2-ss --p4runtime-files)',
    },
  ]);
}

/** Each table's room: its size in the P4Info, or the inventory's capacity when that is smaller. */
function tableSizes(p4info: P4InfoObject, device: Device): (tableId: number) => number {
  const pipe = pipelineFromP4Info(p4info);
  const sizes = new Map((p4info.tables ?? []).map((t) => [t.preamble?.id ?? 0, Number(t.size ?? 0)]));
  const cap = (id: number): number | undefined => (id === pipe.tableId ? device.capacity?.aclEntries : pipe.classifierById.has(id) ? device.capacity?.lpmEntries : undefined);
  return (id) => Math.min(sizes.get(id) ?? 0, cap(id) ?? Number.POSITIVE_INFINITY);
}

/** A client of the switch; one that writes must be its primary controller. */
async function connect(opts: Omit<P4ApplyOptions, 'deviceDir'>, writes = true): Promise<P4RuntimeClient> {
  const client = await P4RuntimeClient.connect({
    address: opts.address ?? p4Address(opts.device),
    deviceId: opts.device.mgmt.p4runtime?.deviceId ?? 1,
    electionId: opts.electionId ?? 1n,
    name: opts.device.name,
    timeoutMs: opts.timeoutMs,
  });
  if (writes && !client.isPrimary) {
    client.close();
    throw new Error(`${opts.device.name}: another controller holds a higher election id; not writing`);
  }
  return client;
}

/**
 * The switch as the transition sees it: the entries of the tables Weft's
 * policy writes (the ACL and its classifiers, every generation) and the
 * generation the flag makes active. Other tables of the program, such as the
 * reference pipeline's L2 forwarding, belong to whoever fills them.
 */
export function weftTables(client: P4RuntimeClient, p4info: P4InfoObject): EntryWriter & { versioning: Versioning } {
  const pipe = pipelineFromP4Info(p4info);
  const versioning = versioningOf(pipe);
  const ids = new Set([pipe.tableId, ...pipe.classifierById.keys()]);
  return {
    name: client.name,
    versioning,
    writeEach: (updates) => client.writeEach(updates),
    async readTables(): Promise<SwitchTables> {
      const read = await client.readTablesWithDefault(versioning.flagTable);
      const entries = read.entries.filter((e) => ids.has(e.tableId));
      const flag = read.defaultEntry;
      if (!flag) throw new Error(`${client.name}: the switch did not return the default entry of weft_gen (the active policy generation)`);
      return { entries, active: versioning.activeOf(flag) };
    },
  };
}

/** What a push writes, read from the device directory and checked before anything reaches the switch. */
interface PreparedPush {
  p4info: P4InfoObject;
  desired: WireEntry[];
  deviceConfig: Uint8Array | undefined;
  cookie: bigint;
}

async function preparePush(opts: P4ApplyOptions): Promise<PreparedPush> {
  const p4info = await readP4Info(opts.deviceDir);
  const desired = await readDesiredEntries(opts.deviceDir, p4info);
  // Read and check before connecting: an unfit device config must fail before anything reaches the switch.
  const deviceConfig = await readDeviceConfig(opts.device, opts.inventoryDir);
  checkDeviceConfig(opts.device, p4info, deviceConfig, opts.inventoryDir);
  return { p4info, desired, deviceConfig, cookie: pipelineCookie(p4info, deviceConfig) };
}

/**
 * 'ours' when the switch's pipeline carries `cookie`, so it is the one Weft
 * set with this P4Info and device config (the cookie is their digest);
 * otherwise the pipeline with its P4Info, or undefined when there is none.
 * Asking for the cookie first spares fetching and decoding the P4Info in
 * the usual case, where Weft set the pipeline.
 */
async function pipelineUnlessOurs(client: P4RuntimeClient, cookie: bigint): Promise<'ours' | PipelineConfig | undefined> {
  const tag = await client.getPipelineConfig('COOKIE_ONLY');
  if (!tag) return undefined;
  if (tag.cookie === cookie) return 'ours';
  return client.getPipelineConfig('P4INFO_AND_COOKIE');
}

/** The push on a connection as the primary controller. */
async function pushPrepared(client: P4RuntimeClient, opts: P4ApplyOptions, { p4info, desired, deviceConfig, cookie }: PreparedPush): Promise<P4ApplyResult> {
  const { device } = opts;
  const found = await pipelineUnlessOurs(client, cookie);
  // 'ours' is the pipeline Weft set, with this P4Info and device config: nothing to check or set.
  const have = found === 'ours' ? undefined : found;
  let pipelineSet = false;
  const otherProgram = have?.p4info !== undefined && p4InfoDigestKey(have.p4info) !== weftDigestKey(p4info);
  if (otherProgram && !deviceConfig) {
    const diff = p4InfoDifferences(have!.p4info!, p4info, 'the switch', join(opts.deviceDir, P4INFO_FILE));
    throw new Error(
      `${device.name}: the switch runs a pipeline whose P4Info differs from Weft's: ${firstProblems(diff)}; ` +
        'without mgmt.p4runtime.deviceConfig Weft cannot replace its program, nothing written',
    );
  }
  // Without a device config the P4Info alone says whether the pipeline is Weft's; with one, the cookie also says whether it is this config.
  if (found !== 'ours' && (!have?.p4info || otherProgram || (deviceConfig !== undefined && have.cookie !== cookie))) {
    await client.setPipeline(p4info, 'VERIFY_AND_COMMIT', deviceConfig, cookie);
    pipelineSet = true;
  }
  const sw = weftTables(client, p4info);
  const current = await sw.readTables();
  const plan = planTransition(current, desired, tableSizes(p4info, device), sw.versioning);
  if (plan.closed) log.warn({ device: device.name, tables: plan.inPlace }, 'tables too full for two policy generations: changing them in place with every IP packet dropped meanwhile');
  await runTransition(sw, plan, current, sw.versioning);
  const after = await sw.readTables();
  const want = new Set(plan.final.map(entryString));
  const unexpected = after.entries.filter((e) => !want.has(entryString(e))).length;
  if (after.entries.length !== plan.final.length || unexpected > 0 || after.active !== plan.active) {
    throw new Error(`${device.name}: read-back shows ${after.entries.length} entries (${unexpected} not written by Weft) in generation ${after.active}, expected ${plan.final.length} in generation ${plan.active}`);
  }
  const count = (t: 'INSERT' | 'MODIFY' | 'DELETE'): number => plan.batches.flat().filter((u) => u.type === t && !u.entry.isDefaultAction).length;
  const result: P4ApplyResult = { device: device.name, pipelineSet, inPlaceTables: plan.inPlace, generation: after.active, inserted: count('INSERT'), modified: count('MODIFY'), deleted: count('DELETE'), entries: after.entries.length };
  log.info(result, 'p4 device applied');
  return result;
}

export async function applyP4(opts: P4ApplyOptions): Promise<P4ApplyResult> {
  const prepared = await preparePush(opts);
  const client = await connect(opts);
  try {
    return await pushPrepared(client, opts, prepared);
  } finally {
    client.close();
  }
}

/** Removes every Weft entry from the switch, all or nothing; returns how many. */
export async function removeP4(opts: Omit<P4ApplyOptions, 'deviceDir'>): Promise<number> {
  const client = await connect(opts);
  try {
    return await removeOn(client, opts.device);
  } finally {
    client.close();
  }
}

/** removeP4 on a connection as the primary controller. */
async function removeOn(client: P4RuntimeClient, device: Device): Promise<number> {
  const have = await client.getPipeline();
  if (!have) return 0;
  const sw = weftTables(client, have);
  const current = await sw.readTables();
  const plan = planTransition(current, [], tableSizes(have, device), sw.versioning);
  await runTransition(sw, plan, current, sw.versioning);
  return current.entries.length;
}

/**
 * How the policy the switch runs (its active generation) differs from the
 * desired one, one line per update that would make them equal; entries left
 * in the inactive generation by a change cut short are not part of what
 * runs, and are said apart.
 */
function driftLines(running: SwitchTables, desired: WireEntry[], v: Versioning): { differences: string[]; leftovers: number } {
  const differences = driftOf(running, desired, v).map((u) => `${u.type} table ${u.entry.tableId} generation ${running.active}${u.entry.priority ? ` priority ${u.entry.priority}` : ''} ${JSON.stringify(u.entry.match)}`);
  return { differences, leftovers: splitGenerations(running, v).idle.length };
}

/** What the switch runs that differs from the device's artefacts, one line per entry; empty when it runs them. */
export async function driftP4(opts: P4ApplyOptions): Promise<string[]> {
  const p4info = await readP4Info(opts.deviceDir);
  const desired = await readDesiredEntries(opts.deviceDir, p4info);
  const client = await connect(opts, false);
  try {
    const sw = weftTables(client, p4info);
    const running = await sw.readTables();
    const { differences, leftovers } = driftLines(running, desired, sw.versioning);
    if (leftovers) log.info({ device: opts.device.name, generation: running.active, leftovers }, 'inactive generation holds entries of a change cut short (not enforced; the next apply clears them)');
    return differences;
  } finally {
    client.close();
  }
}

/**
 * The rollout driver's connection to a switch, arbitrated with election id
 * 1: a push needs to be primary (`writes`), a read-back does not. Held by a
 * run, it serves the device's push and its end-of-run read-back; once it is
 * no longer primary (its stream channel closed, the switch restarted) the
 * next call opens a fresh one.
 */
const switchLink = (ctx: DriverContext, writes: boolean): Link<P4RuntimeClient> => ({
  open: () => connect({ device: ctx.device, timeoutMs: ctx.timeoutMs }, writes),
  usable: (c) => c.isPrimary,
  close: (c) => c.close(),
});

/** The P4 target's side of the rollout contract (targets/contract.ts). */
export const p4Driver: TargetDriver = {
  transport: 'p4runtime',
  wave: 1,
  async push(ctx, art) {
    const opts: P4ApplyOptions = { device: ctx.device, deviceDir: art.deviceDir, inventoryDir: ctx.inventoryDir, timeoutMs: ctx.timeoutMs };
    const prepared = await preparePush(opts);
    const r = await withConnection(ctx.connections, ctx.device.name, switchLink(ctx, true), (client) => pushPrepared(client, opts, prepared));
    const how = r.inPlaceTables.length ? `tables ${r.inPlaceTables.join(', ')} changed in place with all IP dropped meanwhile (no room for two generations)` : `generation ${r.generation} active`;
    return `P4Runtime write: ${r.inserted} inserted, ${r.modified} modified, ${r.deleted} deleted${r.pipelineSet ? ', pipeline set' : ''}; ${how}; ${r.entries} entries read back`;
  },
  async readBack(ctx, art) {
    const p4info = await readP4Info(art.deviceDir);
    const desired = await readDesiredEntries(art.deviceDir, p4info);
    const cookie = pipelineCookie(p4info, await readDeviceConfig(ctx.device, ctx.inventoryDir));
    return withConnection(ctx.connections, ctx.device.name, switchLink(ctx, false), async (client) => {
      const have = await pipelineUnlessOurs(client, cookie);
      if (have === undefined || (have !== 'ours' && !have.p4info)) return { differences: ["no pipeline set (the switch runs nothing of Weft's)"], entries: 0 };
      const differences: string[] = [];
      // 'ours' is the pipeline Weft set, with this P4Info and device config; another is compared in full.
      if (have !== 'ours') {
        const info = have.p4info as P4InfoObject;
        if (p4InfoDigestKey(info) !== weftDigestKey(p4info)) differences.push(`pipeline: another P4Info (${firstProblems(p4InfoDifferences(info, p4info, 'the switch', P4INFO_FILE))})`);
        else if (have.cookie !== undefined && have.cookie !== cookie && ctx.device.mgmt.p4runtime?.deviceConfig !== undefined) differences.push(`pipeline cookie ${have.cookie}, wanted ${cookie}`);
      }
      const sw = weftTables(client, p4info);
      const running = await sw.readTables();
      const drift = driftLines(running, desired, sw.versioning);
      differences.push(...drift.differences);
      if (drift.leftovers) log.info({ device: ctx.device.name, generation: running.active, leftovers: drift.leftovers }, 'inactive generation holds entries of a change cut short (not enforced; the next apply clears them)');
      return { differences, entries: running.entries.length - drift.leftovers };
    });
  },
  async remove(ctx) {
    const n = await withConnection(ctx.connections, ctx.device.name, switchLink(ctx, true), (client) => removeOn(client, ctx.device));
    return `${n} entries deleted`;
  },
  async diff(beforeDir, afterDir) {
    const updates = diffEntries((await readDeviceArtefacts(beforeDir)).entries, (await readDeviceArtefacts(afterDir)).entries);
    const n = (t: UpdateJson['type']): number => updates.filter((u) => u.type === t).length;
    const [added, modified, removed] = [n('INSERT'), n('MODIFY'), n('DELETE')];
    return { added, removed, modified, summary: `table entries: ${added} inserted, ${modified} modified, ${removed} deleted` };
  },
  counters: (ctx) => withConnection(undefined, ctx.device.name, switchLink(ctx, false), async (client) => p4CounterHits(await client.readCounters())),
};
