// Rollout benchmark: `weft apply` (the real command, its own process) to
// 1,000 devices on loopback: Weft's P4Runtime and gNMI agents for 900
// switches and simulated SSH hosts (test/rollout/ssh-host.ts) for 100, all
// served from this process. Measures the first rollout, a change to every
// device, and a read-back `weft status` of the fleet: wall time, and CPU
// time of the weft process and of this process (the simulated fleet)
// separately, so a busy machine's inflated wall times can be told from
// Weft's own cost. Every run is bounded by a deadline.
//   npm run bench -- rollout
// Optional environment:
//   ROLLOUT_BASELINE=DIR  also runs DIR's weft (another checkout of Weft,
//                         built) against a fresh fleet first, so old and new
//                         are measured side by side under the same load.
//   ROLLOUT_PROFILE=DIR   writes a V8 CPU profile of each weft run into DIR.
//   ROLLOUT_SWITCHES=N, ROLLOUT_HOSTS=N   another fleet size (default 900, 100).

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDistCurrent } from '../test/build-dist.ts';
import { Fleet } from '../test/rollout/fleet.ts';

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** The fleet's size; ROLLOUT_SWITCHES and ROLLOUT_HOSTS shrink it to profile one kind of device. */
const SWITCHES = Number(process.env.ROLLOUT_SWITCHES ?? 900);
const HOSTS = Number(process.env.ROLLOUT_HOSTS ?? 100);
/** Per weft run: generous, since a machine shared with other work stretches wall times several-fold. */
const DEADLINE_MS = 600_000;
const GOAL_SECONDS = 15;

/** Marks the line the weft process prints on exit with its own CPU time and peak memory. */
const USAGE_MARK = 'weft-bench-usage ';
/**
 * Preloaded into the weft process: on exit it prints its resource usage, so
 * the CPU time is Weft's alone (the fleet runs in this process).
 */
const USAGE_HOOK = `data:text/javascript,${encodeURIComponent(
  `import { writeSync } from 'node:fs'; process.on('exit', () => { const u = process.resourceUsage(); writeSync(2, '\\n${USAGE_MARK}' + JSON.stringify({ user: u.userCPUTime, system: u.systemCPUTime, maxRssKb: u.maxRSS }) + '\\n'); });`,
)}`;

interface Timed {
  seconds: number;
  code: number;
  out: string;
  err: string;
  /** Seconds from the start to the end of each wave and of the final read-back, from the progress lines. */
  waves: Record<string, number>;
  /** Devices applied by the time the run ended or was stopped. */
  applied: number;
  /** CPU seconds (user + system) of the weft process. */
  weftCpu: number;
  weftMaxRssMb: number;
  /** CPU seconds of this process (the simulated fleet) while weft ran. */
  fleetCpu: number;
}

const cpuSeconds = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1e6;

function weft(bin: string, args: string[], profileName?: string): Promise<Timed> {
  const profile = process.env.ROLLOUT_PROFILE;
  const nodeArgs = ['--import', USAGE_HOOK];
  if (profile && profileName) {
    mkdirSync(profile, { recursive: true });
    nodeArgs.push('--cpu-prof', '--cpu-prof-dir', resolve(profile), '--cpu-prof-name', `${profileName}.cpuprofile`);
  }
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [...nodeArgs, bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: DEADLINE_MS });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const waves: Record<string, number> = {};
    let applied = 0;
    let usage = { user: 0, system: 0, maxRssKb: 0 };
    let partial = '';
    const at = (): number => Number(((performance.now() - t0) / 1000).toFixed(2));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        if (l.startsWith(USAGE_MARK)) usage = JSON.parse(l.slice(USAGE_MARK.length)) as typeof usage;
        if (!l.startsWith('{"event"')) continue;
        const e = JSON.parse(l) as { event: string; wave?: number; phase?: string; status?: string };
        if (e.event === 'wave' && (e.phase === 'done' || e.phase === 'stopped')) waves[`wave${e.wave}${e.phase === 'stopped' ? 'Stopped' : ''}`] = at();
        if (e.event === 'confirm') waves.readBack = at();
        if (e.event === 'restore') waves.restoreStarted = at();
        if (e.event === 'device' && e.status === 'applied') applied++;
      }
    });
    child.on('error', rej);
    child.on('close', (code) =>
      res({
        seconds: (performance.now() - t0) / 1000,
        code: code ?? -1,
        out,
        err,
        waves,
        applied,
        weftCpu: (usage.user + usage.system) / 1e6,
        weftMaxRssMb: Math.round(usage.maxRssKb / 1024),
        fleetCpu: cpuSeconds(process.cpuUsage(cpu0)),
      }),
    );
  });
}

