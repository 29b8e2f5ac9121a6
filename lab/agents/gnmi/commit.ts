// The gNMI commit-confirmed extension (gnmi_ext.Commit) as the emulated
// switch implements it: one commit slot per target. A Set carrying `commit`
// arms a rollback timer holding the configuration from before that Set; a
// `confirm` with the same id disarms it; `cancel` restores at once;
// `set_rollback_duration` restarts the timer with a new duration. While a
// commit awaits confirmation, another commit and any Set without the
// extension are refused with FAILED_PRECONDITION, and an action naming
// another id with INVALID_ARGUMENT, as the specification says. When the
// timer expires the saved configuration is restored through the same
// datapath path a Set takes.

import * as grpc from '@grpc/grpc-js';
import { durationMs, type CommitExtension, type SetRequest } from '../../../targets/openconfig/gnmi.ts';

/** The specification's rollback duration when a commit names none. */
export const DEFAULT_ROLLBACK_MS = 10 * 60_000;

export class CommitError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
    this.name = 'CommitError';
  }
}

/** The commit extension of a Set, if any; more than one is refused. */
export function commitOf(req: SetRequest): CommitExtension | undefined {
  const commits = (req.extension ?? []).flatMap((e) => (e.commit ? [e.commit] : []));
  if (commits.length > 1) throw new CommitError(grpc.status.INVALID_ARGUMENT, 'a Set carries at most one commit extension');
  const c = commits[0];
  if (!c) return undefined;
  if (!c.id) throw new CommitError(grpc.status.INVALID_ARGUMENT, 'commit extension without an id (the id is required for every action)');
  if (!c.action) throw new CommitError(grpc.status.INVALID_ARGUMENT, `commit extension ${c.id} has no action (commit, confirm, cancel or set_rollback_duration)`);
  return c;
}

export interface PendingCommit {
  id: string;
  /** Epoch ms at which the saved configuration comes back. */
  deadline: number;
}

/**
 * The commit slot. `restore` puts a saved configuration back (and may be
 * retried: it throws while another write is under way).
 */
export class CommitSlot<Saved> {
  private pending: (PendingCommit & { saved: Saved; timer: NodeJS.Timeout }) | undefined;

  constructor(private readonly restore: (saved: Saved, why: string) => Promise<void>) {}

  current(): PendingCommit | undefined {
    return this.pending && { id: this.pending.id, deadline: this.pending.deadline };
  }

  /** Refuses a configuration-changing Set the slot does not allow now. */
  admit(c: CommitExtension | undefined): void {
    if (!this.pending) return;
    if (!c) throw new CommitError(grpc.status.FAILED_PRECONDITION, `commit ${this.pending.id} awaits confirmation; a Set without the commit extension is refused until it is confirmed, cancelled or rolled back`);
    throw new CommitError(grpc.status.FAILED_PRECONDITION, `commit ${this.pending.id} awaits confirmation; confirm or cancel it before starting commit ${c.id}`);
  }

  /** Arms the timer after a Set carrying `commit` took effect; `saved` is the configuration before it. */
  arm(c: CommitExtension, saved: Saved): PendingCommit {
    const ms = c.commit?.rollbackDuration ? durationMs(c.commit.rollbackDuration) : DEFAULT_ROLLBACK_MS;
    this.pending = { id: c.id as string, deadline: Date.now() + ms, saved, timer: this.timer(ms) };
    return this.current() as PendingCommit;
  }

  /** Checks that a commit validated before its Set is still acceptable. */
  static checkRequest(c: CommitExtension): void {
    if (c.commit?.rollbackDuration && !(durationMs(c.commit.rollbackDuration) > 0)) throw new CommitError(grpc.status.INVALID_ARGUMENT, `commit ${c.id}: rollback_duration must be greater than 0`);
  }

  /** confirm, cancel or set_rollback_duration (Sets that change no configuration). */
  async act(c: CommitExtension): Promise<void> {
    const p = this.pending;
    if (!p) throw new CommitError(grpc.status.FAILED_PRECONDITION, `no commit awaits confirmation (${c.action} of ${c.id})`);
    if (p.id !== c.id) throw new CommitError(grpc.status.INVALID_ARGUMENT, `commit ${p.id} awaits confirmation, not ${c.id}`);
    switch (c.action) {
      case 'confirm':
        clearTimeout(p.timer);
        this.pending = undefined;
        return;
      case 'cancel':
        clearTimeout(p.timer);
        await this.restore(p.saved, `commit ${p.id} cancelled`);
        this.pending = undefined;
        return;
      case 'setRollbackDuration': {
        const ms = durationMs(c.setRollbackDuration?.rollbackDuration);
        if (!(ms > 0)) throw new CommitError(grpc.status.INVALID_ARGUMENT, `set_rollback_duration of ${c.id}: the duration must be greater than 0`);
        clearTimeout(p.timer);
        p.deadline = Date.now() + ms;
        p.timer = this.timer(ms);
        return;
      }
      case 'commit':
      case undefined:
        throw new CommitError(grpc.status.INTERNAL, `commit ${c.id}: not an action on an on-going commit`);
    }
  }

  /** Disarms without restoring (the agent shuts down). */
  close(): void {
    if (this.pending) clearTimeout(this.pending.timer);
    this.pending = undefined;
  }

  private timer(ms: number): NodeJS.Timeout {
    const t = setTimeout(() => void this.expire(), ms);
    t.unref();
    return t;
  }

  private async expire(): Promise<void> {
    const p = this.pending;
    if (!p) return;
    try {
      await this.restore(p.saved, `commit ${p.id} not confirmed in time`);
      if (this.pending === p) this.pending = undefined;
    } catch {
      // A write is under way (it will be refused, since the slot is still pending): try again shortly.
      if (this.pending === p) p.timer = this.timer(50);
    }
  }
}
