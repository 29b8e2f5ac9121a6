// Moves a switch's tables from what they hold to what Weft wants, all or
// nothing, over a server that only writes CONTINUE_ON_ERROR.
//
// Make-before-break by generation. The classifier and ACL entries each carry
// a policy generation (0 or 1), and the flag table's default entry says which
// one matches packets (generation.ts). A policy change, relabelling or not:
//   1. clears the inactive generation of anything left there;
//   2. writes the whole new policy into the inactive generation;
//   3. flips the flag in one write;
//   4. deletes the old generation's entries.
// Packets see only the active generation, so at every step each packet meets
// its whole old verdict or its whole new one.
//
// A table without room for both generations (its old entries plus the new
// ones) cannot be changed side by side. The change is then made in place and
// fails closed: the inactive generation gets entries that drop every IP
// packet (and nothing else), the flag flips to it, the active generation's
// entries are changed in place while no packet sees them, the flag flips
// back and the closing entries go. Every packet meets its old verdict, a
// drop, or its new verdict, never a permit both policies deny; IP through
// the switch is dropped for the length of the change, and the plan says so.
// Tables without a generation field are changed in place.
//
// All or nothing: each batch's per-update outcomes are read; when one
// update failed, the updates that succeeded (in this and earlier batches)
// are undone in reverse order, which keeps the same invariant. When the
// switch did not say which updates failed (the call itself failed), its
// tables and flag are read and written back to what they held.

import { logger } from '../../orchestrator/log.ts';
import type { Versioning } from './generation.ts';
import { codeName, type UpdateStatus } from './service.ts';
import { entryString, keyOf, keyString, type WireEntry } from './table-entry.ts';

const log = logger('p4-transition');

export interface Update {
  type: 'INSERT' | 'MODIFY' | 'DELETE';
  entry: WireEntry;
  /** For MODIFY and DELETE: the entry as it was, so the update can be undone. */
  before?: WireEntry;
}

/** What the switch holds: the entries of Weft's tables (every generation) and the active generation. */
export interface SwitchTables {
  entries: WireEntry[];
  active: number;
}

export interface TransitionPlan {
  /** Batches in the order they are written. */
  batches: Update[][];
  /** What the tables hold once every batch is applied. */
  final: WireEntry[];
  /** The generation active once every batch is applied. */
  active: number;
  /** Tables changed in place, not side by side: too full for two generations, or without a generation field and already holding entries. */
  inPlace: number[];
  /** True when the change runs with every IP packet dropped (a versioned table too full for two generations). */
  closed: boolean;
}

/** What a switch must do its writes through. */
export interface EntryWriter {
  readonly name: string;
  writeEach(updates: object[]): Promise<UpdateStatus[]>;
  /** The entries of Weft's tables and the active generation. */
  readTables(): Promise<SwitchTables>;
}

/** A transition that failed and was undone: the switch holds what it held before. */
export class TransitionError extends Error {
  constructor(
    readonly device: string,
    readonly failed: { update: Update; status: UpdateStatus }[],
    readonly restored: boolean,
  ) {
    const shown = failed
      .slice(0, 5)
      .map((f) => `${f.update.type} table ${f.update.entry.tableId} priority ${f.update.entry.priority ?? 0}: ${codeName(f.status.code)}: ${f.status.message}`)
      .join('; ');
    super(
      `${device}: ${failed.length} update(s) refused (${shown}${failed.length > 5 ? `; and ${failed.length - 5} more` : ''}); ` +
        (restored ? 'every applied update was undone, the switch holds its previous entries' : 'undoing the applied updates failed too, the switch may hold a mix: apply again'),
    );
    this.name = 'TransitionError';
  }
}

/** In-place change of one set of entries: deletes, modifies, inserts (a full table never overflows). */
function inPlace(current: WireEntry[], desired: WireEntry[]): { ins: Update[]; mods: Update[]; dels: Update[] } {
  const cur = new Map(current.map((e) => [keyString(e), e]));
  const want = new Map(desired.map((e) => [keyString(e), e]));
  const dels: Update[] = [];
  const mods: Update[] = [];
  const ins: Update[] = [];
  for (const [k, e] of cur) if (!want.has(k)) dels.push({ type: 'DELETE', entry: keyOf(e), before: e });
  for (const [k, e] of want) {
    const had = cur.get(k);
    if (!had) ins.push({ type: 'INSERT', entry: e });
    else if (entryString(had) !== entryString(e)) mods.push({ type: 'MODIFY', entry: e, before: had });
  }
  return { ins, mods, dels };
}

