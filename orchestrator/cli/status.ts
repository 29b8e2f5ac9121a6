// `weft status`: what every device runs, read back from the device itself,
// against what it should run: the given policy or bundle, else what the
// rollout state records per device (or the rollout awaiting confirmation,
// shown with its deadline). Exits 0 when every device is in sync, 2
// on drift, 1 when a device cannot be reached (or its generation is unknown).
// --watch keeps reading (orchestrator/rollout/watch.ts) until SIGINT, SIGTERM
// or --for runs out, and exits 2 if any device drifted meanwhile; --counters
// reports per-rule hit counters instead (orchestrator/rollout/counters.ts),
// or beside the watch's lines whenever they move.

import type { Bundle } from '../compile/bundle.ts';
import { parseDuration } from '../duration.ts';
import { formatCounters, readCounters } from '../rollout/counters.ts';
import { readKept } from '../rollout/history.ts';
import { readRolloutState } from '../rollout/rollout.ts';
import { stateFor } from '../rollout/run.ts';
import { describePending, readPending } from '../rollout/confirm.ts';
import { formatStatus, readStatus, type StatusOptions } from '../rollout/status.ts';
import { watchReporter } from '../rollout/watch-report.ts';
import { watchStatus } from '../rollout/watch.ts';
import { flag, str, UsageError, type CliCommand, type CliIo, type ParsedArgs } from './command.ts';
import { bundleOf, deviceOptions, DEVICE_OPTIONS, OPTIONS, selectionOf, statePathOf } from './rollout.ts';

/** The given bundle (compared with as a whole), else the state's current one (each device compared with its recorded generation). */
async function fabricOf(args: ParsedArgs, statePath: string): Promise<{ fabric: Bundle; wanted?: Bundle; done: () => void }> {
  if (str(args, 'policy') || str(args, 'bundle')) {
    const { bundle, done } = await bundleOf(args);
    return { fabric: bundle, wanted: bundle, done };
  }
  // A rollout awaiting confirmation is what the devices should run until it is confirmed or reverted.
  const pending = readPending(statePath)?.bundle;
  const current = pending ?? readRolloutState(statePath)?.current;
  const fabric = current ? await readKept(statePath, current) : undefined;
  if (!fabric) throw new UsageError(`no applied generation is recorded in ${statePath}: give --policy P or --bundle DIR to compare the devices with`);
  return { fabric, wanted: pending ? fabric : undefined, done: () => undefined };
}

function durationOf(args: ParsedArgs, name: string): number | undefined {
  const text = str(args, name);
  if (text === undefined) return undefined;
  try {
    return parseDuration(text);
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
}

/** Watches until SIGINT, SIGTERM or the --for duration; 2 if a device drifted meanwhile, 1 if one could not be read, else 0. */
async function watch(args: ParsedArgs, io: CliIo, opts: StatusOptions, intervalMs: number, forMs: number | undefined): Promise<number> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const timer = forMs === undefined ? undefined : setTimeout(onSignal, forMs);
  try {
    const report = watchReporter({ write: (t) => io.out(t.replace(/\n$/, '')), isTTY: !args.options.json && process.stdout.isTTY === true });
    const summary = await watchStatus({ ...opts, intervalMs, signal: stop.signal, onEvent: report, counters: flag(args, 'counters') });
    if (summary.drifted.length) return 2;
    return summary.unreachable.length ? 1 : 0;
  } finally {
    clearTimeout(timer);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

export const statusCommand: CliCommand = {
  name: 'status',
  summary: 'read back what every device runs: in sync, drifted (entry by entry) or unreachable; --watch follows it, --counters reports per-rule hits',
  usage: 'weft status --inventory I [--policy P | --bundle DIR] [--state FILE] [--limit SEL] [--watch [--interval 10s] [--for DURATION]] [--counters]',
  options: [
    ...OPTIONS.filter((o) => o.name !== 'force'),
    ...DEVICE_OPTIONS,
    { name: 'watch', type: 'boolean', help: 'keep watching until SIGINT/SIGTERM (or --for): one line per change of a device (JSON lines unless stdout is a terminal); gNMI switches stream, the others are re-read' },
    { name: 'interval', type: 'string', help: 'with --watch: how often devices that cannot stream are read back (e.g. 10s, 500ms)', default: '10s' },
    { name: 'for', type: 'string', help: 'with --watch: stop after this long (e.g. 15s); exit 2 if a device drifted meanwhile, 1 if one could not be read' },
    { name: 'counters', type: 'boolean', help: 'per device and rule, the packets (and bytes where counted) each rule matched; with --watch, re-read every interval and reported when they move' },
  ],
  async run(args, io) {
    if (!flag(args, 'watch') && str(args, 'for') !== undefined) throw new UsageError('--for needs --watch');
    const intervalMs = durationOf(args, 'interval') as number;
    const forMs = durationOf(args, 'for');
    const statePath = statePathOf(args);
    const { fabric, wanted, done } = await fabricOf(args, statePath);
    try {
      const opts: StatusOptions = {
        ...deviceOptions(args),
        fabric,
        wanted,
        state: stateFor(statePath, fabric.manifest.fabric.name),
        keptBundle: (d) => readKept(statePath, d),
        selected: selectionOf(args, fabric),
      };
      if (flag(args, 'watch')) return await watch(args, io, opts, intervalMs, forMs);
      if (flag(args, 'counters')) {
        const devices = await readCounters(opts);
        io.out(args.options.json ? JSON.stringify({ devices }) : formatCounters(devices));
        return devices.every((d) => d.state === 'read') ? 0 : 1;
      }
      const rows = await readStatus(opts);
      const pending = readPending(statePath);
      if (args.options.json) io.out(JSON.stringify({ devices: rows, ...(pending ? { pendingConfirm: { commit: pending.id, deadline: pending.deadline, complete: pending.complete, devices: pending.devices } } : {}) }));
      else io.out(`${formatStatus(rows)}${pending ? `\n${describePending(pending)}` : ''}`);
      if (rows.some((r) => r.state === 'drifted')) return 2;
      return rows.every((r) => r.state === 'in-sync') ? 0 : 1;
    } finally {
      done();
    }
  },
};
