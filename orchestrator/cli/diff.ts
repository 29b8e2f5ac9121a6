// `weft diff`: what applying a policy (or a compiled bundle) would change on
// each device against what it runs now. Exits like diff(1): 0 when nothing
// would change, 1 when something would, 2 on bad input.

import { ManifestError } from '../compile/manifest.ts';
import { diffRollout, formatDiff } from '../rollout/diff.ts';
import { readKept } from '../rollout/history.ts';
import { type CliCommand } from './command.ts';
import { stateFor } from '../rollout/run.ts';
import { bundleOf, OPTIONS, statePathOf } from './rollout.ts';

export const diffCommand: CliCommand = {
  name: 'diff',
  summary: 'per device, what an apply would change against what runs (unchanged / changed / added / removed)',
  usage: 'weft diff --inventory I (--policy P | --bundle DIR) [--state FILE]',
  options: OPTIONS.filter((o) => o.name !== 'force' && o.name !== 'limit'),
  async run(args, io) {
    let compiled;
    try {
      compiled = await bundleOf(args);
    } catch (e) {
      if (!(e instanceof ManifestError)) throw e;
      io.err(`weft diff: ${e.message}`);
      return 2;
    }
    const { bundle, label, done } = compiled;
    try {
      const path = statePathOf(args);
      const state = stateFor(path, bundle.manifest.fabric.name);
      const diffs = await diffRollout(bundle, state, (digest) => readKept(path, digest));
      if (args.options.json) io.out(JSON.stringify({ bundle: label, current: state.current, devices: diffs }));
      else io.out(`bundle ${label} against ${state.current ? `generation ${state.current.slice(0, 12)}` : 'nothing applied'}\n${formatDiff(diffs)}`);
      return diffs.every((d) => d.change === 'unchanged') ? 0 : 1;
    } finally {
      done();
    }
  },
};
