// Weft's ACL table entries: the in-memory form codegen produces and the
// interpreter evaluates, and their P4Runtime form (proto3 JSON Updates as
// written to entries.json, with canonical byte strings).

import { PIPELINE, type AclFieldName, type Pipeline } from './p4info.ts';
import type { Ternary } from './ternary.ts';

export interface AclEntry {
  /** Higher wins; never 0. */
  priority: number;
  match: Partial<Record<AclFieldName, Ternary>>;
  action: 'permit' | 'deny';
  /** Where the entry comes from, e.g. "rule 3 web-to-db" (kept as the entry's metadata). */
  origin: string;
}

/** P4Runtime canonical binary string: big-endian, no leading zero bytes, at least one byte. */
export function toBytes(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, 'hex');
}

export function fromBytes(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`);
}

export interface FieldMatchJson {
  fieldId: number;
  ternary: { value: string; mask: string };
}

export interface TableEntryJson {
  tableId: number;
  match: FieldMatchJson[];
  action: { action: { actionId: number } };
  priority: number;
  metadata?: string;
}

export interface UpdateJson {
  type: 'INSERT' | 'MODIFY' | 'DELETE';
  entity: { tableEntry: TableEntryJson };
}

/** The entries.json document: a WriteRequest without its election id. */
export interface EntriesDocument {
  deviceId: string;
  updates: UpdateJson[];
}

export function entryToJson(e: AclEntry, p: Pipeline = PIPELINE): TableEntryJson {
  const match: FieldMatchJson[] = [];
  for (const f of p.fields) {
    const t = e.match[f.name];
    // A don't-care ternary field is omitted, as P4Runtime requires.
    if (!t || t.mask === 0n) continue;
    match.push({ fieldId: f.id, ternary: { value: toBytes(t.value).toString('base64'), mask: toBytes(t.mask).toString('base64') } });
  }
  return {
    tableId: p.tableId,
    match,
    action: { action: { actionId: e.action === 'permit' ? p.permitId : p.denyId } },
    priority: e.priority,
    metadata: Buffer.from(e.origin, 'utf8').toString('base64'),
  };
}

/** A table entry as decoded from proto or JSON (bytes as Buffer or base64). */
export interface TableEntryLike {
  tableId?: number;
  match?: { fieldId?: number; ternary?: { value?: Uint8Array | string; mask?: Uint8Array | string } }[];
  action?: { action?: { actionId?: number } };
  priority?: number;
  metadata?: Uint8Array | string;
}

function bytesOf(b: Uint8Array | string | undefined): Uint8Array {
  if (b === undefined) return new Uint8Array();
  return typeof b === 'string' ? Buffer.from(b, 'base64') : b;
}

/** Validates and converts one table entry; throws with what is wrong (the reason a switch gives). */
export function entryFromProto(te: TableEntryLike, p: Pipeline = PIPELINE): AclEntry {
  if (te.tableId !== p.tableId) throw new Error(`unknown table id ${te.tableId ?? 0}`);
  if (!te.priority || te.priority <= 0) throw new Error('a ternary table entry needs a priority > 0');
  const actionId = te.action?.action?.actionId;
  const action = actionId === p.permitId ? 'permit' : actionId === p.denyId ? 'deny' : undefined;
  if (!action) throw new Error(`action id ${actionId ?? 0} is not an action of ${p.tableName}`);
  const match: AclEntry['match'] = {};
  for (const m of te.match ?? []) {
    const f = p.fieldById.get(m.fieldId ?? 0);
    if (!f) throw new Error(`unknown match field id ${m.fieldId ?? 0}`);
    if (match[f.name]) throw new Error(`match field ${f.name} given twice`);
    if (!m.ternary) throw new Error(`match field ${f.name} must be ternary`);
    const vb = bytesOf(m.ternary.value);
    const mb = bytesOf(m.ternary.mask);
    const width = Math.ceil(f.bitwidth / 8);
    if (vb.length > width || mb.length > width) throw new Error(`match field ${f.name}: byte string longer than ${f.bitwidth} bits`);
    const value = fromBytes(vb);
    const mask = fromBytes(mb);
    const limit = 1n << BigInt(f.bitwidth);
    if (value >= limit || mask >= limit) throw new Error(`match field ${f.name}: value or mask wider than ${f.bitwidth} bits`);
    if (mask === 0n) throw new Error(`match field ${f.name}: a don't-care ternary must be omitted`);
    if ((value & ~mask) !== 0n) throw new Error(`match field ${f.name}: value has bits outside the mask`);
    match[f.name] = { value, mask };
  }
  return { priority: te.priority, match, action, origin: Buffer.from(bytesOf(te.metadata)).toString('utf8') };
}

/** The key that identifies an entry in its table (match + priority), as P4Runtime defines it. */
export function entryKey(e: AclEntry): string {
  const parts = [String(e.priority)];
  for (const f of PIPELINE.fields) {
    const t = e.match[f.name];
    if (t) parts.push(`${f.id}=${t.value.toString(16)}/${t.mask.toString(16)}`);
  }
  return parts.join(' ');
}
