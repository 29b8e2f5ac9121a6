// Talks to a P4 switch: makes its pipeline Weft's (only if it differs, since
// committing a pipeline wipes the table), then moves the table from what the
// switch holds to what entries.json says in one batch (deletes, modifies,
// inserts) that the switch applies all-or-nothing, and reads it back. The
// pipeline carries the operator's compiled device configuration (bmv2 JSON,
// Tofino binary) when the inventory references one.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { Device } from '../../inventory/model.ts';
import type { DriverContext, TargetDriver } from '../contract.ts';
import { InputError } from '../../orchestrator/diagnostics.ts';
import { logger } from '../../orchestrator/log.ts';
import { entryFromProto, entryKey, entryToJson, type AclEntry, type EntriesDocument, type UpdateJson } from './entries.ts';
import { parseP4InfoText, pipelineFromP4Info, type P4InfoObject } from './p4info.ts';
import { T } from './proto.ts';
import { P4RuntimeClient } from './client.ts';
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

function canonicalP4Info(info: P4InfoObject): string {
  return Buffer.from(T.P4Info.encode(T.P4Info.fromObject(info as Record<string, unknown>)).finish()).toString('base64');
}

/** The update batch taking `current` to `desired`: deletes first, so the table never overflows mid-batch. */
export function diffEntries(current: AclEntry[], desired: AclEntry[]): UpdateJson[] {
  const cur = new Map(current.map((e) => [entryKey(e), e]));
  const want = new Map(desired.map((e) => [entryKey(e), e]));
  const dels: UpdateJson[] = [];
  const mods: UpdateJson[] = [];
  const ins: UpdateJson[] = [];
  for (const [k, e] of cur) if (!want.has(k)) dels.push({ type: 'DELETE', entity: { tableEntry: entryToJson(e) } });
  for (const [k, e] of want) {
    const had = cur.get(k);
    if (!had) ins.push({ type: 'INSERT', entity: { tableEntry: entryToJson(e) } });
    else if (had.action !== e.action || had.origin !== e.origin) mods.push({ type: 'MODIFY', entity: { tableEntry: entryToJson(e) } });
  }
  return [...dels, ...mods, ...ins];
}

export async function readDeviceArtefacts(deviceDir: string): Promise<{ p4info: P4InfoObject; entries: AclEntry[] }> {
  const p4info = parseP4InfoText(await readFile(join(deviceDir, P4INFO_FILE), 'utf8'), join(deviceDir, P4INFO_FILE));
  const pipe = pipelineFromP4Info(p4info);
  const doc = JSON.parse(await readFile(join(deviceDir, ENTRIES_FILE), 'utf8')) as EntriesDocument;
  return { p4info, entries: doc.updates.map((u) => entryFromProto(u.entity.tableEntry, pipe)) };
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
  const h = createHash('sha256').update(canonicalP4Info(p4info));
  if (deviceConfig) h.update(deviceConfig);
  return h.digest().readBigUInt64BE(0);
}

export async function applyP4(opts: P4ApplyOptions): Promise<P4ApplyResult> {
  const { device } = opts;
  const rt = device.mgmt.p4runtime;
  const { p4info, entries } = await readDeviceArtefacts(opts.deviceDir);
  // Read before connecting: an unreadable device config must fail before anything reaches the switch.
  const deviceConfig = await readDeviceConfig(device, opts.inventoryDir);
  const cookie = pipelineCookie(p4info, deviceConfig);
  const client = await P4RuntimeClient.connect({
    address: opts.address ?? p4Address(device),
    deviceId: rt?.deviceId ?? 1,
    electionId: opts.electionId ?? 1n,
    name: device.name,
    timeoutMs: opts.timeoutMs,
  });
  try {
    if (!client.isPrimary) throw new Error(`${device.name}: another controller holds a higher election id; not writing`);
    const have = await client.getPipelineConfig('P4INFO_AND_COOKIE');
    let pipelineSet = false;
    // Without a device config the P4Info alone says whether the pipeline is Weft's; with one, the cookie also says whether it is this config.
    if (!have?.p4info || canonicalP4Info(have.p4info) !== canonicalP4Info(p4info) || (deviceConfig !== undefined && have.cookie !== cookie)) {
      await client.setPipeline(p4info, 'VERIFY_AND_COMMIT', deviceConfig, cookie);
      pipelineSet = true;
    }
    const current = pipelineSet ? [] : await client.readEntries();
    const updates = diffEntries(current, entries);
    if (updates.length) await client.write(updates, 'ROLLBACK_ON_ERROR');
    const after = await client.readEntries();
    const want = new Set(entries.map(entryKey));
    if (after.length !== entries.length || after.some((e) => !want.has(entryKey(e)))) {
      throw new Error(`${device.name}: read-back shows ${after.length} entries, expected ${entries.length}`);
    }
    const count = (t: UpdateJson['type']): number => updates.filter((u) => u.type === t).length;
    const result = { device: device.name, pipelineSet, inserted: count('INSERT'), modified: count('MODIFY'), deleted: count('DELETE'), entries: after.length };
    log.info(result, 'p4 device applied');
    return result;
  } finally {
    client.close();
  }
}

