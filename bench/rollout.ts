// Rollout benchmark: `weft apply` (the real command, its own process) to
// 1,000 devices on loopback: Weft's P4Runtime and gNMI agents for 900
// switches and simulated SSH hosts (test/rollout/ssh-host.ts) for 100, all
// served from this process. Measures the first rollout, a change to every
// device, and a read-back `weft status` of the fleet. Every run is bounded
// by a deadline.
//   npm run bench -- rollout

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Fleet } from '../test/rollout/fleet.ts';

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SWITCHES = 900;
const HOSTS = 100;
const DEADLINE_MS = 180_000;

interface Timed {
  seconds: number;
  code: number;
  out: string;
  err: string;
  /** Seconds from the start to the end of each wave, from the progress lines. */
  waves: Record<string, number>;
  /** Devices applied by the time the run ended or was stopped. */
  applied: number;
}

function weft(args: string[]): Promise<Timed> {
  const t0 = performance.now();
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [join(repo, 'bin/weft.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: DEADLINE_MS });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const waves: Record<string, number> = {};
    let applied = 0;
    let partial = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        if (!l.startsWith('{"event"')) continue;
        const e = JSON.parse(l) as { event: string; wave?: number; phase?: string; status?: string };
        if (e.event === 'wave' && e.phase === 'done') waves[`wave${e.wave}`] = Number(((performance.now() - t0) / 1000).toFixed(2));
        if (e.event === 'device' && e.status === 'applied') applied++;
      }
    });
    child.on('error', rej);
    child.on('close', (code) => res({ seconds: (performance.now() - t0) / 1000, code: code ?? -1, out, err, waves, applied }));
  });
}

function counts(r: Timed): Record<string, number> {
  if (r.code !== 0) throw new Error(`weft exited ${r.code} after ${r.seconds.toFixed(0)} s, ${r.applied} devices applied, waves done at ${JSON.stringify(r.waves)}: ${r.err.trim().split('\n').slice(-2).join(' | ')}`);
  const out: Record<string, number> = {};
  for (const x of (JSON.parse(r.out) as { results: { status: string }[] }).results) out[x.status] = (out[x.status] ?? 0) + 1;
  return out;
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), `weft-bench-rollout-${process.pid}-`));
  let fleet: Fleet | undefined;
  try {
    fleet = await Fleet.start(dir, SWITCHES, HOSTS);
    const common = ['--inventory', fleet.inventoryPath, '--state', join(dir, 'state/rollout.json'), '--json', '--parallel', '64'];
    let t = performance.now();
    const v1 = await fleet.compile(1);
    const compileSeconds = (performance.now() - t) / 1000;
    const first = await weft(['apply', '--bundle', v1.dir, ...common]);
    const firstCounts = counts(first);
    const v2 = await fleet.compile(2);
    const change = await weft(['apply', '--bundle', v2.dir, ...common]);
    const changeCounts = counts(change);
    t = performance.now();
    const status = await weft(['status', ...common]);
    const statusRows = (JSON.parse(status.out) as { devices: { state: string }[] }).devices;
    return {
      devices: SWITCHES + HOSTS,
      switches: SWITCHES,
      hosts: HOSTS,
      compileSeconds: Number(compileSeconds.toFixed(1)),
      firstApplySeconds: Number(first.seconds.toFixed(2)),
      firstApplyWaves: first.waves,
      firstApply: firstCounts,
      changeApplySeconds: Number(change.seconds.toFixed(2)),
      changeApply: changeCounts,
      statusSeconds: Number(status.seconds.toFixed(2)),
      statusInSync: statusRows.filter((r) => r.state === 'in-sync').length,
      goalSeconds: 15,
    };
  } finally {
    await fleet?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
