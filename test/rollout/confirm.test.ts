// Commit-confirmed rollouts against simulated switches on loopback (Weft's
// own P4Runtime and gNMI agents, test/rollout/fleet.ts), through the real
// command: `weft apply --confirm-within` then `weft confirm` keeps the new
// generation; an orchestrator killed with SIGKILL right after its last push
// and never confirmed leaves every switch back on the old generation by the
// deadline (gNMI switches by themselves, P4 switches by the watchdog), as
// read back and as journaled; `weft confirm --extend` moves the deadline on
// every switch and in the watchdog; `weft confirm --cancel` goes back at once;
// nothing else rolls out while one is pending; and a gNMI switch without the
// extension is refused unless --confirm-fallback.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '../../orchestrator/compile/bundle.ts';
import { bundleDigest } from '../../orchestrator/rollout/history.ts';
import { pendingPath, readPending, watchdogPidPath } from '../../orchestrator/rollout/confirm.ts';
import { lastRun, readJournal } from '../../orchestrator/rollout/journal.ts';
import type { RolloutState } from '../../orchestrator/rollout/rollout.ts';
import type { DeviceStatus } from '../../orchestrator/rollout/status.ts';
import { Fleet } from './fleet.ts';
import { runWeft, weftArgv, type Run } from './weft-run.ts';
import { processAlive as alive } from '../../orchestrator/process-alive.ts';
import { FAILPOINTS } from '../../orchestrator/failpoint.ts';

const work = mkdtempSync(join(tmpdir(), `weft-confirm-${process.pid}-`));
const statePath = join(work, 'state/rollout.json');
let fleet: Fleet;
let v1: Bundle;
let v2: Bundle;


const argv = (args: string[]): string[] => weftArgv(fleet.inventoryPath, statePath, args);

/** Runs `weft` with the fleet's inventory and state. */
const weft = (args: string[]): Promise<Run> => runWeft(argv(args));

async function expectAllRun(b: Bundle): Promise<void> {
  const r = await weft(['status', '--bundle', b.dir, '--json', '--timeout', '3']);
  const devices = (JSON.parse(r.out) as { devices: DeviceStatus[] }).devices;
  expect(devices.filter((d) => d.state !== 'in-sync').map((d) => `${d.device} ${d.state} ${d.differences.slice(0, 2).join('; ')} ${d.detail ?? ''}`)).toEqual([]);
  expect(devices.length).toBe(fleet.switches.length);
}

const state = (): RolloutState => JSON.parse(readFileSync(statePath, 'utf8')) as RolloutState;

/** Waits (bounded) until `f` holds. */
async function until(what: string, ms: number, f: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}


beforeAll(async () => {
  fleet = await Fleet.start(join(work, 'fleet'), 4);
  v1 = await fleet.compile(1);
  v2 = await fleet.compile(2);
  const r = await weft(['apply', '--bundle', v1.dir]);
  expect(r.code, r.err).toBe(0);
}, 120_000);

