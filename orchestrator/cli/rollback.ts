// `weft rollback`: push an earlier kept bundle (the previous one, or one named
// by a digest prefix) through the same apply path as `weft apply`, so only the
// devices whose generation differs are touched, and record it as current.

import { resolve } from 'node:path';
import { readKept, recordGeneration, rollbackTarget } from '../rollout/history.ts';
import { applyRollout, formatResults, readRolloutState, writeRolloutState } from '../rollout/rollout.ts';
import { flag, str, UsageError, type CliCommand } from './command.ts';
import { STATE_OPTION } from './rollout.ts';

export const rollbackCommand: CliCommand = {
  name: 'rollback',
  summary: 'apply the previous (or a named) kept bundle again; --list shows the kept ones',
  usage: 'weft rollback --inventory I [--to GEN] [--state FILE] | weft rollback --list [--state FILE]',
  options: [
    { name: 'inventory', type: 'string', help: 'inventory the kept bundles were compiled from (its key file references are read)' },
    { name: 'to', type: 'string', help: 'the kept generation to go to: a prefix of its digest (default: the one applied before the current one)' },
    STATE_OPTION,
    { name: 'identity', type: 'string', help: 'SSH client key (default: mgmt.ssh.identityFile of each device)' },
    { name: 'list', type: 'boolean', help: 'list the kept generations and exit' },
  ],
  async run(args, io) {
    const path = resolve(str(args, 'state') as string);
    const state = readRolloutState(path);
    if (!state) throw new UsageError(`no rollout state at ${path} (apply a policy first, or give --state)`);
    if (flag(args, 'list')) {
      const gens = state.generations ?? [];
      if (args.options.json) io.out(JSON.stringify({ current: state.current, generations: gens }));
      else for (const g of gens) io.out(`${g.digest === state.current ? '*' : ' '} ${g.digest.slice(0, 12)}  ${g.policy.padEnd(16)} ${g.how.padEnd(8)} ${g.at}`);
      return 0;
    }
    const inventoryPath = str(args, 'inventory');
    if (!inventoryPath) throw new UsageError('give --inventory I');
    const target = rollbackTarget(state, str(args, 'to'));
    if ('error' in target) throw new UsageError(target.error);
    const bundle = await readKept(path, target.digest);
    if (!bundle) throw new UsageError(`generation ${target.digest.slice(0, 12)} is listed but its bundle is no longer kept under ${path}`);
    if (bundle.manifest.fabric.name !== state.fabric) throw new UsageError(`kept bundle ${target.digest.slice(0, 12)} is for fabric ${bundle.manifest.fabric.name}, the state for ${state.fabric}`);
    const results = await applyRollout({
      bundle,
      inventoryPath,
      identity: str(args, 'identity'),
      state,
      keptBundle: (digest) => readKept(path, digest),
    });
    const ok = !results.some((r) => r.status === 'failed');
    if (ok) recordGeneration(path, state, bundle, 'rollback');
    writeRolloutState(path, state);
    const label = `generation ${target.digest.slice(0, 12)} (policy ${bundle.manifest.policy.name})`;
    if (args.options.json) io.out(JSON.stringify({ generation: target.digest, results }));
    else io.out(`rollback to ${label}\n${formatResults(results)}`);
    return ok ? 0 : 1;
  },
};
