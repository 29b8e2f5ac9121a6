// `weft status`: what every device runs, read back from the device itself,
// against what it should run: the given policy or bundle, else what the
// rollout state records per device (or the rollout awaiting confirmation,
// shown with its deadline). Exits 0 when every device is in sync, 2
// on drift, 1 when a device cannot be reached (or its generation is unknown).

import type { Bundle } from '../compile/bundle.ts';
import { readKept } from '../rollout/history.ts';
import { readRolloutState } from '../rollout/rollout.ts';
import { stateFor } from '../rollout/run.ts';
import { describePending, readPending } from '../rollout/confirm.ts';
import { formatStatus, readStatus } from '../rollout/status.ts';
import { str, UsageError, type CliCommand, type ParsedArgs } from './command.ts';
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

export const statusCommand: CliCommand = {
  name: 'status',
  summary: 'read back what every device runs: in sync, drifted (entry by entry) or unreachable',
  usage: 'weft status --inventory I [--policy P | --bundle DIR] [--state FILE] [--limit SEL]',
  options: [...OPTIONS.filter((o) => o.name !== 'force'), ...DEVICE_OPTIONS],
  async run(args, io) {
    const statePath = statePathOf(args);
    const { fabric, wanted, done } = await fabricOf(args, statePath);
    try {
      const rows = await readStatus({
        ...deviceOptions(args),
        fabric,
        wanted,
        state: stateFor(statePath, fabric.manifest.fabric.name),
        keptBundle: (d) => readKept(statePath, d),
        selected: selectionOf(args, fabric),
      });
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
