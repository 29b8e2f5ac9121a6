// `weft plan|apply`: roll a compiled bundle out to the fabric's devices over
// their real transports (orchestrator/rollout/). A clean apply keeps its
// bundle beside the state file, for `weft rollback`, `weft diff` and `weft
// status`; every run is locked and journaled there. With --confirm-within
// every changed device goes back by itself unless `weft confirm` comes in
// time (orchestrator/rollout/confirm.ts).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compileBundle } from '../compile/driver.ts';
import { readBundle, type Bundle } from '../compile/bundle.ts';
import { diffRollout } from '../rollout/diff.ts';
import { readKept } from '../rollout/history.ts';
import { progressReporter } from '../rollout/progress.ts';
import { deviceHandles, formatResults, planRollout, DEFAULT_PARALLEL, DEFAULT_TIMEOUT_MS, type DeviceResult } from '../rollout/rollout.ts';
import { runApply, runResume, stateFor } from '../rollout/run.ts';
import { ConfirmUnsupportedError, describePending, readPending } from '../rollout/confirm.ts';
import { parseDuration } from '../duration.ts';
import { selectDevices, SelectionError } from '../rollout/select.ts';
import { flag, num, str, UsageError, type CliCommand, type CliIo, type OptionSpec, type ParsedArgs } from './command.ts';

export const STATE_OPTION: OptionSpec = { name: 'state', type: 'string', help: 'rollout state file (applied generations; kept bundles, lock and journal beside it)', default: '.weft/rollout.json' };

export const LIMIT_OPTION: OptionSpec = { name: 'limit', type: 'string', help: 'only these devices: names, globs (leaf*), labels (rack=r1), kinds (switch) or targets (p4), comma-separated' };

/** Options of every verb that talks to devices. */
export const DEVICE_OPTIONS: OptionSpec[] = [
  { name: 'identity', type: 'string', help: 'SSH client key (default: mgmt.ssh.identityFile of each device)' },
  { name: 'parallel', type: 'number', help: 'devices talked to at once', default: DEFAULT_PARALLEL },
  { name: 'timeout', type: 'number', help: 'seconds each remote call may take', default: DEFAULT_TIMEOUT_MS / 1000 },
];

export const OPTIONS: OptionSpec[] = [
  { name: 'policy', type: 'string', help: 'policy file (compiled first unless --bundle is given)' },
  { name: 'inventory', type: 'string', help: 'inventory (fabric.yaml or .clab.yml); with --bundle only its key file references are read (addresses and pinned host keys come from the bundle)', required: true },
  { name: 'bundle', type: 'string', help: 'an already compiled bundle directory' },
  { name: 'out', type: 'string', help: 'where to compile the bundle (default: a temporary directory)' },
  STATE_OPTION,
  LIMIT_OPTION,
  { name: 'force', type: 'boolean', help: 'push devices whose generation is already applied' },
];

/** The bundle to roll out: given, or compiled (into --out, else a temporary directory removed by `done`). */
export async function bundleOf(args: ParsedArgs): Promise<{ bundle: Bundle; label: string; done: () => void }> {
  const given = str(args, 'bundle');
  if (given) {
    const bundle = await readBundle(given);
    return { bundle, label: bundle.dir, done: () => undefined };
  }
  const policyPath = str(args, 'policy');
  const inventoryPath = str(args, 'inventory') as string;
  if (!policyPath) throw new UsageError('give --policy P (to compile) or --bundle DIR');
  const out = str(args, 'out');
  const tmp = out ? undefined : mkdtempSync(join(tmpdir(), 'weft-rollout-'));
  const done = (): void => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  };
  try {
    const outDir = out ?? join(tmp as string, 'out');
    await compileBundle({ policyPath, inventoryPath, outDir });
    const bundle = await readBundle(outDir);
    return { bundle, label: tmp ? 'compiled into a temporary directory' : bundle.dir, done };
  } catch (e) {
    done();
    throw e;
  }
}

export function statePathOf(args: ParsedArgs): string {
  return resolve(str(args, 'state') as string);
}

