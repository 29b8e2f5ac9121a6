// Commit-confirmed on the host: `weft agent apply --confirm-within DUR`
// keeps the last confirmed generation's artefacts, applies the new one and
// starts a detached timer process (its own session, output to a file, so it
// outlives the SSH session and the orchestrator that started it). If
// `weft agent confirm` does not come before the deadline, the timer applies
// the kept generation again (or removes the datapath when there was none).
//
// The kept copy lives in /run/weft/<scope>/confirmed/<bundle name>/devices/<device>/,
// a bundle directory of its own: the bundle the previous apply came from may
// be gone by the time the timer fires.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, cpSync, existsSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { agentApply, agentRemove, paths, preflight, readState, writeJsonAtomic, type AgentOptions, type ApplyResult } from './agent.ts';
import { claimPendingConfirm, PENDING_FILE, readPendingConfirm, type PendingConfirm } from './pending.ts';
import { logger } from '../../orchestrator/log.ts';

const log = logger('host-confirm');

/** The sub-verb the timer process runs (`weft agent revert-unconfirmed --token T`). */
export const TIMER_VERB = 'revert-unconfirmed';
export const CONFIRM_LOG = 'confirm.log';

export interface ConfirmedApplyResult extends ApplyResult {
  /** ISO time by which `weft agent confirm` must come. */
  confirmBy: string;
  /** The generation the timer goes back to (null: it removes the datapath). */
  revertsTo: number | null;
}

/**
 * Copies the running generation's device artefacts aside; returns the bundle
 * directory holding them. It keeps the name of the bundle it came from: the
 * rollout's read-back tells generations apart by that name.
 */
