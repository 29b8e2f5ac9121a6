// Moves a switch's tables from what they hold to what Weft wants, all or
// nothing, over a server that only writes CONTINUE_ON_ERROR.
//
// Make-before-break. Prioritised entries (ternary, range, optional tables)
// live in one of two priority bands; a new policy goes into the band the old
// one does not use, so old and new never share a key:
//   1. insert the new entries, highest priority first;
//   2. delete the old ones, lowest priority first.
// During 1 the new entries present are the top of the new policy, and during
// 2 the old entries left are the top of the old one; either way every packet
// meets its whole old verdict or its whole new one, never a mix of the two.
// Entries without priority (exact, LPM) are changed in place: inserts with
// the new entries, modifies between, deletes with the old ones. They have no
// second band, so a change to such a table that already holds entries (new
// labels from Weft's classifiers) is seen by the old ACL entries too: that
// table is listed as changed in place, as is a table that cannot hold old and
// new at once (its change made in place: deletes, modifies, inserts).
//
// All or nothing: each batch's per-update outcomes are read; when one
// update failed, the updates that succeeded (in this and earlier batches)
// are undone in reverse order, which keeps the same invariant. When the
// switch did not say which updates failed (the call itself failed), its
// tables are read and written back to what they held.

import { logger } from '../../orchestrator/log.ts';
import { codeName, type UpdateStatus } from './service.ts';
import { entryString, keyOf, keyString, withPriority, type WireEntry } from './table-entry.ts';

const log = logger('p4-transition');

/** Priorities at or above this are the high band; codegen's own stay below it. */
export const PRIORITY_BAND = 1 << 24;

export interface Update {
  type: 'INSERT' | 'MODIFY' | 'DELETE';
  entry: WireEntry;
  /** For MODIFY and DELETE: the entry as it was, so the update can be undone. */
  before?: WireEntry;
}

export interface TransitionPlan {
  /** Batches in the order they are written. */
  batches: Update[][];
  /** What the tables hold once every batch is applied. */
  final: WireEntry[];
  /** Tables changed in place, not make-before-break: too full for old and new at once, or without priorities and already holding entries. */
  inPlace: number[];
}

