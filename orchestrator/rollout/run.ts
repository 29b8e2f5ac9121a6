// One rollout run against a state file, as `weft apply`, `weft apply
// --resume` and `weft rollback` do it: under the state's lock, with the
// bundle kept before anything is pushed, every step journaled, and the state
// written when the run ends. A run that died (kill -9, power loss) is picked
// up from its journal: resumed (its bundle pushed again, every push being
// idempotent) or undone (each device it touched put back on what it ran).
// A commit-confirmed run (confirm.ts) is armed before its first push and
// left pending for `weft confirm`; nothing else runs while it is pending.

import { randomUUID } from 'node:crypto';
import type { Bundle } from '../compile/bundle.ts';
import { failpoint, FAILPOINTS } from '../failpoint.ts';
import { logger } from '../log.ts';
import { keepBundle, readKept, recordGeneration } from './history.ts';
import { acquireLock, Journal, journalPath, lastRun, readJournal, type RunSummary } from './journal.ts';
import {
  armConfirm,
  cancelLocked,
  completeConfirm,
  confirmLocked,
  describePending,
  disarmConfirm,
  extendLocked,
  PendingConfirmError,
  readPending,
  type ConfirmedDevice,
  type ConfirmOptions,
  type ExtendedDevice,
  type PendingConfirm,
} from './confirm.ts';
import {
  applyRollout,
  contextMaker,
  deviceHandles,
  inPool,
  planRollout,
  readRolloutState,
  restoreDevice,
  writeRolloutState,
  DEFAULT_PARALLEL,
  type ApplyOptions,
  type DeviceResult,
  type RolloutState,
} from './rollout.ts';

const log = logger('rollout');

export type RunOptions = Omit<ApplyOptions, 'state' | 'journal' | 'keptBundle' | 'confirm'> & {
  statePath: string;
  /** Commit-confirmed: every changed device goes back by itself unless `weft confirm` comes within this time. */
  confirmWithinMs?: number;
  /** Devices that cannot hold their own revert are left to the watchdog instead of refused. */
  confirmFallback?: boolean;
  /** A rollout awaiting confirmation is confirmed first instead of refusing this run. */
  confirmPending?: boolean;
};


export class NothingToRecoverError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NothingToRecoverError';
  }
}

/** The state for a bundle's fabric (a fresh one when the file holds another fabric's). */
export function stateFor(statePath: string, fabric: string): RolloutState {
  const prev = readRolloutState(statePath);
  return prev && prev.fabric === fabric ? prev : { fabric, devices: {} };
}

async function journaled(opts: RunOptions, verb: 'apply' | 'rollback' | 'resume'): Promise<DeviceResult[]> {
  const { statePath, bundle } = opts;
  const state = stateFor(statePath, bundle.manifest.fabric.name);
  const digest = keepBundle(statePath, bundle);
  const journal = new Journal(journalPath(statePath), randomUUID());
  try {
    let pending: PendingConfirm | undefined;
    if (opts.confirmWithinMs !== undefined) {
      const handles = await deviceHandles(bundle);
      pending = await armConfirm({
        ...opts,
        run: journal.run,
        digest,
        plan: planRollout(bundle, handles, state, opts),
        handles: new Map(handles.map((h) => [h.device.name, h])),
        state,
        withinMs: opts.confirmWithinMs,
        fallback: opts.confirmFallback ?? false,
      });
    }
    await journal.append({ step: 'begin', bundle: digest, verb, confirmBy: pending?.deadline });
    const confirm = pending && { id: pending.id, deadline: Date.parse(pending.deadline), selfHeld: new Set(pending.devices.filter((d) => d.held === 'device').map((d) => d.device)) };
    const results = await applyRollout({ ...opts, state, journal, keptBundle: (d) => readKept(statePath, d), confirm });
    const failed = results.some((r) => r.status === 'failed');
    if (pending && !failed) {
      failpoint(FAILPOINTS.rolloutBeforeComplete);
      if (!completeConfirm(statePath, pending)) {
        throw new Error(`the confirm window closed (${pending.deadline}) before the rollout finished: the watchdog is putting every device back; give --confirm-within more time`);
      }
      await journal.append({ step: 'end', outcome: 'pending' });
      return results;
    }
    if (pending) disarmConfirm(statePath, pending);
    if (!failed) recordGeneration(statePath, state, bundle, verb === 'rollback' ? 'rollback' : 'apply');
    writeRolloutState(statePath, state);
    await journal.append({ step: 'end', outcome: !failed ? 'applied' : results.some((r) => r.status === 'applied') ? 'failed' : 'restored' });
    return results;
  } finally {
    journal.close();
  }
}