function keepConfirmed(runDir: string, bundle: string, device: string): string {
  const root = join(runDir, 'confirmed');
  const kept = join(root, basename(resolve(bundle)));
  if (resolve(bundle) === resolve(kept)) return kept;
  const src = join(bundle, 'devices', device);
  if (!existsSync(src)) throw new Error(`cannot keep generation of ${device} for a revert: its bundle ${bundle} is gone; apply without --confirm-within, or apply that bundle again first`);
  const tmp = `${root}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  cpSync(src, join(tmp, basename(kept), 'devices', device), { recursive: true });
  rmSync(root, { recursive: true, force: true });
  renameSync(tmp, root);
  return kept;
}

function stopTimer(p: PendingConfirm): void {
  try {
    // Only our timer: the pid may have been reused since.
    if (readFileSync(`/proc/${p.timerPid}/cmdline`, 'utf8').includes(p.token)) process.kill(p.timerPid, 'SIGTERM');
  } catch {
    // already gone
  }
}

/**
 * The argv (after node) that runs this agent's verbs again: `weft-agent`
 * itself, or `weft agent`. The timer is started with it.
 */
export type AgentSelf = string[];

export function applyConfirmed(bundleDir: string, device: string, o: AgentOptions, withinMs: number, self: AgentSelf): ConfirmedApplyResult {
  preflight(o);
  const { runDir } = paths(o);
  const state = readState(runDir);
  // A timer already running keeps the generation it would go back to: the last one confirmed.
  // It is stopped only once the new apply succeeded: until then it still guards the unconfirmed one.
  const earlier = readPendingConfirm(runDir);
  const previous = earlier
    ? { bundle: earlier.previousBundle, generation: earlier.previousGeneration, logRate: earlier.previousLogRate }
    : state
      ? { bundle: keepConfirmed(runDir, state.bundle, state.device), generation: state.generation, logRate: state.logRate }
      : { bundle: null, generation: null, logRate: null };
  const r = agentApply(bundleDir, device, o);
  const superseded = earlier && claimPendingConfirm(runDir, earlier.token);
  if (superseded) stopTimer(superseded);
  const pending = armTimer(runDir, o, self, withinMs, {
    device,
    generation: r.generation,
    previousBundle: previous.bundle,
    previousGeneration: previous.generation,
    previousLogRate: previous.logRate,
  });
  log.info({ device, deadline: pending.deadline, revertsTo: previous.generation }, 'applied; awaiting confirmation');
  return { ...r, confirmBy: pending.deadline, revertsTo: previous.generation };
}

/** Starts a detached timer for `withinMs` from now and writes the record it guards (a timer of its own token, so an earlier one settles). */
function armTimer(runDir: string, o: AgentOptions, self: AgentSelf, withinMs: number, what: Omit<PendingConfirm, 'token' | 'deadline' | 'timerPid'>): PendingConfirm {
  const token = randomBytes(8).toString('hex');
  const deadline = new Date(Date.now() + withinMs).toISOString();
  const out = openSync(join(runDir, CONFIRM_LOG), 'a', 0o600);
  let timerPid: number | undefined;
  try {
    const child = spawn(process.execPath, [...process.execArgv, ...self, TIMER_VERB, '--token', token, ...(o.netns !== undefined ? ['--netns', o.netns] : [])], {
      detached: true,
      stdio: ['ignore', out, out],
    });
    timerPid = child.pid;
    child.unref();
  } finally {
    closeSync(out);
  }
  if (timerPid === undefined) throw new Error(`cannot start the confirm timer (${process.execPath} ${self.join(' ')})`);
  const pending: PendingConfirm = { ...what, token, deadline, timerPid };
  writeJsonAtomic(join(runDir, PENDING_FILE), pending);
  return pending;
}

/** A plain apply: the operator's latest word, so an earlier unconfirmed apply is no longer reverted. */
export function applyNow(bundleDir: string, device: string, o: AgentOptions): ApplyResult {
  const r = agentApply(bundleDir, device, o);
  const p = claimPendingConfirm(paths(o).runDir);
  if (p) stopTimer(p);
  return r;
}

export interface ConfirmResult {
  device: string;
  scope: string;
  generation: number;
}

/** Takes this device's record awaiting confirmation, so no timer can act on it meanwhile; an error when there is none. */
function claimFor(device: string, o: AgentOptions) {
  preflight(o);
  const { runDir, scope } = paths(o);
  const seen = readPendingConfirm(runDir);
  if (seen && seen.device !== device) throw new Error(`scope ${scope} awaits confirmation for device ${seen.device}, not ${device}`);
  const p = claimPendingConfirm(runDir);
  if (!p) {
    throw new Error(
      `nothing awaits confirmation for ${device} in scope ${scope}: it was confirmed already, or the timer reverted it (see ${join(runDir, CONFIRM_LOG)})`,
    );
  }
  return { runDir, scope, p };
}

export function agentConfirm(device: string, o: AgentOptions): ConfirmResult {
  const { runDir, scope, p } = claimFor(device, o);
  stopTimer(p);
  return { device, scope, generation: p.generation };
}

export interface ExtendResult extends ConfirmResult {
  /** The new deadline (ISO). */
  confirmBy: string;
}

/**
 * Moves the deadline of the apply awaiting confirmation to `withinMs` from
 * now: the record is taken (so the running timer cannot revert meanwhile),
 * a new timer is armed with the new deadline, and the old timer is stopped.
 */
export function agentExtend(device: string, o: AgentOptions, withinMs: number, self: AgentSelf): ExtendResult {
  const { runDir, scope, p } = claimFor(device, o);
  const { token: _token, deadline: _deadline, timerPid: _timerPid, ...what } = p;
  const next = armTimer(runDir, o, self, withinMs, what);
  stopTimer(p);
  log.info({ device, deadline: next.deadline, was: p.deadline }, 'confirm deadline moved');
  return { device, scope, generation: p.generation, confirmBy: next.deadline };
}

export interface RevertResult {
  /** settled: confirmed, superseded by a later apply, or removed before the deadline; nothing to do. */
  outcome: 'settled' | 'reverted' | 'removed';
  device?: string;
  generation?: number;
}

/** The timer process: waits for the deadline, then reverts unless the apply was confirmed (or superseded) meanwhile. */
export async function revertUnconfirmed(o: AgentOptions, token: string): Promise<RevertResult> {
  const { runDir } = paths(o);
  const first = readPendingConfirm(runDir);
  if (!first || first.token !== token) return { outcome: 'settled' };
  await sleep(Math.max(0, Date.parse(first.deadline) - Date.now()));
  const p = claimPendingConfirm(runDir, token);
  if (!p) return { outcome: 'settled' };
  log.warn({ device: p.device, generation: p.generation, revertsTo: p.previousGeneration }, 'not confirmed in time: reverting');
  if (p.previousBundle === null) {
    agentRemove(o);
    return { outcome: 'removed', device: p.device };
  }
  const r = agentApply(p.previousBundle, p.device, { ...o, logRate: p.previousLogRate ?? undefined });
  return { outcome: 'reverted', device: p.device, generation: r.generation };
}
