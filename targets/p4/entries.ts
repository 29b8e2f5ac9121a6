// Weft's table entries: ACL entries and classifier (address -> class id)
// entries, in the in-memory form codegen produces and the pipeline model
// evaluates, and their P4Runtime form (proto3 JSON Updates as written to
// entries.json, with canonical byte strings). Every entry belongs to one
// policy generation (the exact key field "gen"); codegen writes generation 0
// and the transition moves a policy to the generation it writes.

import { FAMILY_BITS, type Cidr } from '../../orchestrator/net/ip.ts';
import { PIPELINE, type AclFieldName, type ClassifierName, type Pipeline } from './p4info.ts';
import type { Ternary } from './ternary.ts';

export interface AclEntry {
  /** Higher wins; never 0. */
  priority: number;
  match: Partial<Record<AclFieldName, Ternary>>;
  action: 'permit' | 'deny';
  /** Where the entry comes from, e.g. "rule 3 web-to-db" (kept as the entry's metadata). */
  origin: string;
  /** The policy generation the entry belongs to; absent is generation 0. */
  gen?: number;
}

/** One classifier entry: addresses under `prefix` (longest match wins) get `label` on that side. */
export interface ClassEntry {
  table: ClassifierName;
  prefix: Cidr;
  label: bigint;
  /** The policy generation the entry belongs to; absent is generation 0. */
  gen?: number;
}

/** Every entry of the pipeline, by kind. */
export type P4Entry = { kind: 'acl'; entry: AclEntry } | { kind: 'class'; entry: ClassEntry };

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
  exact?: { value: string };
  ternary?: { value: string; mask: string };
  lpm?: { value: string; prefixLen: number };
}

export interface TableEntryJson {
  tableId: number;
  match: FieldMatchJson[];
  action: { action: { actionId: number; params?: { paramId: number; value: string }[] } };
  /** Ternary tables only (LPM entries have none). */
  priority?: number;
  metadata?: string;
}

export interface UpdateJson {
  type: 'INSERT' | 'MODIFY' | 'DELETE';
  entity: { tableEntry: TableEntryJson };
}

/** The entries.json document: a WriteRequest without its election id (classifier entries first, then the ACL). */
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
  match.push(genMatch(p.genFieldId, e.gen));
  return {
    tableId: p.tableId,
    match,
    action: { action: { actionId: e.action === 'permit' ? p.permitId : p.denyId } },
    priority: e.priority,
    metadata: Buffer.from(e.origin, 'utf8').toString('base64'),
  };
}

/** The exact match on an entry's generation (P4Runtime never omits an exact field). */
function genMatch(fieldId: number, gen: number | undefined): FieldMatchJson {
  return { fieldId, exact: { value: toBytes(BigInt(gen ?? 0)).toString('base64') } };
}

export function classEntryToJson(e: ClassEntry, p: Pipeline = PIPELINE): TableEntryJson {
  const t = p.classifiers[e.table];
  // A /0 is the whole family: P4Runtime wants a don't-care LPM omitted.
  const match: FieldMatchJson[] = e.prefix.len === 0 ? [] : [{ fieldId: t.fieldId, lpm: { value: toBytes(e.prefix.addr).toString('base64'), prefixLen: e.prefix.len } }];
  match.push(genMatch(t.genFieldId, e.gen));
  match.sort((a, b) => a.fieldId - b.fieldId);
  return { tableId: t.tableId, match, action: { action: { actionId: t.actionId, params: [{ paramId: t.paramId, value: toBytes(e.label).toString('base64') }] } } };
}

export function p4EntryToJson(e: P4Entry, p: Pipeline = PIPELINE): TableEntryJson {
  return e.kind === 'acl' ? entryToJson(e.entry, p) : classEntryToJson(e.entry, p);
}

/** A table entry as decoded from proto or JSON (bytes as Buffer or base64). */
export interface TableEntryLike {
  tableId?: number;
  match?: {
    fieldId?: number;
    exact?: { value?: Uint8Array | string };
    ternary?: { value?: Uint8Array | string; mask?: Uint8Array | string };
    lpm?: { value?: Uint8Array | string; prefixLen?: number };
  }[];
  action?: { action?: { actionId?: number; params?: { paramId?: number; value?: Uint8Array | string }[] } };
  priority?: number;
  metadata?: Uint8Array | string;
}

function bytesOf(b: Uint8Array | string | undefined): Uint8Array {
  if (b === undefined) return new Uint8Array();
  return typeof b === 'string' ? Buffer.from(b, 'base64') : b;
}

/** The generation an entry's exact gen field names; throws when it is missing or too wide. */
function genOfMatch(te: TableEntryLike, fieldId: number, table: string, p: Pipeline): number {
  const ms = (te.match ?? []).filter((m) => m.fieldId === fieldId);
  if (ms.length !== 1 || !ms[0].exact) throw new Error(`${table}: the exact match field gen (id ${fieldId}) must be given once`);
  const gen = fromBytes(bytesOf(ms[0].exact.value));
  if (gen >= BigInt(p.generation.count)) throw new Error(`${table}: generation ${gen} outside 0-${p.generation.count - 1}`);
  return Number(gen);
}

