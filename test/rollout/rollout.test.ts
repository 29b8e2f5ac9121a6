// `weft plan|apply|status|rollback` against a fleet of simulated switches on
// loopback (Weft's own P4Runtime and gNMI agents, test/rollout/fleet.ts),
// through the real command: plan's exit codes and per-device changes,
// --limit, the lock, canaries, progress lines, read-back status and drift,
// and the faults a fleet throws at a rollout (unreachable switch, a write
// refused for lack of table space, a refused gNMI Set, a switch that hangs
// past the deadline, a switch that reboots empty mid-run). After each fault
// every switch is read back and must run the old generation.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '../../orchestrator/compile/bundle.ts';
import { bundleDigest } from '../../orchestrator/rollout/history.ts';
import { FAILPOINTS } from '../../orchestrator/failpoint.ts';
import { journalPath, lastRun, lockPath, readJournal } from '../../orchestrator/rollout/journal.ts';
import type { DeviceResult, ProgressEvent, RolloutState } from '../../orchestrator/rollout/rollout.ts';
import type { DeviceStatus } from '../../orchestrator/rollout/status.ts';
import { Fleet } from './fleet.ts';
import { runWeft, weftArgv, type Run } from './weft-run.ts';

const repo = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), `weft-rollout-${process.pid}-`));
const statePath = join(work, 'state/rollout.json');
let fleet: Fleet;
let v1: Bundle;
let v2: Bundle;


/** Runs `weft` with the fleet's inventory and state. */
const weft = (args: string[]): Promise<Run> => runWeft(weftArgv(fleet.inventoryPath, statePath, args));

const results = (r: Run): DeviceResult[] => (JSON.parse(r.out) as { results: DeviceResult[] }).results;
const byStatus = (r: Run): string[] => results(r).map((x) => `${x.device} ${x.status}`).sort();
const progress = (r: Run): ProgressEvent[] =>
  r.err
    .split('\n')
    .filter((l) => l.startsWith('{"event"'))
    .map((l) => JSON.parse(l) as ProgressEvent);

/** What every switch runs, read back, against a bundle. */
async function statusAgainst(b: Bundle, limit?: string): Promise<{ code: number; devices: DeviceStatus[] }> {
  const r = await weft(['status', '--bundle', b.dir, '--json', '--timeout', '3', ...(limit ? ['--limit', limit] : [])]);
  return { code: r.code, devices: (JSON.parse(r.out) as { devices: DeviceStatus[] }).devices };
}

/** Starts a test from every switch on v1 (whatever an earlier test left). */
async function fromV1(): Promise<void> {
  const r = await weft(['apply', '--bundle', v1.dir]);
  expect(r.code, r.err).toBe(0);
}

/** Every switch reads back exactly as `b` says. */
async function expectAllRun(b: Bundle): Promise<void> {
  const s = await statusAgainst(b);
  expect(s.devices.filter((d) => d.state !== 'in-sync').map((d) => `${d.device} ${d.state} ${d.differences.slice(0, 2).join('; ')} ${d.detail ?? ''}`)).toEqual([]);
  expect(s.code).toBe(0);
}

beforeAll(async () => {
  fleet = await Fleet.start(join(work, 'fleet'), 6);
  v1 = await fleet.compile(1);
  v2 = await fleet.compile(2);
}, 120_000);