/** The same entry in generation `gen` (the table's generation field rewritten). */
export function inGeneration(e: WireEntry, gen: number, v: Versioning): WireEntry {
  const field = v.genField.get(e.tableId);
  if (field === undefined) return e;
  const value = Buffer.from([gen]).toString('base64');
  return { ...e, match: e.match.map((m) => (m.fieldId === field ? { fieldId: field, exact: { value } } : m)) };
}

/** The generation an entry belongs to, or undefined for a table without one. */
export function generationOf(e: WireEntry, v: Versioning): number | undefined {
  const field = v.genField.get(e.tableId);
  if (field === undefined) return undefined;
  const value = e.match.find((m) => m.fieldId === field)?.exact?.value;
  if (value === undefined) throw new Error(`table ${e.tableId}: an entry without its generation field ${field}`);
  return Buffer.from(value, 'base64').reduce((n, b) => n * 256 + b, 0);
}

/** The switch's entries split: the active generation with the unversioned tables, and the other generations (leftovers of a change cut short). */
export function splitGenerations(tables: SwitchTables, v: Versioning): { live: WireEntry[]; idle: WireEntry[] } {
  const live: WireEntry[] = [];
  const idle: WireEntry[] = [];
  for (const e of tables.entries) {
    const g = generationOf(e, v);
    (g === undefined || g === tables.active ? live : idle).push(e);
  }
  return { live, idle };
}

const sameEntries = (a: WireEntry[], b: WireEntry[]): boolean => {
  if (a.length !== b.length) return false;
  const have = new Set(a.map(entryString));
  return b.every((e) => have.has(entryString(e)));
};

const countBy = (es: WireEntry[]): Map<number, number> => {
  const m = new Map<number, number>();
  for (const e of es) m.set(e.tableId, (m.get(e.tableId) ?? 0) + 1);
  return m;
};

const flip = (v: Versioning, from: number, to: number): Update => ({ type: 'MODIFY', entry: v.flag(to), before: v.flag(from) });
const deletes = (es: WireEntry[]): Update[] => es.map((e): Update => ({ type: 'DELETE', entry: keyOf(e), before: e }));
const insertsOf = (es: WireEntry[]): Update[] => es.map((e): Update => ({ type: 'INSERT', entry: e }));

/**
 * The batches taking the switch from `current` to `desired` (desired as
 * codegen writes it, in generation 0). `tableSize` gives each table's
 * capacity, to know whether two generations fit side by side.
 */
export function planTransition(current: SwitchTables, desired: WireEntry[], tableSize: (tableId: number) => number, v: Versioning): TransitionPlan {
  const a = current.active;
  const n = 1 - a;
  const { live, idle } = splitGenerations(current, v);
  const versioned = (e: WireEntry): boolean => v.genField.has(e.tableId);
  const liveV = live.filter(versioned);
  // Unversioned tables hold one policy: changed in place, their inserts with the new entries and deletes with the old.
  const plain = inPlace(live.filter((e) => !versioned(e)), desired.filter((e) => !versioned(e)));
  const plainFinal = desired.filter((e) => !versioned(e));
  const plainTables = [...new Set([...plain.ins, ...plain.mods, ...plain.dels].map((u) => u.entry.tableId))].filter((t) => live.some((e) => e.tableId === t && !versioned(e)));
  const wantIn = (g: number): WireEntry[] => desired.filter(versioned).map((e) => inGeneration(e, g, v));
  const batches = (...bs: Update[][]): Update[][] => bs.filter((b) => b.length > 0);

  // The active generation already holds the policy: only clear what a change cut short left behind.
  if (sameEntries(liveV, wantIn(a))) {
    return { batches: batches(deletes(idle), [...plain.dels, ...plain.mods, ...plain.ins]), final: [...liveV, ...plainFinal], active: a, inPlace: plainTables, closed: false };
  }
  const next = wantIn(n);
  const liveCount = countBy(liveV);
  const nextCount = countBy(next);
  const roomForBoth = [...v.genField.keys()].every((t) => (liveCount.get(t) ?? 0) + (nextCount.get(t) ?? 0) <= tableSize(t));
  if (roomForBoth) {
    // Side by side: the inactive generation is brought to the new policy (deletes first, for room), flipped to, and the old one deleted.
    const fill = inPlace(idle, next);
    return {
      batches: batches(fill.dels, [...fill.ins, ...fill.mods, ...plain.ins, ...plain.mods], [flip(v, a, n)], [...deletes(liveV), ...plain.dels]),
      final: [...next, ...plainFinal],
      active: n,
      inPlace: plainTables,
      closed: false,
    };
  }
  // In place, closed: drop all IP through the inactive generation while the active one changes.
  const closing = v.closed(n);
  const change = inPlace(liveV, wantIn(a));
  const changed = [...new Set([...change.ins, ...change.mods, ...change.dels].map((u) => u.entry.tableId))];
  return {
    batches: batches(deletes(idle), insertsOf(closing), [flip(v, a, n)], change.dels, [...change.mods, ...change.ins, ...plain.dels, ...plain.mods, ...plain.ins], [flip(v, n, a)], deletes(closing)),
    final: [...wantIn(a), ...plainFinal],
    active: a,
    inPlace: [...new Set([...changed, ...plainTables])].sort((x, y) => x - y),
    closed: true,
  };
}

