// The rollout's lock and journal, beside the state file. The lock (a file
// holding the owner's pid) keeps two runs from interleaving on one fabric.
// The journal is append-only JSON lines, each record on disk (fsync) before
// the step it announces, so after a crash `weft apply --resume` and `weft
// rollback` know per device whether it was about to change (intent), changed
// (pushed), was read back as the new generation (verified, confirmed) or was
// put back (restored). Records waiting for one fsync share it, so a wide
// wave costs few disk flushes. Only the records recovery relies on wait for
// their fsync (begin, intent, end); one that says a step went well (pushed,
// verified, confirmed, restored, failed) reaches the disk with the next
// flush, since losing it only makes recovery redo a step that is
// idempotent (put the device back, or push it again).

import { closeSync, existsSync, fsync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { failpoint, FAILPOINTS } from '../failpoint.ts';
import { processAlive as alive } from '../process-alive.ts';

export class LockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LockError';
  }
}

export function lockPath(statePath: string): string {
  return `${statePath}.lock`;
}

export function journalPath(statePath: string): string {
  return `${statePath}.journal`;
}


/**
 * Takes the lock of a state file, or throws a LockError naming the holder. A
 * lock whose process is gone (a crashed run) is taken over: its journal
 * tells what that run left behind.
 */
export function acquireLock(statePath: string, what: string): () => void {
  const path = lockPath(statePath);
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${JSON.stringify({ pid: process.pid, what, at: new Date().toISOString() })}\n`);
      closeSync(fd);
      return () => {
        try {
          unlinkSync(path);
        } catch {
          // already gone: nothing to release
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder: { pid?: number; what?: string; at?: string } = {};
    try {
      holder = JSON.parse(readFileSync(path, 'utf8')) as typeof holder;
    } catch {
      // a lock being written right now: treat it as held
      holder = { pid: undefined };
    }
    if (holder.pid !== undefined && !alive(holder.pid)) {
      unlinkSync(path);
      continue;
    }
    throw new LockError(
      `${path} is held by ${holder.what ?? 'another weft run'} (pid ${holder.pid ?? '?'}, since ${holder.at ?? '?'}); wait for it to finish (a lock left by a process that no longer runs is taken over)`,
    );
  }
  throw new LockError(`${path}: could not take the lock`);
}

export type JournalStep = 'begin' | 'intent' | 'pushed' | 'verified' | 'confirmed' | 'failed' | 'restored' | 'extended' | 'end';

export interface JournalRecord {
  run: string;
  step: JournalStep;
  at: string;
  /** begin: the bundle (manifest digest) this run applies, and the verb. */
  bundle?: string;
  verb?: 'apply' | 'rollback' | 'resume';
  device?: string;
  /** intent: the generation (and kept bundle) the device ran before; absent when it ran nothing of Weft's. */
  from?: { generation: string; bundle?: string };
  /** intent, pushed, verified, confirmed: the new generation; restored: the one it runs again (absent: removed). */
  generation?: string;
  detail?: string;
  /** begin: a commit-confirmed run's deadline (ISO); extended: its new deadline. */
  confirmBy?: string;
  /** end: how the run ended; pending: every device runs the new generation and awaits `weft confirm` (a later end closes the run). */
  outcome?: 'applied' | 'restored' | 'failed' | 'pending';
}

export class Journal {
  private readonly fd: number;
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private syncing = false;

  constructor(
    readonly path: string,
    readonly run: string,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'a');
  }

  private write(rec: Omit<JournalRecord, 'run' | 'at'>): void {
    writeSync(this.fd, `${JSON.stringify({ run: this.run, at: new Date().toISOString(), ...rec })}\n`);
    failpoint(FAILPOINTS.journalRecord);
  }

  /** Appends a record and resolves once it (and every record before it) is on disk. */
  append(rec: Omit<JournalRecord, 'run' | 'at'>): Promise<void> {
    this.write(rec);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (!this.syncing) this.flush();
    });
  }

  private flush(): void {
    this.syncing = true;
    const batch = this.waiters;
    this.waiters = [];
    fsync(this.fd, (err) => {
      for (const w of batch) {
        if (err) w.reject(err);
        else w.resolve();
      }
      this.syncing = false;
      if (this.waiters.length) this.flush();
    });
  }

  /**
   * Appends a record that the next append's fsync makes durable, without
   * waiting for the disk: for outcomes whose loss in a crash leaves the
   * device "unknown", which recovery handles by redoing an idempotent step.
   */
  note(rec: Omit<JournalRecord, 'run' | 'at'> & { step: 'pushed' | 'verified' | 'confirmed' | 'failed' | 'restored' }): void {
    this.write(rec);
  }

  close(): void {
    closeSync(this.fd);
  }
}

export function readJournal(statePath: string): JournalRecord[] {
  const path = journalPath(statePath);
  if (!existsSync(path)) return [];
  const out: JournalRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as JournalRecord);
    } catch {
      // A line cut short by a crash is the last one; what it announced never happened.
    }
  }
  return out;
}

/** Where each device of a run ended, by the journal: the generation it runs, or unknown when its push may or may not have landed. */
export interface DeviceOutcome {
  device: string;
  from?: { generation: string; bundle?: string };
  /** new: read back as the run's generation; old: never pushed or restored; unknown: a push was under way. */
  runs: 'new' | 'old' | 'unknown';
  generation?: string;
  last: JournalStep;
}

export interface RunSummary {
  run: string;
  bundle: string;
  verb: JournalRecord['verb'];
  ended: boolean;
  outcome?: JournalRecord['outcome'];
  devices: DeviceOutcome[];
}

/** The last run of a journal (undefined when it is empty), folded per device. */
export function lastRun(records: JournalRecord[]): RunSummary | undefined {
  const begin = [...records].reverse().find((r) => r.step === 'begin');
  if (!begin || !begin.bundle) return undefined;
  const mine = records.filter((r) => r.run === begin.run);
  const devices = new Map<string, DeviceOutcome>();
  for (const r of mine) {
    if (!r.device) continue;
    const d = devices.get(r.device) ?? { device: r.device, runs: 'old', last: r.step };
    d.last = r.step;
    switch (r.step) {
      case 'intent':
        d.from = r.from;
        d.runs = 'unknown';
        d.generation = r.generation;
        break;
      case 'pushed':
      case 'verified':
      case 'confirmed':
        d.runs = 'new';
        d.generation = r.generation;
        break;
      case 'restored':
        d.runs = 'old';
        d.generation = r.generation;
        break;
      case 'failed':
        // A failed push left the device as it was (pushes are all or nothing), unless a later step says otherwise.
        if (d.runs === 'unknown') d.runs = 'old';
        break;
      case 'begin':
      case 'extended':
      case 'end':
        break;
    }
    devices.set(r.device, d);
  }
  // A commit-confirmed run ends twice: pending, then confirmed (applied) or restored.
  const end = [...mine].reverse().find((r) => r.step === 'end');
  return { run: begin.run, bundle: begin.bundle, verb: begin.verb, ended: end !== undefined, outcome: end?.outcome, devices: [...devices.values()] };
}
