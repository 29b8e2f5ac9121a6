// `weft plan|apply|status`: roll a compiled bundle out to the fabric's devices
// over their real transports (orchestrator/rollout/). A clean apply keeps its
// bundle beside the state file, for `weft rollback` and `weft diff`.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compileBundle } from '../compile/driver.ts';
import { readBundle, type Bundle } from '../compile/bundle.ts';
import { readKept, recordGeneration } from '../rollout/history.ts';
import { applyRollout, formatResults, planRollout, readRolloutState, writeRolloutState, type RolloutState } from '../rollout/rollout.ts';
import { flag, str, UsageError, type CliCommand, type OptionSpec, type ParsedArgs } from './command.ts';

export const STATE_OPTION: OptionSpec = { name: 'state', type: 'string', help: 'rollout state file (applied generations; kept bundles go in bundles/ beside it)', default: '.weft/rollout.json' };

export const OPTIONS: OptionSpec[] = [
  { name: 'policy', type: 'string', help: 'policy file (compiled first unless --bundle is given)' },
  { name: 'inventory', type: 'string', help: 'inventory (fabric.yaml or .clab.yml); with --bundle only its key file references are read (addresses and pinned host keys come from the bundle)', required: true },
  { name: 'bundle', type: 'string', help: 'an already compiled bundle directory' },
  { name: 'out', type: 'string', help: 'where to compile the bundle (default: a temporary directory)' },
  STATE_OPTION,
  { name: 'identity', type: 'string', help: 'SSH client key (default: mgmt.ssh.identityFile of each device)' },
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

export function stateOf(args: ParsedArgs, bundle: Bundle): { path: string; state: RolloutState } {
  const path = resolve(str(args, 'state') as string);
  const prev = readRolloutState(path);
  const state = prev && prev.fabric === bundle.manifest.fabric.name ? prev : { fabric: bundle.manifest.fabric.name, devices: {} };
  return { path, state };
}

export const planCommand: CliCommand = {
  name: 'plan',
  summary: 'show which devices a rollout would push, over which transport, in which wave',
  usage: 'weft plan --inventory I (--policy P | --bundle DIR)',
  options: OPTIONS,
  async run(args, io) {
    const { bundle, label, done } = await bundleOf(args);
    done();
    const { state } = stateOf(args, bundle);
    const plan = planRollout(bundle, state, flag(args, 'force'));
    if (args.options.json) io.out(JSON.stringify({ bundle: label, plan }));
    else {
      io.out(`bundle ${label}`);
      for (const p of plan) io.out(`  wave ${p.wave}  ${p.device.padEnd(12)} ${p.target.padEnd(10)} ${p.transport.padEnd(9)} ${(p.address ?? '-').padEnd(15)} ${p.action} ${p.generation.slice(0, 12)}${p.current ? ` (now ${p.current.slice(0, 12)})` : ''}`);
      io.out(`${plan.filter((p) => p.action === 'apply').length} to apply, ${plan.filter((p) => p.action === 'unchanged').length} unchanged`);
    }
    return 0;
  },
};

export const applyCommand: CliCommand = {
  name: 'apply',
  summary: 'push a compiled policy to every device over its transport (SSH, P4Runtime, gNMI)',
  usage: 'weft apply --inventory I (--policy P | --bundle DIR) [--state FILE] [--force]',
  options: OPTIONS,
  async run(args, io) {
    const { bundle, label, done } = await bundleOf(args);
    const { path, state } = stateOf(args, bundle);
    let results;
    try {
      results = await applyRollout({
        bundle,
        inventoryPath: str(args, 'inventory') as string,
        identity: str(args, 'identity'),
        state,
        force: flag(args, 'force'),
        keptBundle: (digest) => readKept(path, digest),
      });
      // Kept before `done` removes a temporary bundle.
      if (!results.some((r) => r.status === 'failed')) recordGeneration(path, state, bundle, 'apply');
    } finally {
      done();
    }
    writeRolloutState(path, state);
    if (args.options.json) io.out(JSON.stringify({ bundle: label, results }));
    else io.out(`bundle ${label}\n${formatResults(results)}`);
    return results.some((r) => r.status === 'failed') ? 1 : 0;
  },
};

export const statusCommand: CliCommand = {
  name: 'status',
  summary: 'applied generation of every device against a bundle',
  usage: 'weft status --inventory I (--policy P | --bundle DIR) [--state FILE]',
  options: OPTIONS,
  async run(args, io) {
    const { bundle, done } = await bundleOf(args);
    done();
    const { state } = stateOf(args, bundle);
    const rows = bundle.manifest.devices.map((d) => ({
      device: d.name,
      target: d.target,
      wanted: d.generation,
      applied: state.devices[d.name]?.generation,
      at: state.devices[d.name]?.at,
      inSync: state.devices[d.name]?.generation === d.generation,
    }));
    if (args.options.json) io.out(JSON.stringify({ devices: rows }));
    else for (const r of rows) io.out(`  ${r.device.padEnd(12)} ${r.target.padEnd(10)} ${r.inSync ? 'in sync' : 'out of sync'}  wanted ${r.wanted.slice(0, 12)} applied ${r.applied?.slice(0, 12) ?? '-'}${r.at ? ` at ${r.at}` : ''}`);
    return rows.every((r) => r.inSync) ? 0 : 1;
  },
};
