// Tries the offload checker by hand on a built object, outside the `weft`
// command: node bin/run-ts.js targets/dpu/offload-check/main.ts OBJECT
// [--program NAME] [--profile NAME] [--json]. Exit 0 when the program fits,
// 1 when it breaks a rule, 2 on bad input.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { DpuProfile } from '../../../inventory/model.ts';
import { PROFILE_NAMES, PROFILES } from '../profiles.ts';
import { checkOffload, formatOffloadReport } from './check.ts';
import { ElfError } from './elf.ts';

function fail(message: string): never {
  process.stderr.write(`offload-check: ${message}\n`);
  process.exit(2);
}

function main(): void {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { program: { type: 'string' }, profile: { type: 'string', default: 'nfp' }, json: { type: 'boolean', default: false } },
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) fail('usage: main.ts OBJECT [--program NAME] [--profile NAME] [--json]');
  const profile = PROFILES[values.profile as DpuProfile];
  if (!profile) fail(`unknown profile "${values.profile}"; valid: ${PROFILE_NAMES.join(', ')}`);
  if (!profile.limits) fail(`profile ${profile.name} runs a full kernel and has no offload limits; profiles with limits: ${PROFILE_NAMES.filter((p) => PROFILES[p].limits).join(', ')}`);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(positionals[0]);
  } catch (e) {
    fail(`${positionals[0]}: ${(e as Error).message}`);
  }
  try {
    const report = checkOffload(bytes, profile.limits, { program: values.program });
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatOffloadReport(report)}\n`);
    process.exit(report.ok ? 0 : 1);
  } catch (e) {
    if (e instanceof ElfError) fail(`${positionals[0]}: ${e.message}`);
    throw e;
  }
}

main();