/** Refuses to start while a rollout awaits confirmation, or confirms it first when asked to. */
async function settlePending(opts: Omit<RunOptions, 'bundle'>, what: string): Promise<ConfirmedDevice[] | undefined> {
  const p = readPending(opts.statePath);
  if (!p) return undefined;
  if (!opts.confirmPending) {
    throw new PendingConfirmError(`${describePending(p)}. ${what} waits until it is settled: \`weft confirm\` keeps it, \`weft confirm --cancel\` puts the devices back now, or give --confirm-pending to confirm it and go on`);
  }
  const { devices } = await confirmWithState(opts);
  if (devices.some((d) => d.status !== 'confirmed')) throw new Error(`confirming the pending rollout failed: ${devices.filter((d) => d.status !== 'confirmed').map((d) => `${d.device}: ${d.detail}`).join('; ')}`);
  return devices;
}

/** confirmLocked with the state of the pending bundle's fabric. */
async function confirmWithState(opts: Omit<ConfirmOptions, 'state'>): Promise<{ pending: PendingConfirm; devices: ConfirmedDevice[] }> {
  const p = readPending(opts.statePath);
  const fabric = p ? (await readKept(opts.statePath, p.bundle))?.manifest.fabric.name : undefined;
  return confirmLocked({ ...opts, state: stateFor(opts.statePath, fabric ?? readRolloutState(opts.statePath)?.fabric ?? '') });
}

/** `weft confirm`: keeps the rollout awaiting confirmation (every device confirmed, the state recording it). */
export async function runConfirm(opts: Omit<ConfirmOptions, 'state'>): Promise<{ pending: PendingConfirm; devices: ConfirmedDevice[] }> {
  const release = acquireLock(opts.statePath, 'weft confirm');
  try {
    return await confirmWithState(opts);
  } finally {
    release();
  }
}

/** `weft confirm --cancel`: every device of the rollout awaiting confirmation goes back now. */
export async function runCancel(opts: Omit<ConfirmOptions, 'state'>): Promise<{ pending: PendingConfirm; devices: ConfirmedDevice[] }> {
  const release = acquireLock(opts.statePath, 'weft confirm --cancel');
  try {
    return await cancelLocked(opts.statePath, opts);
  } finally {
    release();
  }
}

/** `weft confirm --extend D`: the rollout awaiting confirmation gets until D from now, on every device and in the watchdog. */
export async function runExtend(opts: Omit<ConfirmOptions, 'state'>, withinMs: number): Promise<{ pending: PendingConfirm; devices: ExtendedDevice[] }> {
  const release = acquireLock(opts.statePath, 'weft confirm --extend');
  try {
    return await extendLocked(opts.statePath, withinMs, opts);
  } finally {
    release();
  }
}

/** `weft apply` and the push of `weft rollback`: the bundle to every selected device, under the lock. */
export async function runApply(opts: RunOptions, verb: 'apply' | 'rollback'): Promise<DeviceResult[]> {
  const release = acquireLock(opts.statePath, `weft ${verb}`);
  try {
    const confirmedFirst = await settlePending(opts, `weft ${verb}`);
    if (confirmedFirst) log.info({ devices: confirmedFirst.length }, 'the rollout awaiting confirmation was confirmed first (--confirm-pending)');
    const open = unfinishedRun(opts.statePath);
    if (open) {
      throw new Error(
        `the last run (${open.verb} of ${open.bundle.slice(0, 12)}) was interrupted: finish it with \`weft apply --resume\` or undo it with \`weft rollback\` (journal ${journalPath(opts.statePath)})`,
      );
    }
    return await journaled(opts, verb);
  } finally {
    release();
  }
}

