// Rollout progress for whoever watches: on a terminal, one line per wave
// (done / failed / remaining) redrawn as devices finish; otherwise (CI logs,
// pipes) one JSON object per event, so a pipeline can follow it.

import type { ProgressEvent } from './rollout.ts';

export interface ProgressSink {
  write(text: string): void;
  isTTY?: boolean;
}

const WAVE_NAMES: Record<number, string> = { 1: 'switches', 2: 'hosts and DPUs' };

export function progressReporter(sink: ProgressSink): (e: ProgressEvent) => void {
  if (!sink.isTTY) return (e) => sink.write(`${JSON.stringify(e)}\n`);
  const counts = new Map<number, { total: number; done: number; failed: number }>();
  const line = (wave: number): string => {
    const c = counts.get(wave) ?? { total: 0, done: 0, failed: 0 };
    return `wave ${wave} (${WAVE_NAMES[wave] ?? 'devices'}): ${c.done} done, ${c.failed} failed, ${c.total - c.done - c.failed} remaining`;
  };
  return (e) => {
    switch (e.event) {
      case 'wave':
        counts.set(e.wave, { total: e.total, done: e.done, failed: e.failed });
        if (e.phase === 'start') sink.write(`\r${line(e.wave)}`);
        else if (e.phase === 'canary-passed') sink.write(`\r${line(e.wave)}  canary passed, continuing\n`);
        else sink.write(`\r${line(e.wave)}${e.phase === 'stopped' ? '  stopped' : ''}\n`);
        return;
      case 'device': {
        const c = counts.get(e.wave);
        if (!c) return;
        if (e.status === 'failed') c.failed++;
        else if (e.status === 'applied') c.done++;
        else return;
        sink.write(`\r${line(e.wave)}`);
        return;
      }
      case 'confirm':
        sink.write(`read back ${e.devices} changed devices: ${e.failed} no longer run what was pushed\n`);
        return;
      case 'restore':
        sink.write(`restoring ${e.devices} devices this run touched\n`);
        return;
    }
  };
}
