// Failpoints: named places in a rollout where a test makes the orchestrator
// die, so that what a crash leaves behind at exactly that point is checked
// without racing an outside kill against the code (as etcd's gofail and
// TiKV's fail-rs do). Off unless WEFT_FAILPOINTS names the point:
//   WEFT_FAILPOINTS=rollout.before-complete
// A point reached many times in a run takes the hit to die at:
//   WEFT_FAILPOINTS=journal.record@14   (dies once the 14th record is written)
// The process then sends itself SIGKILL there: no handler, no cleanup, as
// when an operator's CI runner is killed.

import { logger } from './log.ts';

/** Every failpoint in Weft: a name here is a promise to tests that the point exists. */
export const FAILPOINTS = {
  /** `weft apply --confirm-within`: every device pushed and read back, the pending record not yet complete. */
  rolloutBeforeComplete: 'rollout.before-complete',
  /** A journal record written (not yet fsynced): the Nth of this process's records. */
  journalRecord: 'journal.record',
} as const;

export type Failpoint = (typeof FAILPOINTS)[keyof typeof FAILPOINTS];

/**
 * The points WEFT_FAILPOINTS arms, each with the hit to die at (1 unless
 * `name@N`); an unknown name or a bad count is an error, so a test never runs
 * unarmed by a typo.
 */
export function parseFailpoints(text: string | undefined): Map<string, number> {
  const known = new Set<string>(Object.values(FAILPOINTS));
  const armed = new Map<string, number>();
  for (const item of (text ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name = '', count, ...rest] = item.split('@');
    if (!known.has(name)) throw new Error(`WEFT_FAILPOINTS: unknown failpoint "${name}"; the failpoints are ${[...known].join(', ')}`);
    const hit = count === undefined ? 1 : Number(count);
    if (rest.length || !Number.isInteger(hit) || hit < 1) throw new Error(`WEFT_FAILPOINTS: "${item}": the hit count after @ must be a whole number from 1`);
    armed.set(name, hit);
  }
  return armed;
}

let armed: Map<string, number> | undefined;
const hits = new Map<string, number>();

/** Dies here with SIGKILL when WEFT_FAILPOINTS arms this point and this is the armed hit; returns at once otherwise. */
export function failpoint(name: Failpoint): void {
  armed ??= parseFailpoints(process.env.WEFT_FAILPOINTS);
  const at = armed.get(name);
  if (at === undefined) return;
  const hit = (hits.get(name) ?? 0) + 1;
  hits.set(name, hit);
  if (hit < at) return;
  logger('failpoint').warn({ failpoint: name, hit }, 'failpoint reached: killing this process');
  process.kill(process.pid, 'SIGKILL');
}
