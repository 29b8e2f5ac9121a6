// Failpoints: named places in a rollout where a test makes the orchestrator
// die, so that what a crash leaves behind at exactly that point is checked
// without racing an outside kill against the code (as etcd's gofail and
// TiKV's fail-rs do). Off unless WEFT_FAILPOINTS names the point:
//   WEFT_FAILPOINTS=rollout.before-complete
// The process then sends itself SIGKILL there: no handler, no cleanup, as
// when an operator's CI runner is killed.

import { logger } from './log.ts';

/** Every failpoint in Weft: a name here is a promise to tests that the point exists. */
export const FAILPOINTS = {
  /** `weft apply --confirm-within`: every device pushed and read back, the pending record not yet complete. */
  rolloutBeforeComplete: 'rollout.before-complete',
} as const;

export type Failpoint = (typeof FAILPOINTS)[keyof typeof FAILPOINTS];

/** The points WEFT_FAILPOINTS arms; an unknown name is an error, so a test never runs unarmed by a typo. */
export function parseFailpoints(text: string | undefined): Set<string> {
  const known = new Set<string>(Object.values(FAILPOINTS));
  const names = (text ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!known.has(name)) throw new Error(`WEFT_FAILPOINTS: unknown failpoint "${name}"; the failpoints are ${[...known].join(', ')}`);
  }
  return new Set(names);
}

let armed: Set<string> | undefined;

/** Dies here with SIGKILL when WEFT_FAILPOINTS arms this point; returns at once otherwise. */
export function failpoint(name: Failpoint): void {
  armed ??= parseFailpoints(process.env.WEFT_FAILPOINTS);
  if (!armed.has(name)) return;
  logger('failpoint').warn({ failpoint: name }, 'failpoint reached: killing this process');
  process.kill(process.pid, 'SIGKILL');
}
