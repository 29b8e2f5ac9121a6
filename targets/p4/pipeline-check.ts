// Checks that the pieces of a P4 pipeline belong together before any of them
// reaches a switch: two P4Infos compared object by object (tables, keys,
// actions, counters by id), and a bmv2 device configuration checked against
// the P4Info it is sent with. A switch given a bmv2 JSON that is not a program
// (PI accepts it, then fails every later request) or one compiled from
// another program is left broken, so these run before the first byte is sent.
// Messages name the object, its id and the two numbers that differ.

import { T, TO_OBJECT } from './proto.ts';
import type { P4InfoObject } from './p4info.ts';
import type { WireEntry } from './table-entry.ts';

const hex = (id: number | undefined): string => `0x${(id ?? 0).toString(16).padStart(8, '0')}`;

/** The first `n` problems joined for a message, and how many more there are. */
export function firstProblems(problems: string[], n = 5): string {
  return `${problems.slice(0, n).join('; ')}${problems.length > n ? `; and ${problems.length - n} more` : ''}`;
}

/**
 * A P4Info with the parts that depend on the compiler's version taken out:
 * `initial_default_action` (P4Runtime 1.4; older p4c leaves it out) and an
 * empty `type_info` (older p4c emits one, newer leaves it out).
 */
export function normaliseP4Info(info: P4InfoObject): P4InfoObject {
  const o = T.P4Info.toObject(T.P4Info.fromObject(info as Record<string, unknown>), TO_OBJECT) as P4InfoObject & { typeInfo?: object };
  for (const t of o.tables ?? []) delete t.initialDefaultAction;
  if (o.typeInfo && Object.keys(o.typeInfo).length === 0) delete o.typeInfo;
  return o;
}

/** The canonical bytes of a normalised P4Info: equal bytes, equal pipelines. */
export function p4InfoDigestKey(info: P4InfoObject): string {
  return Buffer.from(T.P4Info.encode(T.P4Info.fromObject(normaliseP4Info(info) as Record<string, unknown>)).finish()).toString('base64');
}

type Preambled = { preamble?: { id?: number; name?: string } };

function byId<X extends Preambled>(xs: X[] | undefined): Map<number, X> {
  return new Map((xs ?? []).map((x) => [x.preamble?.id ?? 0, x]));
}

/**
 * The differences between two P4Infos, each one line naming the object by id
 * and name and the two values; empty when they describe the same pipeline.
 */
export function p4InfoDifferences(a: P4InfoObject, b: P4InfoObject, aName: string, bName: string): string[] {
  const out: string[] = [];
  const na = normaliseP4Info(a);
  const nb = normaliseP4Info(b);
  const compareSets = <X extends Preambled>(kind: string, xa: X[] | undefined, xb: X[] | undefined, detail: (x: X, y: X, label: string) => void): void => {
    const ma = byId(xa);
    const mb = byId(xb);
    for (const [id, x] of ma) {
      const y = mb.get(id);
      const label = `${kind} ${hex(id)} ${x.preamble?.name ?? ''}`;
      if (!y) out.push(`${label}: in ${aName}, not in ${bName}`);
      else if (x.preamble?.name !== y.preamble?.name) out.push(`${kind} ${hex(id)}: named ${x.preamble?.name} in ${aName}, ${y.preamble?.name} in ${bName}`);
      else detail(x, y, label);
    }
    for (const [id, y] of mb) if (!ma.has(id)) out.push(`${kind} ${hex(id)} ${y.preamble?.name ?? ''}: in ${bName}, not in ${aName}`);
  };
  compareSets('table', na.tables, nb.tables, (x, y, label) => {
    const fx = x.matchFields ?? [];
    const fy = y.matchFields ?? [];
    if (fx.length !== fy.length) out.push(`${label}: ${fx.length} match fields in ${aName}, ${fy.length} in ${bName}`);
    for (const f of fx) {
      const g = fy.find((m) => m.id === f.id);
      if (g && (g.name !== f.name || g.bitwidth !== f.bitwidth || g.matchType !== f.matchType)) {
        out.push(`${label}: match field ${f.id} is ${f.name} bit<${f.bitwidth}> ${f.matchType} in ${aName}, ${g.name} bit<${g.bitwidth}> ${g.matchType} in ${bName}`);
      }
    }
    if (Number(x.size ?? 0) !== Number(y.size ?? 0)) out.push(`${label}: size ${x.size ?? 0} in ${aName}, ${y.size ?? 0} in ${bName}`);
    const ax = (x.actionRefs ?? []).map((r) => hex(r.id)).join(',');
    const ay = (y.actionRefs ?? []).map((r) => hex(r.id)).join(',');
    if (ax !== ay) out.push(`${label}: actions ${ax} in ${aName}, ${ay} in ${bName}`);
  });
  compareSets('action', na.actions, nb.actions, () => {});
  compareSets('direct counter', na.directCounters, nb.directCounters, () => {});
  // Anything else (params, annotations, other object kinds): say which top-level part differs.
  if (out.length === 0 && p4InfoDigestKey(na) !== p4InfoDigestKey(nb)) {
    const keys = new Set([...Object.keys(na), ...Object.keys(nb)]);
    for (const k of keys) {
      if (JSON.stringify((na as Record<string, unknown>)[k]) !== JSON.stringify((nb as Record<string, unknown>)[k])) out.push(`${k}: differs between ${aName} and ${bName}`);
    }
  }
  return out;
}

