// One rollout run against a state file, as `weft apply`, `weft apply
// --resume` and `weft rollback` do it: under the state's lock, with the
// bundle kept before anything is pushed, every step journaled, and the state
// written when the run ends. A run that died (kill -9, power loss) is picked
// up from its journal: resumed (its bundle pushed again, every push being
// idempotent) or undone (each device it touched put back on what it ran).

import { randomUUID } from 'node:crypto';
import type { Bundle } from '../compile/bundle.ts';
import { keepBundle, readKept, recordGeneration } from './history.ts';
import { acquireLock, Journal, journalPath, lastRun, readJournal, type RunSummary } from './journal.ts';
import {
  applyRollout,
  contextMaker,
  deviceHandles,
  inPool,
  readRolloutState,
  restoreDevice,
  writeRolloutState,
  DEFAULT_PARALLEL,
  type ApplyOptions,
  type DeviceResult,
  type RolloutState,
} from './rollout.ts';

export type RunOptions = Omit<ApplyOptions, 'state' | 'journal' | 'keptBundle'> & { statePath: string };

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
    await journal.append({ step: 'begin', bundle: digest, verb });
    const results = await applyRollout({ ...opts, state, journal, keptBundle: (d) => readKept(statePath, d) });
    const failed = results.some((r) => r.status === 'failed');
    if (!failed) recordGeneration(statePath, state, bundle, verb === 'rollback' ? 'rollback' : 'apply');
    writeRolloutState(statePath, state);
    await journal.append({ step: 'end', outcome: !failed ? 'applied' : results.some((r) => r.status === 'applied') ? 'failed' : 'restored' });
    return results;
  } finally {
    journal.close();
  }
}

/** `weft apply` and the push of `weft rollback`: the bundle to every selected device, under the lock. */
export async function runApply(opts: RunOptions, verb: 'apply' | 'rollback'): Promise<DeviceResult[]> {
  const release = acquireLock(opts.statePath, `weft ${verb}`);
  try {
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
    const run = unfinishedRun(opts.statePath);
    if (!run) throw new NothingToRecoverError(`nothing to resume: the last run in ${journalPath(opts.statePath)} ended (or none was journaled)`);
    const bundle = await keptOrFail(opts.statePath, run);
    return { run, bundle, results: await journaled({ ...opts, bundle }, 'resume') };
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
        await journal.append({ step: 'restored', device: d.device, generation: d.from?.generation, detail: outcome.detail });
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
