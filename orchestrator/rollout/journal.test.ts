// The rollout lock and journal on real files: one holder at a time, a dead
// holder's lock taken over, records on disk in order (concurrent appends
// sharing fsyncs), a torn last line ignored, and the last run folded per
// device into old / new / unknown (a commit-confirmed run by its last end).

import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireLock, Journal, journalPath, lastRun, LockError, lockPath, readJournal } from './journal.ts';

const work = mkdtempSync(join(tmpdir(), `weft-journal-${process.pid}-`));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('rollout lock', () => {
  it('admits one holder, names it to the next, and takes over from a holder that is gone', () => {
    const state = join(work, 'lock/rollout.json');
    const release = acquireLock(state, 'weft apply');
    expect(JSON.parse(readFileSync(lockPath(state), 'utf8'))).toMatchObject({ pid: process.pid, what: 'weft apply' });
    expect(() => acquireLock(state, 'weft rollback')).toThrow(LockError);
    expect(() => acquireLock(state, 'weft rollback')).toThrow(new RegExp(`held by weft apply \\(pid ${process.pid}, since `));
    release();
    expect(existsSync(lockPath(state))).toBe(false);

    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(lockPath(state), JSON.stringify({ pid: Number(dead.stdout), what: 'weft apply', at: 'then' }));
    const again = acquireLock(state, 'weft apply');
    expect(JSON.parse(readFileSync(lockPath(state), 'utf8')).pid).toBe(process.pid);
    again();
  });
});

describe('rollout journal', () => {
  it('keeps every record of concurrent appends, ignores a torn last line, and folds the last run', async () => {
    const state = join(work, 'j/rollout.json');
    const old = new Journal(journalPath(state), 'run-0');
    await old.append({ step: 'begin', bundle: 'a'.repeat(64), verb: 'apply' });
    await old.append({ step: 'end', outcome: 'applied' });
    old.close();
    const j = new Journal(journalPath(state), 'run-1');
    await j.append({ step: 'begin', bundle: 'b'.repeat(64), verb: 'apply' });
    const devices = Array.from({ length: 50 }, (_, i) => `d${i}`);
    await Promise.all(devices.map((d) => j.append({ step: 'intent', device: d, generation: 'g2', from: { generation: 'g1', bundle: 'a'.repeat(64) } })));
    await Promise.all(devices.slice(0, 20).map((d) => j.append({ step: 'verified', device: d, generation: 'g2' })));
    await j.append({ step: 'failed', device: 'd20', generation: 'g2', detail: 'refused' });
    await j.append({ step: 'verified', device: 'd21', generation: 'g2' });
    await j.append({ step: 'restored', device: 'd21', generation: 'g1' });
    j.close();
    appendFileSync(journalPath(state), '{"run":"run-1","step":"verif');

    const records = readJournal(state);
    expect(records.length).toBe(2 + 1 + 50 + 20 + 3);
    const run = lastRun(records);
    if (!run) throw new Error('no run');
    expect(run).toMatchObject({ run: 'run-1', bundle: 'b'.repeat(64), ended: false });
    const by = new Map(run.devices.map((d) => [d.device, d]));
    expect(by.get('d0')).toMatchObject({ runs: 'new', generation: 'g2', from: { generation: 'g1' } });
    expect(by.get('d20')).toMatchObject({ runs: 'old', last: 'failed' });
    expect(by.get('d21')).toMatchObject({ runs: 'old', generation: 'g1', last: 'restored' });
    expect(by.get('d49')).toMatchObject({ runs: 'unknown', last: 'intent' });
    expect(lastRun(records.slice(0, 2))).toMatchObject({ run: 'run-0', ended: true, outcome: 'applied', devices: [] });
  });

  it('writes noted outcomes at once, in order with appended records, and folds them like appended ones', async () => {
    const state = join(work, 'n/rollout.json');
    const j = new Journal(journalPath(state), 'run-n');
    await j.append({ step: 'begin', bundle: 'c'.repeat(64), verb: 'apply' });
    await j.append({ step: 'intent', device: 'a', generation: 'g2' });
    await j.append({ step: 'intent', device: 'b', generation: 'g2' });
    j.note({ step: 'verified', device: 'a', generation: 'g2' });
    // A noted record is in the file before any later append (a kill -9 loses nothing written).
    expect(readJournal(state).map((r) => `${r.step} ${r.device ?? ''}`)).toEqual(['begin ', 'intent a', 'intent b', 'verified a']);
    j.note({ step: 'failed', device: 'b', generation: 'g2', detail: 'refused' });
    await j.append({ step: 'end', outcome: 'failed' });
    j.close();
    const run = lastRun(readJournal(state));
    expect(run).toMatchObject({ run: 'run-n', ended: true, outcome: 'failed' });
    const by = new Map(run?.devices.map((d) => [d.device, d.runs]));
    expect(Object.fromEntries(by)).toEqual({ a: 'new', b: 'old' });
  });

  it('folds a commit-confirmed run by its last end: pending, then restored by the watchdog', async () => {
    const state = join(work, 'c/rollout.json');
    const j = new Journal(journalPath(state), 'run-c');
    await j.append({ step: 'begin', bundle: 'c'.repeat(64), verb: 'apply', confirmBy: '2030-01-01T00:00:00.000Z' });
    await j.append({ step: 'intent', device: 'leaf1', generation: 'g2', from: { generation: 'g1' } });
    await j.append({ step: 'verified', device: 'leaf1', generation: 'g2' });
    await j.append({ step: 'end', outcome: 'pending' });
    expect(lastRun(readJournal(state))).toMatchObject({ ended: true, outcome: 'pending', devices: [{ device: 'leaf1', runs: 'new' }] });
    await j.append({ step: 'restored', device: 'leaf1', generation: 'g1', detail: 'watchdog: restored' });
    await j.append({ step: 'end', outcome: 'restored' });
    j.close();
    expect(lastRun(readJournal(state))).toMatchObject({ ended: true, outcome: 'restored', devices: [{ device: 'leaf1', runs: 'old', generation: 'g1' }] });
  });
});