/**
 * How the switch's active policy differs from the wanted one: the in-place
 * updates that would make the active generation equal it (empty when the
 * switch runs the wanted policy). Entries of the inactive generation do not
 * take part; splitGenerations lists them.
 */
export function driftOf(current: SwitchTables, desired: WireEntry[], v: Versioning): Update[] {
  const { live } = splitGenerations(current, v);
  const d = inPlace(
    live,
    desired.map((e) => inGeneration(e, current.active, v)),
  );
  return [...d.dels, ...d.mods, ...d.ins];
}

function toWire(u: Update): object {
  return { type: u.type, entity: { tableEntry: u.entry } };
}

function inverse(u: Update): Update {
  switch (u.type) {
    case 'INSERT':
      return { type: 'DELETE', entry: keyOf(u.entry), before: u.entry };
    case 'DELETE':
      return { type: 'INSERT', entry: u.before! };
    case 'MODIFY':
      return { type: 'MODIFY', entry: u.before!, before: u.entry };
  }
}

/**
 * Puts the switch back to `before` after a write whose outcome is unknown.
 * When the flag moved, the generation that becomes active again is restored
 * first, so the flip back lands on the old policy whole.
 */
async function restore(sw: EntryWriter, before: SwitchTables, v: Versioning): Promise<boolean> {
  try {
    const now = await sw.readTables();
    const d = inPlace(now.entries, before.entries);
    const all = [...d.dels, ...d.mods, ...d.ins];
    const first = now.active === before.active ? all : all.filter((u) => generationOf(u.before ?? u.entry, v) === before.active);
    const rest = all.filter((u) => !first.includes(u));
    const undo = now.active === before.active ? all : [...first, flip(v, now.active, before.active), ...rest];
    if (undo.length === 0) return true;
    const st = await sw.writeEach(undo.map(toWire));
    return st.every((s) => s.code === 0);
  } catch (e) {
    log.error({ device: sw.name, err: (e as Error).message }, 'restoring the previous entries failed');
    return false;
  }
}

/**
 * Writes the plan's batches; on any refused update undoes what was applied
 * and throws TransitionError. `current` is what the switch held before.
 */
export async function runTransition(sw: EntryWriter, plan: TransitionPlan, current: SwitchTables, v: Versioning): Promise<void> {
  const applied: Update[] = [];
  for (const batch of plan.batches) {
    let statuses: UpdateStatus[];
    try {
      statuses = await sw.writeEach(batch.map(toWire));
    } catch (e) {
      // The call failed as a whole: what it applied is unknown, so read and restore.
      const restored = await restore(sw, current, v);
      log.error({ device: sw.name, err: (e as Error).message, restored }, 'write failed');
      throw e;
    }
    const failed = batch.map((update, i) => ({ update, status: statuses[i] })).filter((f) => f.status.code !== 0);
    applied.push(...batch.filter((_, i) => statuses[i].code === 0));
    if (failed.length === 0) continue;
    const undo = applied.reverse().map(inverse);
    let restored = true;
    if (undo.length) {
      try {
        const st = await sw.writeEach(undo.map(toWire));
        restored = st.every((s) => s.code === 0) || (await restore(sw, current, v));
      } catch {
        restored = await restore(sw, current, v);
      }
    }
    log.warn({ device: sw.name, failed: failed.length, undone: undo.length, restored }, 'transition refused, undone');
    throw new TransitionError(sw.name, failed, restored);
  }
}
