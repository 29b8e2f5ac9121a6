// `weft verify`: check every artefact of a bundle against the reference
// evaluator, through each target's own interpreter of its artefact.

import { inputFor, readBundle } from '../compile/bundle.ts';
import { ManifestError, TARGET_NAMES } from '../compile/manifest.ts';
import { InputError } from '../diagnostics.ts';
import type { TargetName, VerifyReport } from '../../targets/contract.ts';
import { flag, num, str, UsageError, type CliCommand } from './command.ts';

export const verifyCommand: CliCommand = {
  name: 'verify',
  summary: "check a bundle's artefacts against the reference evaluator on generated flows",
  usage: 'weft verify --bundle DIR [--target host|dpu|p4|openconfig] [--packets N] [--seed S] [--json]',
  options: [
    { name: 'bundle', type: 'string', help: 'bundle directory written by weft compile', required: true },
    { name: 'target', type: 'string', help: `only devices of this target (${TARGET_NAMES.join('|')})` },
    { name: 'packets', type: 'number', help: 'flows to try per device', default: 20000 },
    { name: 'seed', type: 'number', help: 'seed of the flow generator', default: 1 },
  ],
  async run(args, io) {
    const only = str(args, 'target');
    if (only !== undefined && !(TARGET_NAMES as readonly string[]).includes(only)) {
      throw new UsageError(`--target "${only}" is not one of ${TARGET_NAMES.join('|')}`);
    }
    const packets = num(args, 'packets')!;
    const seed = num(args, 'seed')!;
    if (!Number.isInteger(packets) || packets < 1) throw new UsageError(`--packets ${packets} must be a positive integer`);
    if (!Number.isInteger(seed)) throw new UsageError(`--seed ${seed} must be an integer`);
    const bundle = await readBundle(str(args, 'bundle')!).catch((e: unknown) => {
      // A damaged or foreign bundle is bad input (exit 2), not a failed check.
      if (!(e instanceof ManifestError)) throw e;
      throw new InputError(e.problems.map((message) => ({ code: e.code, severity: 'error' as const, message, span: { file: e.file, line: 1, col: 1 }, hint: 'recompile the bundle with weft compile' })));
    });
    const devices = bundle.manifest.devices.filter((d) => only === undefined || d.target === (only as TargetName));
    if (devices.length === 0) throw new UsageError(`the bundle has no ${only} devices (targets present: ${[...new Set(bundle.manifest.devices.map((d) => d.target))].join(', ')})`);
    // Loaded on demand: the registry pulls in every target.
    const { targetFor } = await import('../../targets/registry.ts');
    const reports: VerifyReport[] = [];
    for (const d of devices) {
      const input = inputFor(bundle, d.name);
      const report = await targetFor(input.device).verify(bundle.deviceDir(d.name), input, { packets, seed });
      reports.push(report);
      if (!flag(args, 'json')) {
        io.out(`${d.name.padEnd(10)} ${d.target.padEnd(10)} ${report.mode.padEnd(9)} ${report.flows} flows, ${report.mismatches} mismatches${report.detail ? `; ${report.detail}` : ''}`);
        for (const ex of report.examples) io.out(`  mismatch: ${ex}`);
      }
    }
    const flows = reports.reduce((n, r) => n + r.flows, 0);
    const mismatches = reports.reduce((n, r) => n + r.mismatches, 0);
    if (flag(args, 'json')) io.out(JSON.stringify({ ok: mismatches === 0, flows, mismatches, devices: reports }, null, 2));
    else io.out(`verify: ${reports.length} devices, ${flows} flows, ${mismatches} mismatches`);
    return mismatches > 0 ? 1 : 0;
  },
};