/** The last run of the journal when it never ended, else undefined. */
export function unfinishedRun(statePath: string): RunSummary | undefined {
  const run = lastRun(readJournal(statePath));
  return run && !run.ended ? run : undefined;
}

async function keptOrFail(statePath: string, run: RunSummary): Promise<Bundle> {
  const bundle = await readKept(statePath, run.bundle);
  if (!bundle) throw new Error(`the interrupted run's bundle ${run.bundle.slice(0, 12)} is no longer kept beside ${statePath}`);
  return bundle;
}

/** `weft apply --resume`: pushes the bundle of the interrupted run again (devices it had finished are pushed idempotently). */
export async function runResume(opts: Omit<RunOptions, 'bundle'>): Promise<{ run: RunSummary; bundle: Bundle; results: DeviceResult[] }> {
  const release = acquireLock(opts.statePath, 'weft apply --resume');
  try {
    await settlePending({ ...opts, confirmPending: false }, 'weft apply --resume');
    const run = unfinishedRun(opts.statePath);
    if (!run) throw new NothingToRecoverError(`nothing to resume: the last run in ${journalPath(opts.statePath)} ended (or none was journaled)`);
    const bundle = await keptOrFail(opts.statePath, run);
    return { run, bundle, results: await journaled({ ...opts, bundle, confirmWithinMs: undefined }, 'resume') };
  } finally {
    release();
  }
}

export interface RecoveredDevice {
  device: string;
  /** What the journal said before recovery. */
  was: 'new' | 'old' | 'unknown';
  /** The generation it runs now (undefined: nothing of Weft's). */
  generation?: string;
  status: 'restored' | 'untouched' | 'failed';
  detail: string;
}

/**
 * `weft rollback` after an interrupted run: every device the run may have
 * changed gets back what it ran before (the journal's intent names it), and
 * the run is closed in the journal. Devices the run never reached are left.
 */
export async function runRecover(opts: Omit<RunOptions, 'bundle'>): Promise<{ run: RunSummary; devices: RecoveredDevice[] }> {
  const release = acquireLock(opts.statePath, 'weft rollback');
  try {
    await settlePending({ ...opts, confirmPending: false }, 'weft rollback');
    const run = unfinishedRun(opts.statePath);
    if (!run) throw new NothingToRecoverError('no interrupted run');
    const bundle = await keptOrFail(opts.statePath, run);
    const handles = new Map((await deviceHandles(bundle)).map((h) => [h.device.name, h]));
    const ctxOf = contextMaker(opts);
    const journal = new Journal(journalPath(opts.statePath), run.run);
    try {
      const devices = await inPool(run.devices, opts.parallel ?? DEFAULT_PARALLEL, async (d): Promise<RecoveredDevice> => {
        const h = handles.get(d.device);
        if (!h) return { device: d.device, was: d.runs, status: 'failed', detail: 'not in the run bundle' };
        if (d.runs === 'old') return { device: d.device, was: d.runs, generation: d.from?.generation, status: 'untouched', detail: `journal: ${d.last}, runs its earlier generation` };
        const outcome = await restoreDevice(h, ctxOf(h.device), d.from, { keptBundle: (x) => readKept(opts.statePath, x) });
        if ('error' in outcome) return { device: d.device, was: d.runs, status: 'failed', detail: outcome.error };
        journal.note({ step: 'restored', device: d.device, generation: d.from?.generation, detail: outcome.detail });
        return { device: d.device, was: d.runs, generation: d.from?.generation, status: 'restored', detail: outcome.detail };
      });
      const ok = devices.every((d) => d.status !== 'failed');
      await journal.append({ step: 'end', outcome: ok ? 'restored' : 'failed' });
      return { run, devices };
    } finally {
      journal.close();
    }
  } finally {
    release();
  }
}