/** --limit over a bundle's devices; a pattern that selects nothing is bad input. */
export function selectionOf(args: ParsedArgs, bundle: Bundle): Set<string> | undefined {
  const limit = str(args, 'limit');
  if (limit === undefined) return undefined;
  const byName = new Map(bundle.fabric.devices.map((d) => [d.name, d]));
  try {
    return selectDevices(
      limit,
      bundle.manifest.devices.flatMap((md) => {
        const device = byName.get(md.name);
        return device ? [{ device, target: md.target }] : [];
      }),
    );
  } catch (e) {
    if (e instanceof SelectionError) throw new UsageError(e.message);
    throw e;
  }
}

function positive(args: ParsedArgs, name: string): number | undefined {
  const v = num(args, name);
  if (v !== undefined && !(v > 0)) throw new UsageError(`--${name} must be greater than 0, got ${v}`);
  return v;
}

/** Connection settings shared by apply, status and rollback. */
export function deviceOptions(args: ParsedArgs): { inventoryPath: string; identity?: string; parallel?: number; timeoutMs?: number } {
  const timeout = positive(args, 'timeout');
  const parallel = positive(args, 'parallel');
  return { inventoryPath: str(args, 'inventory') as string, identity: str(args, 'identity'), parallel: parallel === undefined ? undefined : Math.floor(parallel), timeoutMs: timeout === undefined ? undefined : timeout * 1000 };
}

export function reportProgress(): ReturnType<typeof progressReporter> {
  return progressReporter({ write: onceATurn((t) => process.stderr.write(t)), isTTY: process.stderr.isTTY });
}

/**
 * Text written once per turn of the event loop: stderr on a pipe is written
 * synchronously, and devices finishing together would otherwise cost one
 * write each.
 */
function onceATurn(write: (text: string) => void): (text: string) => void {
  let pending = '';
  const flush = (): void => {
    const text = pending;
    pending = '';
    write(text);
  };
  return (text) => {
    if (pending === '') setImmediate(flush);
    pending += text;
  };
}

export function printResults(io: CliIo, args: ParsedArgs, head: string, json: Record<string, unknown>, results: DeviceResult[]): number {
  if (args.options.json) io.out(JSON.stringify({ ...json, results }));
  else io.out(`${head}\n${formatResults(results)}`);
  return results.some((r) => r.status === 'failed') ? 1 : 0;
}

