// The record of an apply that awaits `weft agent confirm`:
// /run/weft/<scope>/pending-confirm.json. Written by the apply, taken away
// (renamed, so exactly one taker wins) by whichever comes first: the
// confirm, a later plain apply, or the timer that reverts.

import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const PENDING_FILE = 'pending-confirm.json';

export interface PendingConfirm {
  device: string;
  /** Names this arming of the timer; the timer only reverts the apply it was started for. */
  token: string;
  /** ISO time after which the timer reverts. */
  deadline: string;
  /** The generation applied and awaiting confirmation. */
  generation: number;
  /** A bundle directory holding the last confirmed generation's artefacts; null: there was none, so reverting removes the datapath. */
  previousBundle: string | null;
  previousGeneration: number | null;
  previousLogRate: number | null;
  /** The detached timer process. */
  timerPid: number;
}

export function readPendingConfirm(runDir: string): PendingConfirm | undefined {
  const f = join(runDir, PENDING_FILE);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as PendingConfirm) : undefined;
}

/** Takes the record away if it is (still) the one named by token (any, without one); returns it to the winner. */
export function claimPendingConfirm(runDir: string, token?: string): PendingConfirm | undefined {
  const f = join(runDir, PENDING_FILE);
  const mine = `${f}.${process.pid}.claimed`;
  try {
    renameSync(f, mine);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const p = JSON.parse(readFileSync(mine, 'utf8')) as PendingConfirm;
  if (token !== undefined && p.token !== token) {
    // A later apply re-armed the timer: its record stays.
    renameSync(mine, f);
    return undefined;
  }
  rmSync(mine, { force: true });
  return p;
}
