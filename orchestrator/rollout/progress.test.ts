// Rollout progress: per wave done / failed / remaining redrawn on a
// terminal, one JSON object per event otherwise.

import { describe, expect, it } from 'vitest';
import { progressReporter } from './progress.ts';
import type { ProgressEvent } from './rollout.ts';

const events: ProgressEvent[] = [
  { event: 'wave', wave: 1, phase: 'start', total: 3, done: 0, failed: 0, remaining: 3 },
  { event: 'device', wave: 1, device: 'sw1', status: 'applied', detail: 'ok', seconds: 0.1 },
  { event: 'device', wave: 1, device: 'sw2', status: 'failed', detail: 'refused', seconds: 0.2 },
  { event: 'wave', wave: 1, phase: 'stopped', total: 3, done: 1, failed: 1, remaining: 1 },
  { event: 'restore', devices: 2 },
];

function written(isTTY: boolean): string {
  let out = '';
  const report = progressReporter({ write: (t) => (out += t), isTTY });
  for (const e of events) report(e);
  return out;
}

describe('rollout progress', () => {
  it('redraws one line per wave on a terminal: done, failed, remaining', () => {
    const out = written(true);
    expect(out.split('\r').filter((l) => l !== '')).toEqual([
      'wave 1 (switches): 0 done, 0 failed, 3 remaining',
      'wave 1 (switches): 1 done, 0 failed, 2 remaining',
      'wave 1 (switches): 1 done, 1 failed, 1 remaining',
      'wave 1 (switches): 1 done, 1 failed, 1 remaining  stopped\nrestoring 2 devices this run touched\n',
    ]);
  });

  it('writes every event as one JSON line elsewhere', () => {
    const lines = written(false).trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l) as ProgressEvent)).toEqual(events);
  });
});