/** The entry with its generation, the field left out for generation 0 (as codegen writes it). */
function withGen<T extends { gen?: number }>(e: T, gen: number): T {
  return gen === 0 ? e : { ...e, gen };
}

/** Validates and converts one table entry; throws with what is wrong (the reason a switch gives). */
export function entryFromProto(te: TableEntryLike, p: Pipeline = PIPELINE): AclEntry {
  if (te.tableId !== p.tableId) throw new Error(`unknown table id ${te.tableId ?? 0}`);
  if (!te.priority || te.priority <= 0) throw new Error('a ternary table entry needs a priority > 0');
  const actionId = te.action?.action?.actionId;
  const action = actionId === p.permitId ? 'permit' : actionId === p.denyId ? 'deny' : undefined;
  if (!action) throw new Error(`action id ${actionId ?? 0} is not an action of ${p.tableName}`);
  const gen = genOfMatch(te, p.genFieldId, p.tableName, p);
  const match: AclEntry['match'] = {};
  for (const m of te.match ?? []) {
    if (m.fieldId === p.genFieldId) continue;
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
  return withGen<AclEntry>({ priority: te.priority, match, action, origin: Buffer.from(bytesOf(te.metadata)).toString('utf8') }, gen);
}

/** Validates and converts one classifier entry; throws with what is wrong. */
export function classEntryFromProto(te: TableEntryLike, p: Pipeline = PIPELINE): ClassEntry {
  const t = p.classifierById.get(te.tableId ?? 0);
  if (!t) throw new Error(`unknown table id ${te.tableId ?? 0}`);
  if (te.priority) throw new Error(`table ${t.name} is LPM: its entries take no priority`);
  const bits = FAMILY_BITS[t.family];
  const gen = genOfMatch(te, t.genFieldId, t.name, p);
  let prefix: Cidr = { family: t.family, addr: 0n, len: 0 };
  for (const m of te.match ?? []) {
    if (m.fieldId === t.genFieldId) continue;
    if (m.fieldId !== t.fieldId) throw new Error(`unknown match field id ${m.fieldId ?? 0} in ${t.name}`);
    if (!m.lpm) throw new Error(`match field of ${t.name} must be lpm`);
    const vb = bytesOf(m.lpm.value);
    const len = m.lpm.prefixLen ?? 0;
    if (vb.length > bits / 8) throw new Error(`${t.name}: address longer than ${bits} bits`);
    if (!(len >= 1 && len <= bits)) throw new Error(`${t.name}: prefix length ${len} outside 1-${bits} (a /0 must be omitted)`);
    const addr = fromBytes(vb);
    if ((addr & ((1n << BigInt(bits - len)) - 1n)) !== 0n) throw new Error(`${t.name}: address has bits beyond its /${len}`);
    prefix = { family: t.family, addr, len };
  }
  const action = te.action?.action;
  if (action?.actionId !== t.actionId) throw new Error(`action id ${action?.actionId ?? 0} is not an action of ${t.name}`);
  const params = action.params ?? [];
  if (params.length !== 1 || params[0].paramId !== t.paramId) throw new Error(`${t.name}: the action takes one parameter, label (id ${t.paramId})`);
  const label = fromBytes(bytesOf(params[0].value));
  if (label >= 1n << BigInt(t.labelBits)) throw new Error(`${t.name}: label ${label} wider than ${t.labelBits} bits`);
  return withGen<ClassEntry>({ table: t.name, prefix, label }, gen);
}

/** Any table entry of the pipeline, by its table id. */
export function p4EntryFromProto(te: TableEntryLike, p: Pipeline = PIPELINE): P4Entry {
  return p.classifierById.has(te.tableId ?? 0) ? { kind: 'class', entry: classEntryFromProto(te, p) } : { kind: 'acl', entry: entryFromProto(te, p) };
}

/** The key of any entry in its table (an LPM entry is keyed by its prefix). */
export function p4EntryKey(e: P4Entry): string {
  return e.kind === 'acl' ? entryKey(e.entry) : `${e.entry.table} ${e.entry.prefix.addr.toString(16)}/${e.entry.prefix.len} gen ${e.entry.gen ?? 0}`;
}

/** The key that identifies an entry in its table (match + priority), as P4Runtime defines it. */
export function entryKey(e: AclEntry): string {
  const parts = [String(e.priority), `gen ${e.gen ?? 0}`];
  for (const f of PIPELINE.fields) {
    const t = e.match[f.name];
    if (t) parts.push(`${f.id}=${t.value.toString(16)}/${t.mask.toString(16)}`);
  }
  return parts.join(' ');
}
