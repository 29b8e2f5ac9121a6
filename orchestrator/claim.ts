// Taking a JSON record file away so that exactly one process acts on it: the
// taker renames the file to a name of its own (rename is atomic, so one
// rename wins), reads it, and puts it back when it names another arming.
// Used for a commit awaiting confirmation, by `weft confirm` against the
// rollout's watchdog and by `weft agent confirm` against the agent's timer.

import { readFileSync, renameSync, rmSync } from 'node:fs';

/** The record in `file` if it is (still) the one named by `token` (any, without one), removed; undefined for every loser. */
export function claimRecord<T extends { token: string }>(file: string, token?: string): T | undefined {
  const mine = `${file}.${process.pid}.claimed`;
  try {
    renameSync(file, mine);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const record = JSON.parse(readFileSync(mine, 'utf8')) as T;
  if (token !== undefined && record.token !== token) {
    // A later arming replaced it: its record stays.
    renameSync(mine, file);
    return undefined;
  }
  rmSync(mine, { force: true });
  return record;
}