interface Bmv2Json {
  pipelines?: { name?: string; tables?: { name?: string; max_size?: number; key?: { match_type?: string; name?: string }[]; actions?: string[] }[] }[];
  actions?: { name?: string }[];
  counter_arrays?: { name?: string; is_direct?: boolean; binding?: string }[];
}

/**
 * Problems that make `config` unfit as the bmv2 device configuration of
 * `info`: not a bmv2 JSON at all, or compiled from a program whose tables,
 * keys, actions or direct counters are not the P4Info's. Empty when it fits.
 */
export function bmv2ConfigProblems(config: Uint8Array, info: P4InfoObject): string[] {
  let j: Bmv2Json;
  try {
    j = JSON.parse(Buffer.from(config).toString('utf8')) as Bmv2Json;
  } catch (e) {
    return [`not a bmv2 JSON (${(e as Error).message})`];
  }
  if (typeof j !== 'object' || j === null || !Array.isArray(j.pipelines) || !Array.isArray(j.actions)) return ['not a bmv2 JSON (no "pipelines" and "actions")'];
  const out: string[] = [];
  const tables = new Map(j.pipelines.flatMap((p) => p.tables ?? []).map((t) => [t.name ?? '', t]));
  const actions = new Set(j.actions.map((a) => a.name ?? ''));
  const actionName = new Map((info.actions ?? []).map((a) => [a.preamble?.id ?? 0, a.preamble?.name ?? '']));
  for (const t of info.tables ?? []) {
    const name = t.preamble?.name ?? '';
    const label = `table ${hex(t.preamble?.id)} ${name}`;
    const bt = tables.get(name);
    if (!bt) {
      out.push(`${label}: not in the bmv2 JSON (it has ${tables.size} tables: ${[...tables.keys()].join(', ') || 'none'})`);
      continue;
    }
    const keys = bt.key ?? [];
    const fields = t.matchFields ?? [];
    if (keys.length !== fields.length) out.push(`${label}: ${fields.length} match fields in the P4Info, ${keys.length} keys in the bmv2 JSON`);
    fields.forEach((f, i) => {
      const k = keys[i];
      if (k && (k.name !== f.name || (k.match_type ?? '').toUpperCase() !== f.matchType)) {
        out.push(`${label}: match field ${f.id} is ${f.name} ${f.matchType} in the P4Info, key ${i + 1} is ${k.name} ${(k.match_type ?? '').toUpperCase()} in the bmv2 JSON`);
      }
    });
    if (Number(t.size ?? 0) !== Number(bt.max_size ?? 0)) out.push(`${label}: size ${t.size ?? 0} in the P4Info, ${bt.max_size ?? 0} in the bmv2 JSON`);
    for (const r of t.actionRefs ?? []) {
      const an = actionName.get(r.id ?? 0) ?? '';
      if (!(bt.actions ?? []).includes(an)) out.push(`${label}: action ${hex(r.id)} ${an} is not an action of the bmv2 JSON's table`);
    }
  }
  for (const [, an] of actionName) if (!actions.has(an)) out.push(`action ${an}: not in the bmv2 JSON`);
  const counters = new Map((j.counter_arrays ?? []).filter((c) => c.is_direct).map((c) => [c.name ?? '', c.binding ?? '']));
  for (const c of info.directCounters ?? []) {
    const table = (info.tables ?? []).find((t) => t.preamble?.id === c.directTableId)?.preamble?.name;
    const bound = counters.get(c.preamble?.name ?? '');
    if (bound === undefined) out.push(`direct counter ${hex(c.preamble?.id)} ${c.preamble?.name ?? ''}: not in the bmv2 JSON`);
    else if (bound !== table) out.push(`direct counter ${hex(c.preamble?.id)} ${c.preamble?.name ?? ''}: bound to ${table} in the P4Info, to ${bound} in the bmv2 JSON`);
  }
  return out;
}

/**
 * Problems that make `e` no entry of `info`'s pipeline: an unknown table,
 * match field or action, or a priority where the table has none (or none
 * where it needs one). Empty when it fits.
 */
export function entryProblems(e: WireEntry, info: P4InfoObject): string[] {
  const t = (info.tables ?? []).find((x) => x.preamble?.id === e.tableId);
  if (!t) return [`table id ${e.tableId} is not in the P4Info (tables: ${(info.tables ?? []).map((x) => `${x.preamble?.id} ${x.preamble?.name}`).join(', ')})`];
  const name = `table ${hex(e.tableId)} ${t.preamble?.name ?? ''}`;
  const out: string[] = [];
  const fields = new Map((t.matchFields ?? []).map((f) => [f.id ?? 0, f]));
  for (const m of e.match) if (!fields.has(m.fieldId)) out.push(`${name} has no match field ${m.fieldId} (it has ${fields.size})`);
  const needsPriority = (t.matchFields ?? []).some((f) => f.matchType === 'TERNARY' || f.matchType === 'RANGE' || f.matchType === 'OPTIONAL');
  if (needsPriority && !e.priority) out.push(`${name} needs a priority > 0`);
  if (!needsPriority && e.priority) out.push(`${name} takes no priority (got ${e.priority})`);
  const actionId = (e.action?.action as { actionId?: number } | undefined)?.actionId;
  if (actionId !== undefined && !(t.actionRefs ?? []).some((r) => r.id === actionId)) out.push(`${name} has no action ${hex(actionId)}`);
  return out;
}
