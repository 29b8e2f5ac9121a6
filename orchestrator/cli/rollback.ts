// `weft rollback`: after an interrupted run (the journal has no end for it),
// puts every device that run touched back on what it ran before; otherwise
// pushes an earlier kept bundle (the previous one, or one named by a digest
// prefix) through the same apply path as `weft apply`, so only the devices
// whose generation differs are touched, and records it as current.

import { readKept, rollbackTarget } from '../rollout/history.ts';
import { readRolloutState } from '../rollout/rollout.ts';
import { runApply, runRecover, unfinishedRun } from '../rollout/run.ts';
import { flag, str, UsageError, type CliCommand } from './command.ts';
import { deviceOptions, DEVICE_OPTIONS, LIMIT_OPTION, printResults, reportProgress, selectionOf, STATE_OPTION, statePathOf } from './rollout.ts';

export const rollbackCommand: CliCommand = {
  name: 'rollback',
  summary: 'undo an interrupted run, or apply the previous (or a named) kept bundle again; --list shows the kept ones',
  usage: 'weft rollback --inventory I [--to GEN] [--state FILE] [--limit SEL] | weft rollback --list [--state FILE]',
  options: [
    { name: 'inventory', type: 'string', help: 'inventory the kept bundles were compiled from (its key file references are read)' },
    { name: 'to', type: 'string', help: 'the kept generation to go to: a prefix of its digest (default: the one applied before the current one)' },
    STATE_OPTION,
    LIMIT_OPTION,
    ...DEVICE_OPTIONS,
    { name: 'list', type: 'boolean', help: 'list the kept generations and exit' },
  ],
  async run(args, io) {
    const path = statePathOf(args);
    const state = readRolloutState(path);
    if (flag(args, 'list')) {
      if (!state) throw new UsageError(`no rollout state at ${path} (apply a policy first, or give --state)`);
      const gens = state.generations ?? [];
      if (args.options.json) io.out(JSON.stringify({ current: state.current, generations: gens }));
      else for (const g of gens) io.out(`${g.digest === state.current ? '*' : ' '} ${g.digest.slice(0, 12)}  ${g.policy.padEnd(16)} ${g.how.padEnd(8)} ${g.at}`);
      return 0;
    }
    if (!str(args, 'inventory')) throw new UsageError('give --inventory I');
    const connect = { ...deviceOptions(args), statePath: path, onProgress: reportProgress() };
    if (unfinishedRun(path)) {
      if (str(args, 'to')) throw new UsageError('the last run was interrupted: `weft rollback` without --to undoes it first');
      const { run, devices } = await runRecover(connect);
      if (args.options.json) io.out(JSON.stringify({ recovered: run.run, bundle: run.bundle, devices }));
      else {
        io.out(`undid interrupted run ${run.run} (${run.verb} of ${run.bundle.slice(0, 12)})`);
        for (const d of devices) io.out(`  ${d.device.padEnd(12)} was ${d.was.padEnd(8)} ${d.status.padEnd(9)} ${d.generation?.slice(0, 12) ?? '(none)'}  ${d.detail}`);
      }
      return devices.some((d) => d.status === 'failed') ? 1 : 0;
    }
    if (!state) throw new UsageError(`no rollout state at ${path} (apply a policy first, or give --state)`);
    const target = rollbackTarget(state, str(args, 'to'));
    if ('error' in target) throw new UsageError(target.error);
    const bundle = await readKept(path, target.digest);
    if (!bundle) throw new UsageError(`generation ${target.digest.slice(0, 12)} is listed but its bundle is no longer kept under ${path}`);
    if (bundle.manifest.fabric.name !== state.fabric) throw new UsageError(`kept bundle ${target.digest.slice(0, 12)} is for fabric ${bundle.manifest.fabric.name}, the state for ${state.fabric}`);
    const results = await runApply({ ...connect, bundle, selected: selectionOf(args, bundle) }, 'rollback');
    return printResults(io, args, `rollback to generation ${target.digest.slice(0, 12)} (policy ${bundle.manifest.policy.name})`, { generation: target.digest }, results);
  },
};
