// `weft lab apply`: compiles a policy against the lab's own inventory and runs
// `weft apply` (the same code a real fabric uses) inside the lab's management
// namespace, so every push travels the lab's management network over the real
// transports. Records the generations applied in the lab state.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { compileBundle } from '../orchestrator/compile/driver.ts';
import { formatResults, type DeviceResult } from '../orchestrator/rollout/rollout.ts';
import { WEFT_BIN } from '../orchestrator/package-root.ts';
import { recordApplied } from './emulator.ts';
import { labDir, readState } from './state.ts';

export interface LabApplyOptions {
  lab: string;
  policyPath: string;
  outDir?: string;
}

export interface LabApplyResult {
  lab: string;
  bundle: string;
  seconds: number;
  /** Exit code of `weft apply`. */
  code: number;
  results: DeviceResult[];
}

export async function labApply(opts: LabApplyOptions): Promise<LabApplyResult> {
  const state = readState(opts.lab);
  if (!state?.inventory || state.phase !== 'ready') throw new Error(`lab ${opts.lab} is not deployed`);
  const t0 = performance.now();
  const outDir = opts.outDir ?? join(labDir(opts.lab), 'bundle');
  await compileBundle({ policyPath: opts.policyPath, inventoryPath: state.inventory, outDir });
  const argv = [
    'netns', 'exec', state.mgmtNetns,
    process.execPath, WEFT_BIN, 'apply',
    '--bundle', outDir,
    '--inventory', state.inventory,
    '--state', join(labDir(opts.lab), 'rollout.json'),
    '--json',
  ];
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c ?? 1, stdout: out, stderr: err }));
  });
  let results: DeviceResult[];
  try {
    results = (JSON.parse(stdout) as { results: DeviceResult[] }).results;
  } catch {
    throw new Error(`weft apply in ${state.mgmtNetns} failed (exit ${code}): ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
  }
  for (const r of results) if (r.status === 'applied' || r.status === 'unchanged') recordApplied(opts.lab, r.device, r.generation);
  return { lab: opts.lab, bundle: outDir, seconds: (performance.now() - t0) / 1000, code, results };
}

export function formatLabApply(r: LabApplyResult): string {
  return `lab ${r.lab}: bundle ${r.bundle}, pushed from the management namespace in ${r.seconds.toFixed(1)}s\n${formatResults(r.results)}`;
}
