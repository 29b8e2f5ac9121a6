// Commit-confirmed rollouts (`weft apply --confirm-within D`, `weft confirm`).
// Every device the run changes must go back to what it ran before by itself
// unless `weft confirm` comes before the deadline, even when the
// orchestrator that pushed is gone. Two ways to hold that revert:
//
// - on the device (a driver with `selfRevert`): the host/DPU agent's own
//   timer, the gNMI commit-confirmed extension. A device whose driver has it
//   but that cannot hold it (no extension, a NIC prefilter) is refused unless
//   the operator accepts the fallback below (--confirm-fallback).
// - by the watchdog (a driver without it, such as P4Runtime, which has no
//   such mechanism): a detached process (its own session, pid file beside the
//   state) started before the first push. At the deadline it pushes the kept
//   earlier bundle to those devices through their driver. It runs where the
//   orchestrator ran: if that machine dies too, those devices keep the new
//   generation.
//
// In both cases the watchdog then reads every device back on its earlier
// generation, journals each "restored" and ends the run. `weft confirm`
// wins the pending record instead (a rename: exactly one of the two takes
// it), confirms each device, stops the watchdog, journals "confirmed" and
// records the new generation in the state.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Bundle } from '../compile/bundle.ts';
import { claimRecord } from '../claim.ts';
import { logger } from '../log.ts';
import { WEFT_BIN } from '../package-root.ts';
import { readKept, recordGeneration } from './history.ts';
import { acquireLock, Journal, journalPath, lastRun, LockError, readJournal } from './journal.ts';
import {
  artefactsOf,
  contextMaker,
  deviceHandles,
  inPool,
  message,
  restoreDevice,
  writeRolloutState,
  DEFAULT_PARALLEL,
  type DeviceHandle,
  type PlanItem,
  type RolloutState,
} from './rollout.ts';

const log = logger('confirm');

/** How long the watchdog keeps reading back a device that holds its own revert, past the deadline, before it restores it itself. */
export const SELF_REVERT_GRACE_MS = 20_000;

export interface PendingDevice {
  device: string;
  /** The generation pushed. */
  generation: string;
  /** Who reverts it: the device itself, or the watchdog. */
  held: 'device' | 'watchdog';
  /** What it ran before (absent: nothing of Weft's). */
  from?: { generation: string; bundle?: string };
}

/** The record of a rollout awaiting `weft confirm`, beside the state file. */
export interface PendingConfirm {
  /** The journal run. */
  run: string;
  /** The kept bundle pushed (manifest digest). */
  bundle: string;
  /** The commit id the devices were armed with. */
  id: string;
  /** ISO time after which every device goes back. */
  deadline: string;
  /** Names the watchdog started for this record. */
  token: string;
  watchdogPid?: number;
  /** True once every device was pushed and read back: only then can the rollout be confirmed. */
  complete: boolean;
  /** How to reach the devices again (the watchdog and `weft confirm` run later, from other processes). */
  inventoryPath: string;
  identity?: string;
  timeoutMs?: number;
  devices: PendingDevice[];
}

export const pendingPath = (statePath: string): string => `${statePath}.confirm.json`;
export const watchdogPidPath = (statePath: string): string => `${statePath}.watchdog.pid`;
export const watchdogLogPath = (statePath: string): string => `${statePath}.watchdog.log`;

export function readPending(statePath: string): PendingConfirm | undefined {
  const f = pendingPath(statePath);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as PendingConfirm) : undefined;
}

