// Table entries in the form P4Runtime carries them, whatever the table: one
// canonical plain object per entry (byte strings in base64 with no leading
// zero bytes, match fields in id order), so entries read back from a switch,
// entries from entries.json and entries Weft computes compare as strings. The
// driver diffs and writes these without knowing any table's layout, so it
// keeps working when the program gains tables.

import { protoType } from './proto.ts';

const TableEntry = protoType('p4.v1.TableEntry');

/** One field match as P4Runtime defines it (exactly one kind set). */
export interface WireFieldMatch {
  fieldId: number;
  exact?: { value: string };
  ternary?: { value: string; mask: string };
  lpm?: { value: string; prefixLen: number };
  range?: { low: string; high: string };
  optional?: { value: string };
}

/** A table entry: its key (table, match, priority) and its value (action, metadata). */
export interface WireEntry {
  tableId: number;
  match: WireFieldMatch[];
  priority?: number;
  action?: Record<string, unknown>;
  metadata?: string;
  /** The table's default entry (no match, no priority): only its action can be modified. */
  isDefaultAction?: boolean;
}

/** P4Runtime's canonical binary string: no leading zero bytes, at least one byte. */
function canonicalBytes(b64: string): string {
  const b = Buffer.from(b64, 'base64');
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return (b.length === 0 ? Buffer.alloc(1) : b.subarray(i)).toString('base64');
}

function canonicalMatch(m: Record<string, Record<string, unknown> | number>): WireFieldMatch {
  const out: WireFieldMatch = { fieldId: Number(m.fieldId) };
  for (const kind of ['exact', 'ternary', 'lpm', 'range', 'optional'] as const) {
    const v = m[kind];
    if (typeof v !== 'object') continue;
    const c: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) c[k] = k === 'prefixLen' ? Number(x) : canonicalBytes(String(x));
    (out as unknown as Record<string, unknown>)[kind] = c;
  }
  return out;
}

/** Action parameters are numbers too: canonical bytes, in parameter id order. */
function canonicalAction(a: Record<string, unknown>): Record<string, unknown> {
  const act = a.action as { actionId?: number; params?: { paramId?: number; value?: string }[] } | undefined;
  if (!act) return a;
  const params = (act.params ?? []).map((p) => ({ paramId: Number(p.paramId), value: canonicalBytes(p.value ?? '') })).sort((x, y) => x.paramId - y.paramId);
  return { ...a, action: params.length ? { actionId: act.actionId, params } : { actionId: act.actionId } };
}

/**
 * The canonical form of a table entry given as proto3 JSON (base64 strings)
 * or as decoded from the wire (Buffers). Counter data, meter configs and other
 * per-entry state are left out: they are not part of what Weft writes.
 */
export function wireEntry(te: object): WireEntry {
  const o = TableEntry.toObject(TableEntry.fromObject(te as Record<string, unknown>), { bytes: String, longs: Number, enums: String, defaults: false, oneofs: false }) as {
    tableId?: number;
    match?: Record<string, Record<string, unknown> | number>[];
    priority?: number;
    action?: Record<string, unknown>;
    metadata?: string;
    isDefaultAction?: boolean;
  };
  const e: WireEntry = { tableId: o.tableId ?? 0, match: (o.match ?? []).map(canonicalMatch).sort((x, y) => x.fieldId - y.fieldId) };
  if (o.priority) e.priority = o.priority;
  if (o.action) e.action = canonicalAction(o.action);
  if (o.metadata) e.metadata = o.metadata;
  if (o.isDefaultAction) e.isDefaultAction = true;
  return e;
}

/** What identifies an entry in its table: table, match and priority (the key of a MODIFY or DELETE). */
export function keyOf(e: WireEntry): WireEntry {
  if (e.isDefaultAction) return { tableId: e.tableId, match: [], isDefaultAction: true };
  return e.priority ? { tableId: e.tableId, match: e.match, priority: e.priority } : { tableId: e.tableId, match: e.match };
}

export function keyString(e: WireEntry): string {
  return JSON.stringify(keyOf(e));
}

/** Key and value, for comparing whole entries. */
export function entryString(e: WireEntry): string {
  return JSON.stringify({ ...keyOf(e), action: e.action ?? null, metadata: e.metadata ?? '' });
}
