// Benchmarks of the `weft` command: how fast it starts (`weft --help` and
// `weft validate` on examples/, side by side with `node -e 0` in the same
// run), and the compile driver's own stages: placement on a large generated
// fabric, a full `weft compile` of examples/ through every real target,
// reading the bundle back, and `weft explain` throughput.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInventory } from '../inventory/load.ts';
import { readBundle } from '../orchestrator/compile/bundle.ts';
import { compileBundle } from '../orchestrator/compile/driver.ts';
import { Explainer } from '../orchestrator/explain/explain.ts';
import { buildIr } from '../orchestrator/ir/build.ts';
import { place } from '../orchestrator/placement/place.ts';
import { loadPolicy } from '../orchestrator/policy/load.ts';
import { generateFlows, generateScenario, makeRng } from '../orchestrator/testing/generate.ts';
import { WEFT_BIN } from '../orchestrator/package-root.ts';
import { ensureDistCurrent } from '../test/build-dist.ts';

/** Start-up goals of the compiled command (wall time of the whole process). */
const STARTUP_GOALS_MS = { help: 250, validate: 500 };
const STARTUP_RUNS = 15;
const STARTUP_COMMANDS: Record<string, string[]> = {
  node: ['-e', '0'],
  help: [WEFT_BIN, '--help'],
  validate: [WEFT_BIN, 'validate', '--policy', 'examples/policy.yaml', '--inventory', 'examples/fabric.yaml'],
};

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** bash's `times` prints its own and then its children's user and system time, e.g. `0m0.210s 0m0.050s`. */
const TIMES_LINE = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/;

/**
 * Runs one command under bash and returns its wall time and CPU time (user +
 * system, from bash's `times`); CPU time hardly moves with the machine's load,
 * so it still says something when the wall times of a busy machine do not.
 */
function timeCommand(args: string[]): { wallMs: number; cpuMs: number } {
  const t = performance.now();
  const r = spawnSync('bash', ['-c', '"$@" >/dev/null 2>&1; rc=$?; times; exit $rc', 'bash', process.execPath, ...args], { encoding: 'utf8' });
  const wallMs = performance.now() - t;
  if (r.status !== 0) throw new Error(`startup: node ${args.join(' ')} exited ${r.status}`);
  const children = r.stdout.trim().split('\n').pop() ?? '';
  const m = TIMES_LINE.exec(children);
  if (!m) throw new Error(`startup: cannot read bash's times output: ${JSON.stringify(r.stdout)}`);
  const cpuMs = (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000;
  return { wallMs, cpuMs };
}

/**
 * Median wall and CPU time of each start-up command, the runs interleaved so
 * that the machine's load weighs on all of them alike; `node -e 0` is the
 * floor no Node.js command can beat. Each run includes starting bash (a few
 * ms), the same for all.
 */
function startup(figures: Record<string, unknown>): void {
  ensureDistCurrent();
  const wall: Record<string, number[]> = Object.fromEntries(Object.keys(STARTUP_COMMANDS).map((k) => [k, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(STARTUP_COMMANDS).map((k) => [k, []]));
  for (let i = 0; i < STARTUP_RUNS; i++) {
    for (const [name, args] of Object.entries(STARTUP_COMMANDS)) {
      const t = timeCommand(args);
      wall[name].push(t.wallMs);
      cpu[name].push(t.cpuMs);
    }
  }
  const node = median(wall.node);
  figures['startup.runs'] = STARTUP_RUNS;
  figures['startup.node.ms'] = Math.round(node);
  figures['startup.node.cpuMs'] = Math.round(median(cpu.node));
  for (const [name, goal] of Object.entries(STARTUP_GOALS_MS)) {
    const ms = median(wall[name]);
    figures[`startup.${name}.ms`] = Math.round(ms);
    figures[`startup.${name}.overNode.ms`] = Math.round(ms - node);
    figures[`startup.${name}.cpuMs`] = Math.round(median(cpu[name]));
    figures[`startup.${name}.goal.ms`] = goal;
    figures[`startup.${name}.withinGoal`] = ms <= goal;
  }
  figures['startup.loadAverage1m'] = Number(loadavg()[0].toFixed(1));
}

export async function run(): Promise<Record<string, unknown>> {
  const figures: Record<string, unknown> = {};
  startup(figures);

  const big = generateScenario(makeRng(5), { rules: 400, groups: 40, endpoints: 5000, hosts: 200, switches: 20 });
  const bigIr = buildIr(big.policy, big.fabric);
  let t = performance.now();
  const placement = place(big.policy, big.fabric, bigIr);
  figures['place.rules'] = big.policy.rules.length;
  figures['place.endpoints'] = big.fabric.endpoints.length;
  figures['place.devices'] = big.fabric.devices.length;
  figures['place.identities'] = bigIr.identities.length;
  figures['place.ms'] = Math.round(performance.now() - t);
  figures['place.points'] = placement.rules.reduce((n, r) => n + r.points.length, 0);
  figures['place.jsonBytes'] = JSON.stringify(placement).length;

  const work = mkdtempSync(join(tmpdir(), 'weft-bench-cli-'));
  try {
    const outDir = join(work, 'out');
    const opts = { policyPath: 'examples/policy.yaml', inventoryPath: 'examples/fabric.yaml', outDir };
    t = performance.now();
    const manifest = await compileBundle(opts);
    figures['compile.example.ms'] = Math.round(performance.now() - t);
    figures['compile.example.devices'] = manifest.devices.length;
    figures['compile.example.bundleBytes'] = dirBytes(outDir);
    t = performance.now();
    await compileBundle(opts);
    figures['recompile.example.ms'] = Math.round(performance.now() - t);
    t = performance.now();
    await readBundle(outDir);
    figures['readBundle.example.ms'] = Math.round(performance.now() - t);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  const policy = loadPolicy('examples/policy.yaml');
  const fabric = loadInventory('examples/fabric.yaml');
  const ir = buildIr(policy, fabric);
  const explainer = new Explainer(policy, fabric, ir, place(policy, fabric, ir));
  const flows = generateFlows(makeRng(1), policy, fabric, 20_000);
  t = performance.now();
  for (const f of flows) explainer.explain(f);
  const s = (performance.now() - t) / 1000;
  figures['explain.flows'] = flows.length;
  figures['explain.perSecond'] = Math.round(flows.length / s);
  return figures;
}