function writePending(statePath: string, p: PendingConfirm): void {
  const tmp = `${pendingPath(statePath)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(p, null, 2) + '\n');
  renameSync(tmp, pendingPath(statePath));
}

/** Takes the record away if it is (still) the one named by token; returns it to the one process that wins. */
function claimPending(statePath: string, token: string): PendingConfirm | undefined {
  return claimRecord<PendingConfirm>(pendingPath(statePath), token);
}

/** A device that should hold its own revert but cannot, and the operator did not accept the watchdog for it. */
export class ConfirmUnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfirmUnsupportedError';
  }
}

/** A rollout awaits confirmation: nothing else may be rolled out until it is confirmed, cancelled or reverted. */
export class PendingConfirmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PendingConfirmError';
  }
}

export function describePending(p: PendingConfirm): string {
  const left = Math.max(0, Math.round((Date.parse(p.deadline) - Date.now()) / 1000));
  const held = (h: PendingDevice['held']): string => p.devices.filter((d) => d.held === h).map((d) => d.device).join(', ') || 'none';
  return (
    `commit ${p.id} of ${p.bundle.slice(0, 12)} awaits confirmation until ${p.deadline} (${left}s left${p.complete ? '' : '; its rollout has not finished (still running, or cut short, when it cannot be confirmed)'}); ` +
    `reverting by themselves: ${held('device')}; restored by the watchdog (pid ${p.watchdogPid ?? '?'}): ${held('watchdog')}`
  );
}

export interface ArmOptions {
  statePath: string;
  run: string;
  digest: string;
  bundle: Bundle;
  plan: PlanItem[];
  handles: Map<string, DeviceHandle>;
  state: RolloutState;
  withinMs: number;
  /** Devices whose driver could hold the revert but that cannot are left to the watchdog instead of refused. */
  fallback: boolean;
  inventoryPath: string;
  identity?: string;
  timeoutMs?: number;
  parallel?: number;
}

/**
 * Before the first push: decides who holds each device's revert (asking
 * the devices that could hold it themselves), writes the pending record and
 * starts the watchdog. Throws ConfirmUnsupportedError, having written
 * nothing, when a device cannot hold its revert and fallback is off.
 */
export async function armConfirm(o: ArmOptions): Promise<PendingConfirm> {
  const ctxOf = contextMaker(o);
  const todo = o.plan.filter((p) => p.action === 'apply');
  const checked = await inPool(todo, o.parallel ?? DEFAULT_PARALLEL, async (p): Promise<PendingDevice & { why?: string }> => {
    const h = o.handles.get(p.device) as DeviceHandle;
    const before = o.state.devices[p.device];
    const base = { device: p.device, generation: p.generation, from: before ? { generation: before.generation, bundle: before.bundle } : undefined };
    if (!h.driver.selfRevert) return { ...base, held: 'watchdog' };
    let why: string | undefined;
    try {
      why = await h.driver.selfRevert.unsupported(ctxOf(h.device), artefactsOf(o.bundle, p.device));
    } catch (e) {
      why = `asking whether it can revert by itself failed: ${message(e)}`;
    }
    return why === undefined ? { ...base, held: 'device' } : { ...base, held: 'watchdog', why };
  });
  const refused = checked.filter((d) => d.why !== undefined);
  if (refused.length > 0 && !o.fallback) {
    throw new ConfirmUnsupportedError(
      `--confirm-within: ${refused.map((d) => `${d.device} cannot revert by itself (${d.why})`).join('; ')}. ` +
        'Give --confirm-fallback to have the watchdog on this machine restore them at the deadline instead (it cannot if this machine goes down too), or leave them out with --limit',
    );
  }
  const pending: PendingConfirm = {
    run: o.run,
    bundle: o.digest,
    id: `weft-${o.run.slice(0, 8)}`,
    deadline: new Date(Date.now() + o.withinMs).toISOString(),
    token: randomBytes(8).toString('hex'),
    complete: false,
    inventoryPath: o.inventoryPath,
    identity: o.identity,
    timeoutMs: o.timeoutMs,
    devices: checked.map(({ why: _why, ...d }) => d),
  };
  writePending(o.statePath, pending);
  pending.watchdogPid = startWatchdog(o.statePath, pending.token);
  writePending(o.statePath, pending);
  log.info({ deadline: pending.deadline, watchdog: pending.watchdogPid, devices: pending.devices.length }, 'commit-confirmed armed');
  return pending;
}

/** Starts `weft confirm --watchdog TOKEN` in its own session, its output appended beside the state. */
function startWatchdog(statePath: string, token: string): number {
  const out = openSync(watchdogLogPath(statePath), 'a', 0o600);
  try {
    const child = spawn(process.execPath, [WEFT_BIN, 'confirm', '--watchdog', token, '--state', statePath], { detached: true, stdio: ['ignore', out, out] });
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot start the confirm watchdog (${process.execPath} ${WEFT_BIN})`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/** Stops the watchdog of a record taken by someone else than the watchdog (only that process: the pid may have been reused). */
function stopWatchdog(p: PendingConfirm): void {
  if (p.watchdogPid === undefined) return;
  try {
    if (readFileSync(`/proc/${p.watchdogPid}/cmdline`, 'utf8').includes(p.token)) process.kill(p.watchdogPid, 'SIGTERM');
  } catch {
    // already gone
  }
}

/** After the run: marks the record complete (every device pushed and read back), unless the watchdog took it meanwhile. */
export function completeConfirm(statePath: string, p: PendingConfirm): boolean {
  const mine = claimPending(statePath, p.token);
  if (!mine) return false;
  writePending(statePath, { ...mine, complete: true });
  return true;
}

/** The run failed and restored what it touched: the record and the watchdog go. */
export function disarmConfirm(statePath: string, p: PendingConfirm): void {
  const mine = claimPending(statePath, p.token);
  if (mine) stopWatchdog(mine);
}

export interface ConfirmedDevice {
  device: string;
  held: PendingDevice['held'];
  status: 'confirmed' | 'restored' | 'failed';
  /** The generation it runs now. */
  generation?: string;
  detail: string;
}

interface Reach {
  bundle: Bundle;
  handles: Map<string, DeviceHandle>;
  ctxOf: ReturnType<typeof contextMaker>;
  journal: Journal;
}

async function reach(statePath: string, p: PendingConfirm, o: { inventoryPath?: string; identity?: string; timeoutMs?: number }): Promise<Reach> {
  const bundle = await readKept(statePath, p.bundle);
  if (!bundle) throw new Error(`the pending rollout's bundle ${p.bundle.slice(0, 12)} is no longer kept beside ${statePath}`);
  return {
    bundle,
    handles: new Map((await deviceHandles(bundle)).map((h) => [h.device.name, h])),
    ctxOf: contextMaker({ inventoryPath: o.inventoryPath ?? p.inventoryPath, identity: o.identity ?? p.identity, timeoutMs: o.timeoutMs ?? p.timeoutMs }),
    journal: new Journal(journalPath(statePath), p.run),
  };
}

export interface ConfirmOptions {
  statePath: string;
  state: RolloutState;
  inventoryPath?: string;
  identity?: string;
  timeoutMs?: number;
  parallel?: number;
}

/**
 * `weft confirm` under the caller's lock: takes the pending record, confirms
 * every device holding its own revert, stops the watchdog, journals each
 * device "confirmed" and records the new generation in the state.
 */
export async function confirmLocked(o: ConfirmOptions): Promise<{ pending: PendingConfirm; devices: ConfirmedDevice[] }> {
  const seen = readPending(o.statePath);
  if (!seen) throw new PendingConfirmError(`nothing awaits confirmation (no ${pendingPath(o.statePath)}): it was confirmed already, or its deadline passed and the devices went back (journal ${journalPath(o.statePath)})`);
  if (!seen.complete) {
    throw new PendingConfirmError(
      `${describePending(seen)}. A rollout cut short cannot be confirmed: wait for the deadline (every device it pushed goes back), or put them back now with \`weft confirm --cancel\``,
    );
  }
  const p = claimPending(o.statePath, seen.token);
  if (!p) throw new PendingConfirmError(`too late: the deadline ${seen.deadline} passed and the watchdog is putting the devices back (see ${journalPath(o.statePath)})`);
  stopWatchdog(p);
  const r = await reach(o.statePath, p, o);
  try {
    const devices = await inPool(p.devices, o.parallel ?? DEFAULT_PARALLEL, async (d): Promise<ConfirmedDevice> => {
      const h = r.handles.get(d.device);
      try {
        if (!h) throw new Error('not in the pending bundle');
        const detail = d.held === 'device' && h.driver.selfRevert ? await h.driver.selfRevert.confirm(r.ctxOf(h.device), p.id) : 'the watchdog was stopped';
        await r.journal.append({ step: 'confirmed', device: d.device, generation: d.generation, detail });
        return { device: d.device, held: d.held, status: 'confirmed', generation: d.generation, detail };
      } catch (e) {
        const detail = `confirm failed (it goes back by itself at ${p.deadline} unless it already did): ${message(e)}`;
        await r.journal.append({ step: 'failed', device: d.device, generation: d.generation, detail });
        return { device: d.device, held: d.held, status: 'failed', generation: d.from?.generation, detail };
      }
    });
    const at = new Date().toISOString();
    for (const d of devices) if (d.status === 'confirmed') o.state.devices[d.device] = { generation: d.generation as string, at, bundle: p.bundle };
    // Devices the run left unchanged run this bundle's generation too.
    for (const md of r.bundle.manifest.devices) {
      const s = o.state.devices[md.name];
      if (s && s.generation === md.generation) s.bundle = p.bundle;
    }
    const ok = devices.every((d) => d.status === 'confirmed');
    if (ok) recordGeneration(o.statePath, o.state, r.bundle, 'apply');
    writeRolloutState(o.statePath, o.state);
    await r.journal.append({ step: 'end', outcome: ok ? 'applied' : 'failed' });
    return { pending: p, devices };
  } finally {
    r.journal.close();
  }
}

export interface ExtendedDevice {
  device: string;
  held: PendingDevice['held'];
  /** extended: its revert now waits for the new deadline; failed: it still goes back at the old one. */
  status: 'extended' | 'failed';
  detail: string;
}

/**
 * `weft confirm --extend` under the caller's lock: moves the deadline of the
 * rollout awaiting confirmation to `withinMs` from now. Each device holding
 * its own revert is told first (the agent's timer, gNMI
 * set_rollback_duration), while the old record and watchdog still guard the
 * old deadline; then the record is taken (so the watchdog cannot fire
 * meanwhile), written again with the new deadline for a new watchdog, and
 * the old watchdog stopped. The new deadline is journaled. A device that
 * could not be told still goes back at the old deadline, and says so.
 */
export async function extendLocked(statePath: string, withinMs: number, o: Omit<ConfirmOptions, 'state' | 'statePath'> = {}): Promise<{ pending: PendingConfirm; devices: ExtendedDevice[] }> {
  const seen = readPending(statePath);
  if (!seen) throw new PendingConfirmError(`nothing awaits confirmation (no ${pendingPath(statePath)}): it was confirmed already, or its deadline passed and the devices went back (journal ${journalPath(statePath)})`);
  if (!seen.complete) {
    throw new PendingConfirmError(`${describePending(seen)}. A rollout cut short cannot be confirmed, so its window is not extended: wait for the deadline, or put the devices back now with \`weft confirm --cancel\``);
  }
  if (Date.parse(seen.deadline) <= Date.now()) throw new PendingConfirmError(`too late: the deadline ${seen.deadline} passed and the watchdog is putting the devices back (see ${journalPath(statePath)})`);
  const deadline = new Date(Date.now() + withinMs).toISOString();
  const r = await reach(statePath, seen, o);
  try {
    const devices = await inPool(seen.devices, o.parallel ?? DEFAULT_PARALLEL, async (d): Promise<ExtendedDevice> => {
      const h = r.handles.get(d.device);
      if (d.held === 'watchdog') return { device: d.device, held: d.held, status: 'extended', detail: `the watchdog restores it at ${deadline}` };
      try {
        if (!h?.driver.selfRevert) throw new Error('its driver holds no revert of its own');
        return { device: d.device, held: d.held, status: 'extended', detail: await h.driver.selfRevert.extend(r.ctxOf(h.device), seen.id, Date.parse(deadline) - Date.now()) };
      } catch (e) {
        return { device: d.device, held: d.held, status: 'failed', detail: `not extended, it goes back by itself at ${seen.deadline} unless confirmed first: ${message(e)}` };
      }
    });
    const p = claimPending(statePath, seen.token);
    if (!p) throw new PendingConfirmError(`too late: the deadline ${seen.deadline} passed while extending, and the watchdog is putting the devices back (see ${journalPath(statePath)})`);
    const next: PendingConfirm = { ...p, deadline, token: randomBytes(8).toString('hex'), watchdogPid: undefined };
    writePending(statePath, next);
    next.watchdogPid = startWatchdog(statePath, next.token);
    writePending(statePath, next);
    stopWatchdog(p);
    const failed = devices.filter((d) => d.status === 'failed').map((d) => d.device);
    await r.journal.append({ step: 'extended', confirmBy: deadline, detail: failed.length ? `not extended on ${failed.join(', ')} (they go back at ${seen.deadline})` : `from ${seen.deadline}` });
    log.info({ deadline, was: seen.deadline, failed: failed.length }, 'confirm window extended');
    return { pending: next, devices };
  } finally {
    r.journal.close();
  }
}

/**
 * Puts every device of a taken record back on what it ran before. `now`
 * (`weft confirm --cancel`): at once, cancelling each device's own revert.
 * Otherwise (the watchdog at the deadline): the watchdog's devices are
 * restored through their driver, and the others are read back until they
 * went back by themselves (restored by the watchdog when they did not).
 */
async function restorePending(statePath: string, p: PendingConfirm, now: boolean, o: Omit<ConfirmOptions, 'state' | 'statePath'> = {}): Promise<ConfirmedDevice[]> {
  const r = await reach(statePath, p, o);
  const keptBundle = (d: string): Promise<Bundle | undefined> => readKept(statePath, d);
  // A run cut short never reached some devices: they run what they ran, and are left alone.
  const run = lastRun(readJournal(statePath));
  const reached = run?.run === p.run ? new Set(run.devices.map((d) => d.device)) : undefined;
  try {
    const devices = await inPool(p.devices.filter((d) => !reached || reached.has(d.device)), o.parallel ?? DEFAULT_PARALLEL, async (d): Promise<ConfirmedDevice> => {
      const h = r.handles.get(d.device);
      if (!h) return { device: d.device, held: d.held, status: 'failed', detail: 'not in the pending bundle' };
      const ctx = r.ctxOf(h.device);
      let detail: string | undefined;
      if (!now && d.held === 'device' && d.from) detail = await wentBack(h, ctx, d.from, keptBundle);
      if (detail === undefined) {
        const outcome = await restoreDevice(h, ctx, d.from, { keptBundle, cancelCommit: d.held === 'device' ? p.id : undefined });
        if ('error' in outcome) {
          await r.journal.append({ step: 'failed', device: d.device, generation: d.generation, detail: outcome.error });
          return { device: d.device, held: d.held, status: 'failed', detail: outcome.error };
        }
        detail = now || d.held === 'watchdog' ? `${now ? 'cancelled' : 'watchdog'}: ${outcome.detail}` : `did not go back by itself; the watchdog restored it: ${outcome.detail}`;
      }
      await r.journal.append({ step: 'restored', device: d.device, generation: d.from?.generation, detail });
      return { device: d.device, held: d.held, status: 'restored', generation: d.from?.generation, detail };
    });
    await r.journal.append({ step: 'end', outcome: devices.every((d) => d.status === 'restored') ? 'restored' : 'failed' });
    return devices;
  } finally {
    r.journal.close();
  }
}

/** Reads a device back until it runs `from` again (it reverted by itself); undefined when it did not within the grace. */
async function wentBack(h: DeviceHandle, ctx: ReturnType<ReturnType<typeof contextMaker>>, from: { generation: string; bundle?: string }, keptBundle: (d: string) => Promise<Bundle | undefined>): Promise<string | undefined> {
  const kept = from.bundle ? await keptBundle(from.bundle) : undefined;
  if (!kept) return undefined;
  const art = artefactsOf(kept, h.device.name);
  const until = Date.now() + SELF_REVERT_GRACE_MS;
  let last = '';
  for (;;) {
    try {
      const rb = await h.driver.readBack(ctx, art);
      if (rb.differences.length === 0) return `went back to ${from.generation.slice(0, 12)} by itself (read back: ${rb.entries} entries)`;
      last = rb.differences.slice(0, 2).join('; ');
    } catch (e) {
      last = message(e);
    }
    if (Date.now() > until) {
      log.warn({ device: h.device.name, last }, 'device did not go back by itself');
      return undefined;
    }
    await sleep(500);
  }
}

/** Takes the state's lock, waiting for a run that still holds it (a lock whose process died is taken over at once). */
async function lockWhenFree(statePath: string, what: string): Promise<() => void> {
  for (;;) {
    try {
      return acquireLock(statePath, what);
    } catch (e) {
      if (!(e instanceof LockError)) throw e;
      await sleep(200);
    }
  }
}

/** `weft confirm --cancel` under the caller's lock: every device of the pending rollout goes back now. */
export async function cancelLocked(statePath: string, o: Omit<ConfirmOptions, 'state' | 'statePath'> = {}): Promise<{ pending: PendingConfirm; devices: ConfirmedDevice[] }> {
  const seen = readPending(statePath);
  if (!seen) throw new PendingConfirmError(`nothing awaits confirmation (no ${pendingPath(statePath)})`);
  const p = claimPending(statePath, seen.token);
  if (!p) throw new PendingConfirmError(`the watchdog took the pending rollout at its deadline ${seen.deadline} and is putting the devices back`);
  stopWatchdog(p);
  return { pending: p, devices: await restorePending(statePath, p, true, o) };
}

/**
 * The watchdog process: waits for the deadline (or for its record to be
 * taken by `weft confirm`), then restores every device of the rollout and
 * ends the journaled run. Writes its pid file beside the state while alive.
 */
export async function runWatchdog(statePath: string, token: string): Promise<{ outcome: 'settled' } | { outcome: 'restored'; devices: ConfirmedDevice[] }> {
  const pidFile = watchdogPidPath(statePath);
  writeFileSync(pidFile, `${JSON.stringify({ pid: process.pid, token })}\n`);
  try {
    for (;;) {
      const p = readPending(statePath);
      if (!p || p.token !== token) return { outcome: 'settled' };
      const left = Date.parse(p.deadline) - Date.now();
      if (left <= 0) break;
      // Polled as well as signalled: a confirm that could not signal (another user) is still seen.
      await sleep(Math.min(left, 500));
    }
    const p = claimPending(statePath, token);
    if (!p) return { outcome: 'settled' };
    log.warn({ id: p.id, deadline: p.deadline }, 'not confirmed in time: restoring the earlier generation');
    const release = await lockWhenFree(statePath, 'weft confirm watchdog');
    try {
      return { outcome: 'restored', devices: await restorePending(statePath, p, false) };
    } finally {
      release();
    }
  } finally {
    try {
      if (JSON.parse(readFileSync(pidFile, 'utf8')).token === token) rmSync(pidFile, { force: true });
    } catch {
      // a later watchdog's file, or gone
    }
  }
}
