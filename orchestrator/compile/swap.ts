// Replacing a bundle directory in one step. Linux's renameat2 with
// RENAME_EXCHANGE swaps two paths atomically, so a reader (or a crash) sees
// either the old bundle or the new one at --out, never neither. Where the
// call is unavailable (another libc, a filesystem without exchange) the
// fallback moves the old bundle aside first and back again if the second
// rename fails.

import { existsSync, renameSync, rmSync } from 'node:fs';
import koffi from 'koffi';
import { logger } from '../log.ts';

const log = logger('compile');

const AT_FDCWD = -100;
const RENAME_EXCHANGE = 2;

type Renameat2 = (olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number) => number;

let renameat2: Renameat2 | null | undefined;

function bindRenameat2(): Renameat2 | null {
  if (renameat2 !== undefined) return renameat2;
  try {
    const libc = koffi.load('libc.so.6');
    renameat2 = libc.func('int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)') as Renameat2;
  } catch (e) {
    log.debug({ err: (e as Error).message }, 'renameat2 unavailable; bundles are replaced in two renames');
    renameat2 = null;
  }
  return renameat2;
}

/** Puts directory `fresh` at `target`; the previous `target`, if any, is deleted afterwards. */
export function replaceDir(fresh: string, target: string): void {
  if (!existsSync(target)) {
    renameSync(fresh, target);
    return;
  }
  const exchange = bindRenameat2();
  if (exchange && exchange(AT_FDCWD, fresh, AT_FDCWD, target, RENAME_EXCHANGE) === 0) {
    // `fresh` now holds the previous bundle.
    rmSync(fresh, { recursive: true, force: true });
    return;
  }
  const old = `${fresh}.old`;
  renameSync(target, old);
  try {
    renameSync(fresh, target);
  } catch (e) {
    renameSync(old, target);
    throw e;
  }
  rmSync(old, { recursive: true, force: true });
}
