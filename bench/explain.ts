// A cold `weft explain` on the data-center scenarios (bench/scenarios.ts:
// 10,000 rules, 100,000 endpoints, 1,000 devices; shapes correlated,
// catch-all, independent), run as a user runs it: a new process of the
// compiled command on the files, one flow from the first endpoint to the
// last. Reports the process's wall time, CPU time (user + system) and peak
// RSS, read by the process itself at exit, and the verdict. Goal: 2 s.
// WEFT_EXPLAIN_SHAPES=correlated picks shapes; WEFT_EXPLAIN_SCALE=0.1
// shrinks the scenario (endpoints and rules).

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WEFT_BIN } from '../orchestrator/package-root.ts';
import { ensureDistCurrent } from '../test/build-dist.ts';
import { SHAPE_DEFAULTS, shapeYaml, type Shape } from './scenarios.ts';

const SHAPES: readonly Shape[] = ['correlated', 'catch-all', 'independent'];
const LIMIT_S = 300;
/** Printed by a weft process as it exits: its own CPU time and peak RSS (node's process.resourceUsage). */
const USAGE_HOOK = `data:text/javascript,process.on('exit',()=>process.stderr.write('\\nweft-usage '+JSON.stringify(process.resourceUsage())+'\\n'))`;
const ADDRESS_RE = /addresses: \["([0-9.]+)"/g;

export interface WeftRun {
  status: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** User and system CPU time of the process, as it reported at exit. */
  cpuMs: number;
  peakRssMiB: number;
}

/** Runs `weft ARGS` as a new process (node flags first), timed, with its own CPU time and peak RSS; killed after `limitS`. */
export function runWeft(args: string[], nodeFlags: string[] = [], limitS = LIMIT_S): WeftRun {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [...nodeFlags, `--import=${USAGE_HOOK}`, WEFT_BIN, ...args], { encoding: 'utf8', timeout: limitS * 1000, maxBuffer: 256 << 20 });
  const wallMs = Math.round(performance.now() - t0);
  const usage = /weft-usage (\{.*\})/.exec(r.stderr);
  if (!usage) throw new Error(`weft ${args[0]}: the process did not report its resource usage (exit ${r.status ?? r.signal}): ${r.stderr.slice(-400)}`);
  const u = JSON.parse(usage[1]) as { userCPUTime: number; systemCPUTime: number; maxRSS: number };
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, wallMs, cpuMs: Math.round((u.userCPUTime + u.systemCPUTime) / 1000), peakRssMiB: Math.round(u.maxRSS / 1024) };
}

/** Explains a flow from the fabric's first IPv4 endpoint to its last, in a new process. */
export function explainOnce(dir: string, fabricText: string): Record<string, unknown> {
  const addrs = [...fabricText.matchAll(ADDRESS_RE)].map((m) => m[1]);
  const r = runWeft(['explain', '--policy', join(dir, 'policy.yaml'), '--inventory', join(dir, 'fabric.yaml'), '--src', addrs[0], '--dst', addrs[addrs.length - 1], '--proto', 'tcp', '--dport', '443', '--json']);
  if (r.status !== 0) throw new Error(`explain exited ${r.status}: ${r.stderr.slice(-400)}`);
  const x = JSON.parse(r.stdout) as { verdict: string; points: unknown[] };
  return { wallMs: r.wallMs, cpuMs: r.cpuMs, peakRssMiB: r.peakRssMiB, verdict: x.verdict, points: x.points.length };
}

export async function run(): Promise<Record<string, unknown>> {
  ensureDistCurrent();
  const only = process.env.WEFT_EXPLAIN_SHAPES?.split(',');
  const scale = Number(process.env.WEFT_EXPLAIN_SCALE ?? 1);
  const o = { ...SHAPE_DEFAULTS, rules: Math.round(SHAPE_DEFAULTS.rules * scale), endpoints: Math.round(SHAPE_DEFAULTS.endpoints * scale) };
  const out: Record<string, unknown> = { scale, rules: o.rules, endpoints: o.endpoints, devices: o.devices };
  const work = mkdtempSync(join(tmpdir(), 'weft-explain-bench-'));
  try {
    for (const shape of SHAPES.filter((s) => !only || only.includes(s))) {
      const dir = join(work, shape);
      const { policy, fabric } = shapeYaml(shape, o);
      mkdirSync(dir);
      writeFileSync(join(dir, 'policy.yaml'), policy);
      writeFileSync(join(dir, 'fabric.yaml'), fabric);
      for (const [k, v] of Object.entries(explainOnce(dir, fabric))) out[`${shape}.${k}`] = v;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}