export const planCommand: CliCommand = {
  name: 'plan',
  summary: 'show per device what a rollout would push, over which transport, in which wave, and what changes',
  usage: 'weft plan --inventory I (--policy P | --bundle DIR) [--limit SEL] [--detailed-exitcode]',
  options: [...OPTIONS, { name: 'detailed-exitcode', type: 'boolean', help: 'exit 0 when nothing would change, 2 when something would, 1 on any error' }],
  async run(args, io) {
    const detailed = flag(args, 'detailed-exitcode');
    try {
      const { bundle, label, done } = await bundleOf(args);
      try {
        const statePath = statePathOf(args);
        const state = stateFor(statePath, bundle.manifest.fabric.name);
        const selected = selectionOf(args, bundle);
        const plan = planRollout(bundle, await deviceHandles(bundle), state, { force: flag(args, 'force'), selected });
        const diffs = new Map((await diffRollout(bundle, state, (d) => readKept(statePath, d))).map((d) => [d.device, d]));
        const rows = plan.map((p) => {
          const d = diffs.get(p.device);
          const change = p.action === 'unchanged' ? 'unchanged' : d?.change === 'changed' ? (d.artefacts?.summary ?? `files ${d.files.join(', ')} (applied bundle no longer kept)`) : d?.change === 'added' ? 'new on this device' : 'pushed again (--force)';
          return { ...p, change };
        });
        const toApply = rows.filter((p) => p.action === 'apply').length;
        if (args.options.json) io.out(JSON.stringify({ bundle: label, plan: rows }));
        else {
          io.out(`bundle ${label}`);
          for (const p of rows) io.out(`  wave ${p.wave}  ${p.device.padEnd(12)} ${p.target.padEnd(10)} ${p.transport.padEnd(9)} ${(p.address ?? '-').padEnd(15)} ${p.action.padEnd(9)} ${p.generation.slice(0, 12)}${p.current && p.action === 'apply' ? ` (now ${p.current.slice(0, 12)})` : ''}  ${p.change}`);
          io.out(`${toApply} to apply, ${rows.length - toApply} unchanged`);
        }
        return detailed && toApply > 0 ? 2 : 0;
      } finally {
        done();
      }
    } catch (e) {
      if (!detailed) throw e;
      io.err(`weft plan: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
  },
};

export const applyCommand: CliCommand = {
  name: 'apply',
  summary: 'push a compiled policy to every device over its transport (SSH, P4Runtime, gNMI)',
  usage: 'weft apply --inventory I (--policy P | --bundle DIR | --resume) [--state FILE] [--limit SEL] [--parallel N] [--canary N] [--force] [--confirm-within DUR [--confirm-fallback]] [--confirm-pending]',
  options: [
    ...OPTIONS,
    ...DEVICE_OPTIONS,
    { name: 'canary', type: 'number', help: 'per wave, push this many devices first and go on only when they read back right' },
    { name: 'confirm-within', type: 'string', help: 'commit-confirmed: every changed device goes back by itself to what it ran unless `weft confirm` comes within this time (30s, 5m)' },
    {
      name: 'confirm-fallback',
      type: 'boolean',
      help: 'with --confirm-within: a device that cannot revert by itself (gNMI switch without the commit-confirmed extension, NIC prefilter) is restored at the deadline by the watchdog on this machine instead of refused',
    },
    { name: 'confirm-pending', type: 'boolean', help: 'confirm the rollout awaiting confirmation first, then run this one (default: refused while one is pending)' },
    { name: 'resume', type: 'boolean', help: "finish the interrupted run the journal names (its bundle is kept; --policy and --bundle are not needed)" },
  ],
  async run(args, io) {
    const statePath = statePathOf(args);
    const common = { ...deviceOptions(args), statePath, canary: positive(args, 'canary'), force: flag(args, 'force'), onProgress: reportProgress() };
    if (flag(args, 'resume')) {
      if (str(args, 'policy') || str(args, 'bundle')) throw new UsageError('--resume takes the bundle of the interrupted run; drop --policy and --bundle');
      const { run, bundle, results } = await runResume(common);
      return printResults(io, args, `resumed run ${run.run} of ${bundle.dir}`, { resumed: run.run, bundle: bundle.dir }, results);
    }
    const within = str(args, 'confirm-within');
    let confirmWithinMs: number | undefined;
    try {
      confirmWithinMs = within === undefined ? undefined : parseDuration(within);
    } catch (e) {
      throw new UsageError(`--confirm-within: ${(e as Error).message}`);
    }
    if (flag(args, 'confirm-fallback') && confirmWithinMs === undefined) throw new UsageError('--confirm-fallback goes with --confirm-within DUR');
    const { bundle, label, done } = await bundleOf(args);
    try {
      let results: DeviceResult[];
      try {
        results = await runApply({ ...common, bundle, selected: selectionOf(args, bundle), confirmWithinMs, confirmFallback: flag(args, 'confirm-fallback'), confirmPending: flag(args, 'confirm-pending') }, 'apply');
      } catch (e) {
        if (e instanceof ConfirmUnsupportedError) throw new UsageError(e.message);
        throw e;
      }
      const pending = confirmWithinMs === undefined ? undefined : readPending(statePath);
      const code = printResults(io, args, `bundle ${label}`, { bundle: label, ...(pending ? { confirmBy: pending.deadline, commit: pending.id } : {}) }, results);
      if (pending && !args.options.json) io.out(`${describePending(pending)}\nkeep it with: weft confirm --state ${statePath}`);
      return code;
    } finally {
      done();
    }
  },
};