/** What the first few devices that failed said, from weft's JSON results (when it got as far as printing them). */
function failures(r: Timed): string {
  try {
    const failed = (JSON.parse(r.out) as { results: { device: string; status: string; detail: string }[] }).results.filter((x) => x.status === 'failed');
    return `${failed.length} failed, e.g. ${failed
      .slice(0, 3)
      .map((x) => `${x.device}: ${x.detail.slice(0, 200)}`)
      .join(' | ')}`;
  } catch {
    return r.err.trim().split('\n').slice(-3).join(' | ');
  }
}

function counts(r: Timed): Record<string, number> {
  if (r.code !== 0) throw new Error(`weft exited ${r.code} after ${r.seconds.toFixed(0)} s, ${r.applied} devices applied, waves done at ${JSON.stringify(r.waves)}: ${failures(r)}`);
  const out: Record<string, number> = {};
  for (const x of (JSON.parse(r.out) as { results: { status: string }[] }).results) out[x.status] = (out[x.status] ?? 0) + 1;
  return out;
}

/** Wall and CPU figures of one weft run, labelled. */
function figures(prefix: string, r: Timed): Record<string, unknown> {
  return {
    [`${prefix}.wallSeconds`]: Number(r.seconds.toFixed(2)),
    [`${prefix}.weftCpuSeconds`]: Number(r.weftCpu.toFixed(2)),
    [`${prefix}.weftMaxRssMb`]: r.weftMaxRssMb,
    [`${prefix}.fleetCpuSeconds`]: Number(r.fleetCpu.toFixed(2)),
    [`${prefix}.waveEndsAtSeconds`]: r.waves,
  };
}

/** First rollout, a change to every device, and status, by the weft at `bin`, against a fresh fleet. */
async function measure(label: string, bin: string): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), `weft-bench-rollout-${process.pid}-`));
  let fleet: Fleet | undefined;
  try {
    let t = performance.now();
    fleet = await Fleet.start(dir, SWITCHES, HOSTS);
    const fleetStartSeconds = (performance.now() - t) / 1000;
    const common = ['--inventory', fleet.inventoryPath, '--state', join(dir, 'state/rollout.json'), '--json'];
    t = performance.now();
    const v1 = await fleet.compile(1);
    const v2 = await fleet.compile(2);
    const compileSeconds = (performance.now() - t) / 1000;
    const first = await weft(bin, ['apply', '--bundle', v1.dir, ...common], `${label}-first`);
    const firstCounts = counts(first);
    const change = await weft(bin, ['apply', '--bundle', v2.dir, ...common], `${label}-change`);
    const changeCounts = counts(change);
    const status = await weft(bin, ['status', ...common], `${label}-status`);
    const statusRows = (JSON.parse(status.out) as { devices: { state: string }[] }).devices;
    return {
      [`${label}.fleetStartSeconds`]: Number(fleetStartSeconds.toFixed(1)),
      [`${label}.compileSeconds`]: Number(compileSeconds.toFixed(1)),
      ...figures(`${label}.firstApply`, first),
      [`${label}.firstApply`]: firstCounts,
      ...figures(`${label}.changeApply`, change),
      [`${label}.changeApply`]: changeCounts,
      ...figures(`${label}.status`, status),
      [`${label}.statusInSync`]: statusRows.filter((r) => r.state === 'in-sync').length,
    };
  } finally {
    await fleet?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<Record<string, unknown>> {
  ensureDistCurrent();
  const out: Record<string, unknown> = { devices: SWITCHES + HOSTS, switches: SWITCHES, hosts: HOSTS, goalSeconds: GOAL_SECONDS, loadAverage1mAtStart: Number(loadavg()[0].toFixed(1)) };
  const baseline = process.env.ROLLOUT_BASELINE;
  if (baseline) {
    const bin = join(resolve(baseline), 'bin/weft.js');
    if (!existsSync(join(resolve(baseline), 'dist/orchestrator/cli/main.js'))) throw new Error(`ROLLOUT_BASELINE=${baseline}: no built weft there (run npm run build in it)`);
    Object.assign(out, await measure('baseline', bin));
  }
  Object.assign(out, await measure('weft', join(repo, 'bin/weft.js')));
  out.loadAverage1mAtEnd = Number(loadavg()[0].toFixed(1));
  return out;
}