afterAll(async () => {
  await fleet?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('rollout to simulated switches', { timeout: 300_000 }, () => {
  it('plans with per-device changes and detailed exit codes, applies a --limit, then the rest', async () => {
    const first = await weft(['plan', '--bundle', v1.dir, '--detailed-exitcode']);
    expect(first.code, first.err).toBe(2);
    expect(first.out).toMatch(/sw0000 +p4 +p4runtime +127\.0\.0\.1 +apply .*new on this device/);
    expect(first.out).toContain('6 to apply, 0 unchanged');

    const bad = await weft(['apply', '--bundle', v1.dir, '--limit', 'nosuch*']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--limit "nosuch\*" selects no device .*a label key=value/);
    const badPlan = await weft(['plan', '--bundle', v1.dir, '--limit', 'nosuch', '--detailed-exitcode']);
    expect(badPlan.code).toBe(1);

    const r0 = await weft(['apply', '--bundle', v1.dir, '--limit', 'rack=r0', '--json']);
    expect(r0.code, r0.err).toBe(0);
    expect(byStatus(r0)).toEqual(['sw0000 applied', 'sw0004 applied']);
    const events = progress(r0);
    expect(events[0]).toEqual({ event: 'wave', wave: 1, phase: 'start', total: 2, done: 0, failed: 0, remaining: 2 });
    expect(events.filter((e) => e.event === 'device').map((e) => (e.event === 'device' ? e.device : '')).sort()).toEqual(['sw0000', 'sw0004']);
    expect(events).toContainEqual({ event: 'wave', wave: 1, phase: 'done', total: 2, done: 2, failed: 0, remaining: 0 });
    // Two of six run v1: not yet the current generation.
    expect((JSON.parse(readFileSync(statePath, 'utf8')) as RolloutState).current).toBeUndefined();

    const partial = await statusAgainst(v1);
    expect(partial.code).toBe(2);
    expect(partial.devices.map((d) => `${d.device} ${d.state}`)).toEqual(['sw0000 in-sync', 'sw0001 drifted', 'sw0002 drifted', 'sw0003 drifted', 'sw0004 in-sync', 'sw0005 drifted']);
    expect(partial.devices.find((d) => d.device === 'sw0002')?.differences).toEqual(["no pipeline set (the switch runs nothing of Weft's)"]);
    expect(partial.devices.find((d) => d.device === 'sw0001')?.differences.some((x) => /acl-set .*: missing/.test(x))).toBe(true);

    const rest = await weft(['apply', '--bundle', v1.dir, '--json', '--parallel', '2']);
    expect(rest.code, rest.err).toBe(0);
    expect(byStatus(rest)).toEqual(['sw0000 unchanged', 'sw0001 applied', 'sw0002 applied', 'sw0003 applied', 'sw0004 unchanged', 'sw0005 applied']);
    expect((JSON.parse(readFileSync(statePath, 'utf8')) as RolloutState).current).toBe(bundleDigest(v1));
    await expectAllRun(v1);
    // With nothing given, status compares each switch with what the state records.
    const recorded = await weft(['status']);
    expect(recorded.code, recorded.out + recorded.err).toBe(0);
    expect(recorded.out).toContain('6 in sync, 0 drifted, 0 unreachable');

    const same = await weft(['plan', '--bundle', v1.dir, '--detailed-exitcode']);
    expect(same.code).toBe(0);
    expect(same.out).toContain('0 to apply, 6 unchanged');
    const next = await weft(['plan', '--bundle', v2.dir, '--detailed-exitcode', '--limit', 'sw0000,sw0001']);
    expect(next.code).toBe(2);
    expect(next.out).toMatch(/sw0000 .* apply .*\(now [0-9a-f]{12}\) +table entries: [1-9]\d* inserted, \d+ modified, \d+ deleted/);
    expect(next.out).toMatch(/sw0001 .* apply .*acl entries \+[1-9]/);
    expect(next.out).toContain('2 to apply, 0 unchanged');
  });

  it('lets one run at a time hold the state, and takes over a lock whose process is gone', async () => {
    writeFileSync(lockPath(statePath), JSON.stringify({ pid: process.pid, what: 'weft apply', at: 'now' }));
    try {
      const held = await weft(['apply', '--bundle', v2.dir]);
      expect(held.code).toBe(1);
      expect(held.err).toMatch(/rollout\.json\.lock is held by weft apply \(pid \d+, since now\)/);
      const blocked = await weft(['apply', '--resume']);
      expect(blocked.code).toBe(1);
      expect(blocked.err).toMatch(/is held by/);
    } finally {
      rmSync(lockPath(statePath), { force: true });
    }
    await expectAllRun(v1);

    const gone = await new Promise<number>((res) => {
      const c = spawn(process.execPath, ['-e', '0']);
      c.on('close', () => res(c.pid as number));
    });
    writeFileSync(lockPath(statePath), JSON.stringify({ pid: gone, what: 'weft apply', at: 'then' }));
    const taken = await weft(['apply', '--bundle', v1.dir, '--json']);
    expect(taken.code, taken.err).toBe(0);
    expect(existsSync(lockPath(statePath))).toBe(false);
  });

  it('stops at a failed canary and restores it; a passing canary lets the wave go on', async () => {
    await fromV1();
    fleet.onSet('sw0001', async () => {
      throw new Error('simulated: configuration refused');
    });
    const failed = await weft(['apply', '--bundle', v2.dir, '--canary', '2', '--json']);
    fleet.onSet('sw0001', undefined);
    expect(failed.code).toBe(1);
    // Only the canaries were touched; the rest of the wave never started.
    expect(byStatus(failed)).toEqual(['sw0000 rolled-back', 'sw0001 failed']);
    expect(results(failed).find((r) => r.device === 'sw0001')?.detail).toMatch(/simulated: configuration refused.*still runs its previous configuration/);
    expect(progress(failed)).toContainEqual({ event: 'wave', wave: 1, phase: 'stopped', total: 6, done: 1, failed: 1, remaining: 4 });
    await expectAllRun(v1);

    const passed = await weft(['apply', '--bundle', v2.dir, '--canary', '1', '--json']);
    expect(passed.code, passed.err).toBe(0);
    const phases = progress(passed).flatMap((e) => (e.event === 'wave' ? [e.phase] : []));
    expect(phases).toEqual(['start', 'canary-passed', 'done']);
    await expectAllRun(v2);
    const back = await weft(['rollback', '--json']);
    expect(back.code, back.err).toBe(0);
    await expectAllRun(v1);
  });

  it('restores every switch when one is unreachable', async () => {
    await fromV1();
    await fleet.stop('sw0003');
    const r = await weft(['apply', '--bundle', v2.dir, '--json', '--timeout', '2']);
    expect(r.code).toBe(1);
    const sw3 = results(r).find((x) => x.device === 'sw0003');
    expect(sw3?.status).toBe('failed');
    expect(sw3?.detail).toMatch(/UNAVAILABLE|ECONNREFUSED|No connection established/);
    expect(byStatus(r).filter((x) => !x.startsWith('sw0003'))).toEqual(['sw0000 rolled-back', 'sw0001 rolled-back', 'sw0002 rolled-back', 'sw0004 rolled-back', 'sw0005 rolled-back']);
    const s = await statusAgainst(v1);
    expect(s.devices.find((d) => d.device === 'sw0003')?.state).toBe('unreachable');
    expect(s.devices.filter((d) => d.device !== 'sw0003').every((d) => d.state === 'in-sync')).toBe(true);
    expect(lastRun(readJournal(statePath))?.outcome).toBe('restored');
    // It comes back empty (its configuration was in memory): a forced apply of v1 to it converges.
    await fleet.restart('sw0003');
    const refill = await weft(['apply', '--bundle', v1.dir, '--limit', 'sw0003', '--force', '--json']);
    expect(refill.code, refill.err).toBe(0);
    await expectAllRun(v1);
  });

  it('restores every switch when a P4 switch refuses the write for lack of table space', async () => {
    await fromV1();
    const entries = (b: Bundle): number => (JSON.parse(readFileSync(join(b.deviceDir('sw0002'), 'entries.json'), 'utf8')) as { updates: unknown[] }).updates.length;
    // Variant 3 needs more table entries than variant 1 (v2's extra udp port folds into v1's ternary entry).
    const v3 = await fleet.compile(3);
    const v1Entries = entries(v1);
    expect(entries(v3)).toBeGreaterThan(v1Entries);
    fleet.setTableSize('sw0002', v1Entries);
    try {
      await fleet.reboot('sw0002');
      expect((await weft(['apply', '--bundle', v1.dir, '--limit', 'sw0002', '--force'])).code).toBe(0);
      const r = await weft(['apply', '--bundle', v3.dir, '--json']);
      expect(r.code).toBe(1);
      // The switch takes what fits (CONTINUE_ON_ERROR); Weft undoes it and says which updates were refused.
      expect(results(r).find((x) => x.device === 'sw0002')?.detail).toMatch(/\d+ update\(s\) refused \(INSERT table \d+ priority \d+: RESOURCE_EXHAUSTED: table \S*weft_acl is full.*every applied update was undone/);
      expect(byStatus(r)).toEqual(['sw0000 rolled-back', 'sw0001 rolled-back', 'sw0002 failed', 'sw0003 rolled-back', 'sw0004 rolled-back', 'sw0005 rolled-back']);
      await expectAllRun(v1);
    } finally {
      fleet.setTableSize('sw0002', undefined);
      await fleet.reboot('sw0002');
      expect((await weft(['apply', '--bundle', v1.dir, '--limit', 'sw0002', '--force'])).code).toBe(0);
    }
  });

  it('restores every switch when a gNMI switch hangs past the deadline', async () => {
    await fromV1();
    let release: (() => void) | undefined;
    fleet.onSet('sw0005', () => new Promise((_res, rej) => (release = () => rej(new Error('simulated: the hung Set gives up')))));
    const r = await weft(['apply', '--bundle', v2.dir, '--json', '--timeout', '1']);
    release?.();
    fleet.onSet('sw0005', undefined);
    expect(r.code).toBe(1);
    expect(results(r).find((x) => x.device === 'sw0005')?.detail).toMatch(/DEADLINE_EXCEEDED/);
    // On a loaded machine another switch may miss the one-second deadline too: it fails the same way and keeps v1.
    for (const x of results(r).filter((y) => y.device !== 'sw0005')) expect(x.status === 'rolled-back' || /DEADLINE_EXCEEDED/.test(x.detail), `${x.device} ${x.status}: ${x.detail}`).toBe(true);
    await expectAllRun(v1);
  });

  it('restores every switch when one reboots empty after its push, before the run ends', async () => {
    await fromV1();
    const child = spawn(process.execPath, [join(repo, 'bin/weft.js'), 'apply', '--bundle', v2.dir, '--json', '--parallel', '1', '--inventory', fleet.inventoryPath, '--state', statePath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise<number>((res) => child.on('close', (c) => res(c ?? -1)));
    const skip = readJournal(statePath).length;
    let rebooted = false;
    while (!rebooted) {
      const mine = readJournal(statePath).slice(skip);
      if (mine.some((x) => x.step === 'end')) break;
      if (mine.some((x) => x.step === 'verified' && x.device === 'sw0001')) {
        await fleet.reboot('sw0001');
        rebooted = true;
      } else await new Promise((res) => setTimeout(res, 5));
    }
    expect(rebooted).toBe(true);
    expect(await done).toBe(1);
    const rs = (JSON.parse(out) as { results: DeviceResult[] }).results;
    const sw1 = rs.find((x) => x.device === 'sw0001');
    expect(sw1?.status).toBe('failed');
    expect(sw1?.detail).toMatch(/no longer runs generation .* at the end of the run/);
    expect(sw1?.detail).toMatch(/restored/);
    expect(rs.filter((x) => x.device !== 'sw0001').every((x) => x.status === 'rolled-back')).toBe(true);
    await expectAllRun(v1);
  });
});

describe('rollout killed mid-run', { timeout: 300_000 }, () => {
  // Killed (SIGKILL, by the journal.record failpoint) once this many journal records of the run are written: before
  // any push, mid-wave, and at the end-of-run read-back.
  const points = [1, 4, 9, 14];
  for (const [i, k] of points.entries()) {
    const recover = i % 2 === 0 ? 'rollback' : 'resume';
    it(`leaves every switch on the old or the new generation after kill -9 at record ${k}, as the journal says; ${recover} then converges`, async () => {
      await fromV1();
      const skip = readJournal(statePath).length;
      const child = spawn(process.execPath, [join(repo, 'bin/weft.js'), 'apply', '--bundle', v2.dir, '--parallel', '2', '--inventory', fleet.inventoryPath, '--state', statePath], {
        stdio: 'ignore',
        env: { ...process.env, WEFT_FAILPOINTS: `${FAILPOINTS.journalRecord}@${k}` },
      });
      const signal = await new Promise<NodeJS.Signals | null>((res) => child.on('close', (_code, sig) => res(sig)));
      expect(signal, 'the apply ran to its end instead of dying at the failpoint').toBe('SIGKILL');
      expect(readJournal(statePath).length - skip).toBe(k);
      const run = lastRun(readJournal(statePath));
      if (!run) throw new Error('no run in the journal');
      expect(run.ended).toBe(false);
      console.log(`kill at record ${k}: journal says ${run.devices.map((d) => `${d.device}=${d.runs}`).join(' ') || 'nothing pushed yet'}`);

      const [old, neu] = [await statusAgainst(v1), await statusAgainst(v2)];
      for (const sw of fleet.switches) {
        const onOld = old.devices.find((d) => d.device === sw.name)?.state === 'in-sync';
        const onNew = neu.devices.find((d) => d.device === sw.name)?.state === 'in-sync';
        const said = run.devices.find((d) => d.device === sw.name)?.runs ?? 'old';
        // Never a mix: exactly one generation reads back in full, the one the journal names. A P4 switch
        // whose push the kill interrupted runs the policy its generation flag selects, whole, while the
        // other generation may hold part of the change (not enforced, not read as running).
        expect(onOld !== onNew, `${sw.name} runs ${onOld ? 'both' : 'neither'}`).toBe(true);
        if (said !== 'unknown') expect(onNew ? 'new' : 'old', sw.name).toBe(said);
      }

      const plain = await weft(['apply', '--bundle', v2.dir]);
      expect(plain.code).toBe(1);
      expect(plain.err).toMatch(/was interrupted: finish it with `weft apply --resume` or undo it with `weft rollback`/);

      if (recover === 'rollback') {
        const r = await weft(['rollback', '--json']);
        expect(r.code, r.err).toBe(0);
        await expectAllRun(v1);
        expect(lastRun(readJournal(statePath))).toMatchObject({ ended: true, outcome: 'restored' });
      } else {
        const r = await weft(['apply', '--resume', '--json']);
        expect(r.code, r.err).toBe(0);
        await expectAllRun(v2);
        expect((JSON.parse(readFileSync(statePath, 'utf8')) as RolloutState).current).toBe(bundleDigest(v2));
        const back = await weft(['apply', '--bundle', v1.dir]);
        expect(back.code, back.err).toBe(0);
        await expectAllRun(v1);
      }
      const nothing = await weft(['apply', '--resume']);
      expect(nothing.code).toBe(1);
      expect(nothing.err).toMatch(/nothing to resume/);
      expect(readFileSync(journalPath(statePath), 'utf8').trim().split('\n').length).toBeGreaterThan(skip);
    });
  }
});

describe('rollout killed while a P4 switch changes generation', { timeout: 300_000 }, () => {
  // The kill lands while sw0000's flip is held: the new generation is written whole but inactive. The held flip is then
  // refused (the write never arrived) or applied (it was on the wire): the switch runs the old policy or the new one, whole.
  for (const [flip, recover] of [
    ['refused', 'resume'],
    ['applied', 'rollback'],
  ] as const) {
    it(`kill -9 with the flip held, the flip then ${flip}: the switch runs one policy whole, and ${recover} converges`, async () => {
      await fromV1();
      let release!: (refuse: boolean) => void;
      let held!: () => void;
      const holding = new Promise<void>((res) => (held = res));
      fleet.onFlip('sw0000', () => {
        held();
        return new Promise<void>((res, rej) => (release = (refuse) => (refuse ? rej(new Error('simulated: the connection died first')) : res())));
      });
      const child = spawn(process.execPath, [join(repo, 'bin/weft.js'), 'apply', '--bundle', v2.dir, '--parallel', '1', '--inventory', fleet.inventoryPath, '--state', statePath], { stdio: 'ignore' });
      const closed = new Promise<void>((res) => child.on('close', () => res()));
      await holding;
      child.kill('SIGKILL');
      await closed;
      fleet.onFlip('sw0000', undefined);
      release(flip === 'refused');
      await new Promise((res) => setTimeout(res, 100));

      const [old, neu] = [await statusAgainst(v1, 'sw0000'), await statusAgainst(v2, 'sw0000')];
      const onOld = old.devices[0]?.state === 'in-sync';
      const onNew = neu.devices[0]?.state === 'in-sync';
      expect([onOld, onNew], `sw0000 against v1: ${old.devices[0]?.differences.slice(0, 2).join('; ')}; against v2: ${neu.devices[0]?.differences.slice(0, 2).join('; ')}`).toEqual(flip === 'refused' ? [true, false] : [false, true]);

      const r = recover === 'resume' ? await weft(['apply', '--resume', '--json']) : await weft(['rollback', '--json']);
      expect(r.code, r.err).toBe(0);
      await expectAllRun(recover === 'resume' ? v2 : v1);
    });
  }
});