afterAll(async () => {
  const p = existsSync(pendingPath(statePath)) ? readPending(statePath) : undefined;
  if (p?.watchdogPid && alive(p.watchdogPid)) process.kill(p.watchdogPid, 'SIGTERM');
  await fleet?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('commit-confirmed rollout to simulated switches', { timeout: 300_000 }, () => {
  it('keeps the new generation once confirmed, and refuses other rollouts while it is pending', async () => {
    const r = await weft(['apply', '--bundle', v2.dir, '--confirm-within', '60s', '--json']);
    expect(r.code, r.err).toBe(0);
    const p = readPending(statePath);
    expect(p?.complete).toBe(true);
    expect(p?.devices.map((d) => `${d.device} ${d.held}`).sort()).toEqual(fleet.switches.map((s) => `${s.name} ${s.pipeline === 'p4' ? 'watchdog' : 'device'}`).sort());
    expect(alive(p?.watchdogPid as number)).toBe(true);
    // Not recorded until confirmed.
    expect(state().current).toBe(bundleDigest(v1));
    const status = await weft(['status']);
    expect(status.code, status.out).toBe(0);
    expect(status.out).toMatch(/awaits confirmation until/);

    const blocked = await weft(['apply', '--bundle', v1.dir]);
    expect(blocked.code).toBe(1);
    expect(blocked.err).toMatch(/awaits confirmation until .*weft confirm/);

    const c = await weft(['confirm', '--json']);
    expect(c.code, c.err).toBe(0);
    expect((JSON.parse(c.out) as { devices: { status: string }[] }).devices.every((d) => d.status === 'confirmed')).toBe(true);
    expect(existsSync(pendingPath(statePath))).toBe(false);
    await until('the watchdog to stop', 5000, () => !alive(p?.watchdogPid as number));
    expect(state().current).toBe(bundleDigest(v2));
    const run = lastRun(readJournal(statePath));
    expect(run?.outcome).toBe('applied');
    expect(run?.devices.every((d) => d.last === 'confirmed')).toBe(true);
    await expectAllRun(v2);
    expect((await weft(['confirm'])).code).toBe(1);
  });

  it('puts every switch back on the old generation by the deadline after the orchestrator is killed and never confirms', async () => {
    const withinS = 20;
    const t0 = Date.now();
    const before = lastRun(readJournal(statePath))?.run;
    // The failpoint kills the apply with SIGKILL right after its last read-back, before it marks the run complete.
    const killed = await runWeft(argv(['apply', '--bundle', v1.dir, '--confirm-within', `${withinS}s`]), { WEFT_FAILPOINTS: FAILPOINTS.rolloutBeforeComplete });
    expect(killed.signal, killed.err).toBe('SIGKILL');
    const run0 = lastRun(readJournal(statePath));
    expect(run0?.run).not.toBe(before);
    expect(run0?.bundle).toBe(bundleDigest(v1));
    expect(run0?.devices.map((d) => `${d.device} ${d.runs}`).sort()).toEqual(fleet.switches.map((s) => `${s.name} new`).sort());
    console.log(`orchestrator killed ${Date.now() - t0} ms after start, every switch pushed`);
    await expectAllRun(v1);
    const p = readPending(statePath);
    expect(p && alive(p.watchdogPid as number)).toBe(true);
    expect(p?.complete).toBe(false);
    // Cut short: it cannot be confirmed.
    const refused = await weft(['confirm']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/cut short cannot be confirmed/);

    await until('the watchdog to end the run', withinS * 1000 + 30_000, () => lastRun(readJournal(statePath))?.ended === true);
    const back = Date.now() - t0;
    console.log(`run ended by the watchdog ${back} ms after start (deadline ${withinS * 1000} ms)`);
    const run = lastRun(readJournal(statePath));
    expect(run?.outcome).toBe('restored');
    expect(run?.devices.every((d) => d.runs === 'old')).toBe(true);
    const details = readJournal(statePath).filter((x) => x.run === run?.run && x.step === 'restored');
    for (const s of fleet.switches) {
      const d = details.find((x) => x.device === s.name)?.detail ?? '';
      expect(d, s.name).toMatch(s.pipeline === 'p4' ? /^watchdog: restored/ : /went back to .* by itself/);
    }
    await expectAllRun(v2);
    expect(existsSync(pendingPath(statePath))).toBe(false);
    expect(existsSync(watchdogPidPath(statePath))).toBe(false);
    expect(state().current).toBe(bundleDigest(v2));
    // The fabric is free again.
    expect((await weft(['plan', '--bundle', v2.dir, '--detailed-exitcode'])).code).toBe(0);
  });

  it('keeps the new generation past the first deadline once extended, on gNMI switches and in the watchdog', async () => {
    const withinS = 10;
    const r = await weft(['apply', '--bundle', v1.dir, '--confirm-within', `${withinS}s`]);
    expect(r.code, r.err).toBe(0);
    const first = readPending(statePath) as NonNullable<ReturnType<typeof readPending>>;
    const x = await weft(['confirm', '--extend', '90s', '--json']);
    expect(x.code, x.err).toBe(0);
    const out = JSON.parse(x.out) as { deadline: string; devices: { device: string; status: string; detail: string }[] };
    expect(out.devices.map((d) => d.status)).toEqual(first.devices.map(() => 'extended'));
    for (const s of fleet.switches) expect(out.devices.find((d) => d.device === s.name)?.detail, s.name).toMatch(s.pipeline === 'p4' ? /watchdog restores it at/ : /set_rollback_duration/);
    const next = readPending(statePath);
    expect(next?.deadline).toBe(out.deadline);
    expect(Date.parse(out.deadline)).toBeGreaterThan(Date.parse(first.deadline) + 60_000);
    expect(next?.watchdogPid).not.toBe(first.watchdogPid);
    expect(alive(next?.watchdogPid as number)).toBe(true);
    await until('the first watchdog to stop', 5000, () => !alive(first.watchdogPid as number));
    const journaled = readJournal(statePath).filter((j) => j.run === first.run && j.step === 'extended');
    expect(journaled.map((j) => j.confirmBy)).toEqual([out.deadline]);

    // Past the first deadline and the switches' own rollback: nothing went back.
    await sleep(Date.parse(first.deadline) - Date.now() + 4000);
    await expectAllRun(v1);
    expect(lastRun(readJournal(statePath))?.outcome).toBe('pending');
    const c = await weft(['confirm', '--json']);
    expect(c.code, c.err).toBe(0);
    expect(state().current).toBe(bundleDigest(v1));
    expect(lastRun(readJournal(statePath))?.outcome).toBe('applied');
    await until('the watchdog to stop', 5000, () => !alive(next?.watchdogPid as number));
    expect((await weft(['confirm', '--extend', '10s'])).code).toBe(1);
    // Back on v2 for the tests after this one.
    const back = await weft(['apply', '--bundle', v2.dir]);
    expect(back.code, back.err).toBe(0);
  });

  it('goes back at once with confirm --cancel', async () => {
    const r = await weft(['apply', '--bundle', v1.dir, '--confirm-within', '60s']);
    expect(r.code, r.err).toBe(0);
    await expectAllRun(v1);
    const c = await weft(['confirm', '--cancel', '--json']);
    expect(c.code, c.err).toBe(0);
    expect((JSON.parse(c.out) as { devices: { status: string }[] }).devices.map((d) => d.status)).toEqual(fleet.switches.map(() => 'restored'));
    await expectAllRun(v2);
    expect(lastRun(readJournal(statePath))?.outcome).toBe('restored');
  });

  it('refuses a gNMI switch without the extension unless --confirm-fallback, which leaves it to the watchdog', async () => {
    const oc = fleet.switches.find((s) => s.pipeline === 'openconfig')?.name as string;
    fleet.setCommitConfirmed(oc, false);
    await fleet.stop(oc);
    await fleet.restart(oc);
    try {
      const fixed = await weft(['apply', '--bundle', v2.dir, '--limit', oc, '--force']);
      expect(fixed.code, fixed.err).toBe(0);
      const refused = await weft(['apply', '--bundle', v1.dir, '--confirm-within', '30s']);
      expect(refused.code).toBe(2);
      expect(refused.err).toContain(`${oc} cannot revert by itself (its gNMI Capabilities do not list the commit-confirmed extension)`);
      expect(refused.err).toContain('--confirm-fallback');
      expect(existsSync(pendingPath(statePath))).toBe(false);
      await expectAllRun(v2);

      const r = await weft(['apply', '--bundle', v1.dir, '--confirm-within', '30s', '--confirm-fallback']);
      expect(r.code, r.err).toBe(0);
      expect(readPending(statePath)?.devices.find((d) => d.device === oc)?.held).toBe('watchdog');
      const c = await weft(['apply', '--bundle', v1.dir, '--confirm-pending', '--json']);
      expect(c.code, c.err).toBe(0);
      expect(existsSync(pendingPath(statePath))).toBe(false);
      expect(state().current).toBe(bundleDigest(v1));
      await expectAllRun(v1);
    } finally {
      fleet.setCommitConfirmed(oc, true);
      await fleet.stop(oc);
      await fleet.restart(oc);
    }
  });
});