/** Removes every Weft entry from the switch (one all-or-nothing batch). */
export async function removeP4(opts: Omit<P4ApplyOptions, 'deviceDir'>): Promise<number> {
  const rt = opts.device.mgmt.p4runtime;
  const client = await P4RuntimeClient.connect({
    address: opts.address ?? p4Address(opts.device),
    deviceId: rt?.deviceId ?? 1,
    electionId: opts.electionId ?? 1n,
    name: opts.device.name,
    timeoutMs: opts.timeoutMs,
  });
  try {
    if (!(await client.getPipeline())) return 0;
    const updates = diffEntries(await client.readEntries(), []);
    if (updates.length) await client.write(updates, 'ROLLBACK_ON_ERROR');
    return updates.length;
  } finally {
    client.close();
  }
}

/** A connection as the primary controller, for the rollout driver's read-back. */
async function connectFor(ctx: DriverContext): Promise<P4RuntimeClient> {
  return P4RuntimeClient.connect({ address: p4Address(ctx.device), deviceId: ctx.device.mgmt.p4runtime?.deviceId ?? 1, electionId: 1n, name: ctx.device.name, timeoutMs: ctx.timeoutMs });
}

/** The P4 target's side of the rollout contract (targets/contract.ts). */
export const p4Driver: TargetDriver = {
  transport: 'p4runtime',
  wave: 1,
  async push(ctx, art) {
    const r = await applyP4({ device: ctx.device, deviceDir: art.deviceDir, inventoryDir: ctx.inventoryDir, timeoutMs: ctx.timeoutMs });
    return `P4Runtime write: ${r.inserted} inserted, ${r.modified} modified, ${r.deleted} deleted${r.pipelineSet ? ', pipeline set' : ''}; ${r.entries} entries read back`;
  },
  async readBack(ctx, art) {
    const { p4info, entries } = await readDeviceArtefacts(art.deviceDir);
    const cookie = pipelineCookie(p4info, await readDeviceConfig(ctx.device, ctx.inventoryDir));
    const client = await connectFor(ctx);
    try {
      const have = await client.getPipelineConfig('P4INFO_AND_COOKIE');
      if (!have?.p4info) return { differences: ['no pipeline set (the switch runs nothing of Weft\'s)'], entries: 0 };
      const differences: string[] = [];
      if (canonicalP4Info(have.p4info) !== canonicalP4Info(p4info)) differences.push('pipeline: another P4Info');
      else if (have.cookie !== undefined && have.cookie !== cookie && ctx.device.mgmt.p4runtime?.deviceConfig !== undefined) differences.push(`pipeline cookie ${have.cookie}, wanted ${cookie}`);
      const running = await client.readEntries();
      for (const u of diffEntries(running, entries)) {
        const verb = u.type === 'INSERT' ? 'missing' : u.type === 'DELETE' ? 'not in the artefacts' : 'another action';
        differences.push(`entry ${JSON.stringify(u.entity.tableEntry.match ?? [])} priority ${u.entity.tableEntry.priority ?? 0}: ${verb}`);
      }
      return { differences, entries: running.length };
    } finally {
      client.close();
    }
  },
  async remove(ctx) {
    const n = await removeP4({ device: ctx.device, timeoutMs: ctx.timeoutMs });
    return `${n} entries deleted`;
  },
  async diff(beforeDir, afterDir) {
    const updates = diffEntries((await readDeviceArtefacts(beforeDir)).entries, (await readDeviceArtefacts(afterDir)).entries);
    const n = (t: UpdateJson['type']): number => updates.filter((u) => u.type === t).length;
    const [added, modified, removed] = [n('INSERT'), n('MODIFY'), n('DELETE')];
    return { added, removed, modified, summary: `table entries: ${added} inserted, ${modified} modified, ${removed} deleted` };
  },
};
