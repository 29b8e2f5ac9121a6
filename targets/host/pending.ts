// The record of an apply that awaits `weft agent confirm`:
// /run/weft/<scope>/pending-confirm.json. Written by the apply, taken away
// (renamed, so exactly one taker wins) by whichever comes first: the
// confirm, a later plain apply, or the timer that reverts.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { claimRecord } from '../../orchestrator/claim.ts';

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
  return claimRecord<PendingConfirm>(join(runDir, PENDING_FILE), token);
}
