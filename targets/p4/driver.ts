// Talks to a P4 switch: makes its pipeline Weft's (only if it differs, since
// committing a pipeline wipes the table), then moves the table from what the
// switch holds to what entries.json says in one batch (deletes, modifies,
// inserts) that the switch applies all-or-nothing, and reads it back.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Device } from '../../inventory/model.ts';
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

export async function applyP4(opts: P4ApplyOptions): Promise<P4ApplyResult> {
  const { device } = opts;
  const rt = device.mgmt.p4runtime;
  const { p4info, entries } = await readDeviceArtefacts(opts.deviceDir);
  const client = await P4RuntimeClient.connect({
    address: opts.address ?? p4Address(device),
    deviceId: rt?.deviceId ?? 1,
    electionId: opts.electionId ?? 1n,
    name: device.name,
    timeoutMs: opts.timeoutMs,
  });
  try {
    if (!client.isPrimary) throw new Error(`${device.name}: another controller holds a higher election id; not writing`);
    const have = await client.getPipeline();
    let pipelineSet = false;
    if (!have || canonicalP4Info(have) !== canonicalP4Info(p4info)) {
      await client.setPipeline(p4info, 'VERIFY_AND_COMMIT');
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