/** What a switch must do its writes through. */
export interface EntryWriter {
  readonly name: string;
  writeEach(updates: object[]): Promise<UpdateStatus[]>;
  readTableEntries(): Promise<WireEntry[]>;
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

const isHigh = (e: WireEntry): boolean => (e.priority ?? 0) >= PRIORITY_BAND;
const byPriorityDesc = (a: WireEntry, b: WireEntry): number => (b.priority ?? 0) - (a.priority ?? 0);

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

/**
 * The batches taking `current` to `desired` (desired priorities as codegen
 * wrote them, all below PRIORITY_BAND). `tableSize` gives each table's
 * capacity, to know where old and new fit side by side.
 */
export function planTransition(current: WireEntry[], desired: WireEntry[], tableSize: (tableId: number) => number): TransitionPlan {
  for (const e of desired) {
    if ((e.priority ?? 0) >= PRIORITY_BAND) throw new Error(`table ${e.tableId}: priority ${e.priority} is at or above ${PRIORITY_BAND}, the band Weft keeps for make-before-break`);
  }
  const tables = [...new Set([...current, ...desired].map((e) => e.tableId))].sort((a, b) => a - b);
  // Batch order: deletes that make room in full tables, inserts, modifies, the old entries' deletes.
  const roomDeletes: Update[] = [];
  const inserts: Update[] = [];
  const modifies: Update[] = [];
  const deletes: Update[] = [];
  const final: WireEntry[] = [];
  const inPlaceTables: number[] = [];
  for (const t of tables) {
    const cur = current.filter((e) => e.tableId === t);
    const want = desired.filter((e) => e.tableId === t);
    if (!cur.some((e) => e.priority) && !want.some((e) => e.priority)) {
      const d = inPlace(cur, want);
      if (cur.length > 0 && d.ins.length + d.mods.length + d.dels.length > 0) inPlaceTables.push(t);
      inserts.push(...d.ins);
      modifies.push(...d.mods);
      deletes.push(...d.dels);
      final.push(...want);
      continue;
    }
    if (cur.some(isHigh) && cur.some((e) => !isHigh(e))) {
      // Both bands hold entries: a make-before-break change was cut short (a killed orchestrator).
      // Finish it in the band that already holds more of the wanted entries: insert what is missing, then delete the rest.
      const inBand = (hi: boolean) => want.map((e) => withPriority(e, (e.priority ?? 0) + (hi ? PRIORITY_BAND : 0)));
      const have = new Set(cur.map(entryString));
      const count = (es: WireEntry[]) => es.filter((e) => have.has(entryString(e))).length;
      const target = count(inBand(true)) >= count(inBand(false)) ? inBand(true) : inBand(false);
      const d = inPlace(cur, target);
      inserts.push(...d.ins.sort((x, y) => byPriorityDesc(x.entry, y.entry)));
      modifies.push(...d.mods);
      deletes.push(...d.dels);
      final.push(...target);
      continue;
    }
    // The band the table uses now; an unchanged policy stays where it is.
    const high = cur.some(isHigh);
    const here = want.map((e) => withPriority(e, (e.priority ?? 0) + (high ? PRIORITY_BAND : 0)));
    const same = new Set(cur.map(entryString));
    if (cur.length === here.length && here.every((e) => same.has(entryString(e)))) {
      final.push(...cur);
      continue;
    }
    if (cur.length === 0 || cur.length + want.length > tableSize(t)) {
      if (cur.length > 0) inPlaceTables.push(t);
      const d = inPlace(cur, here);
      roomDeletes.push(...d.dels);
      modifies.push(...d.mods);
      inserts.push(...d.ins.sort((a, b) => byPriorityDesc(a.entry, b.entry)));
      final.push(...here);
      continue;
    }
    const next = want.map((e) => withPriority(e, (e.priority ?? 0) + (high ? 0 : PRIORITY_BAND))).sort(byPriorityDesc);
    inserts.push(...next.map((e): Update => ({ type: 'INSERT', entry: e })));
    deletes.push(...[...cur].sort(byPriorityDesc).reverse().map((e): Update => ({ type: 'DELETE', entry: keyOf(e), before: e })));
    final.push(...next);
  }
  return { batches: [roomDeletes, inserts, modifies, deletes].filter((b) => b.length > 0), final, inPlace: inPlaceTables };
}

/**
 * How the switch's entries differ from the wanted ones, whichever priority
 * band they sit in: the in-place updates that would make them equal (empty
 * when the switch runs the wanted policy).
 */
export function driftOf(current: WireEntry[], desired: WireEntry[]): Update[] {
  const low = current.map((e) => (isHigh(e) ? withPriority(e, (e.priority ?? 0) - PRIORITY_BAND) : e));
  const d = inPlace(low, desired);
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

/** Puts the switch's entries back to `before` after a write whose outcome is unknown. */
async function restore(sw: EntryWriter, before: WireEntry[]): Promise<boolean> {
  try {
    const now = await sw.readTableEntries();
    const d = inPlace(now, before);
    const undo = [...d.dels, ...d.mods, ...d.ins];
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
export async function runTransition(sw: EntryWriter, plan: TransitionPlan, current: WireEntry[]): Promise<void> {
  const applied: Update[] = [];
  for (const batch of plan.batches) {
    let statuses: UpdateStatus[];
    try {
      statuses = await sw.writeEach(batch.map(toWire));
    } catch (e) {
      // The call failed as a whole: what it applied is unknown, so read and restore.
      const restored = await restore(sw, current);
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
        restored = st.every((s) => s.code === 0) || (await restore(sw, current));
      } catch {
        restored = await restore(sw, current);
      }
    }
    log.warn({ device: sw.name, failed: failed.length, undone: undo.length, restored }, 'transition refused, undone');
    throw new TransitionError(sw.name, failed, restored);
  }
}
