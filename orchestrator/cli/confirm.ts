// `weft confirm`: keeps the rollout that `weft apply --confirm-within` left
// awaiting confirmation (every device confirmed, the new generation recorded),
// or with --cancel puts its devices back now, or with --extend gives it more
// time (every device's own revert and the watchdog move to the new deadline). `--watchdog` is the detached
// process the apply starts, which restores them at the deadline instead.

import { describePending, runWatchdog, type ConfirmedDevice, type ExtendedDevice, type PendingConfirm } from '../rollout/confirm.ts';
import { runCancel, runConfirm, runExtend } from '../rollout/run.ts';
import { duration, flag, str, UsageError, type CliCommand, type CliIo, type ParsedArgs } from './command.ts';
import { deviceOptions, DEVICE_OPTIONS, STATE_OPTION, statePathOf } from './rollout.ts';

function print(io: CliIo, args: ParsedArgs, verb: string, r: { pending: PendingConfirm; devices: (ConfirmedDevice | ExtendedDevice)[] }): number {
  if (args.options.json) io.out(JSON.stringify({ commit: r.pending.id, bundle: r.pending.bundle, deadline: r.pending.deadline, devices: r.devices }));
  else {
    io.out(`${verb} commit ${r.pending.id} of ${r.pending.bundle.slice(0, 12)}`);
    for (const d of r.devices) io.out(`  ${d.device.padEnd(12)} ${d.held.padEnd(8)} ${d.status.padEnd(9)} ${'generation' in d ? (d.generation?.slice(0, 12) ?? '(none)') : ''}  ${d.detail}`);
  }
  return r.devices.every((d) => d.status !== 'failed') ? 0 : 1;
}

export const confirmCommand: CliCommand = {
  name: 'confirm',
  summary: 'keep the rollout awaiting confirmation (apply --confirm-within), or put its devices back now with --cancel',
  usage: 'weft confirm [--state FILE] [--inventory I] [--cancel | --extend DUR]',
  options: [
    STATE_OPTION,
    { name: 'inventory', type: 'string', help: 'inventory for key file references (default: the one the apply used)' },
    ...DEVICE_OPTIONS,
    { name: 'cancel', type: 'boolean', help: 'put every device of the pending rollout back on what it ran before, now' },
    { name: 'extend', type: 'string', help: 'do not confirm yet: every device goes back unless confirmed within this time from now instead (30s, 5m)' },
    { name: 'watchdog', type: 'string', help: 'internal: run as the watchdog started by `weft apply --confirm-within` (its token)' },
  ],
  async run(args, io) {
    const statePath = statePathOf(args);
    const token = str(args, 'watchdog');
    if (token !== undefined) {
      const r = await runWatchdog(statePath, token);
      io.out(JSON.stringify({ at: new Date().toISOString(), outcome: r.outcome, ...('devices' in r ? { devices: r.devices } : {}) }));
      return 'devices' in r && r.devices.some((d) => d.status === 'failed') ? 1 : 0;
    }
    // Without --inventory, the devices are reached as the apply reached them.
    const opts = { ...deviceOptions(args), statePath };
    const withinMs = duration(args, 'extend');
    if (withinMs !== undefined && flag(args, 'cancel')) throw new UsageError('--extend and --cancel exclude each other');
    if (flag(args, 'cancel')) return print(io, args, 'cancelled', await runCancel(opts));
    if (withinMs !== undefined) {
      const r = await runExtend(opts, withinMs);
      const code = print(io, args, `extended until ${r.pending.deadline}:`, r);
      if (code !== 0 && !args.options.json) io.out(describePending(r.pending));
      return code;
    }
    const r = await runConfirm(opts);
    const code = print(io, args, 'confirmed', r);
    if (code !== 0 && !args.options.json) io.out(describePending(r.pending));
    return code;
  },
};
