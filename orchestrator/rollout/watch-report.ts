// What `weft status --watch` prints, as rollout progress does: on a terminal
// one line per change of a device (with what differs below a drift), and
// otherwise (CI logs, pipes, --json) one JSON object per event, so a
// pipeline can follow it.

import { formatCounterRow } from './counters.ts';
import type { ProgressSink } from './progress.ts';
import type { WatchEvent } from './watch.ts';

const MAX_DIFFERENCES = 10;

const time = (at: string): string => at.slice(11, 19);

export function watchReporter(sink: ProgressSink): (e: WatchEvent) => void {
  if (!sink.isTTY) return (e) => sink.write(`${JSON.stringify(e)}\n`);
  return (e) => {
    switch (e.event) {
      case 'state': {
        const change = e.from ? `${e.from} -> ${e.to}` : e.to;
        const lines = [`${time(e.at)} ${e.device.padEnd(12)} ${e.target.padEnd(10)} ${change}${e.detail ? `: ${e.detail}` : ''}${e.to === 'in-sync' && e.entries !== undefined ? ` (${e.entries} entries)` : ''}  [${e.via}]`];
        for (const d of e.differences.slice(0, MAX_DIFFERENCES)) lines.push(`           ${d}`);
        if (e.differences.length > MAX_DIFFERENCES) lines.push(`           ... ${e.differences.length - MAX_DIFFERENCES} more`);
        sink.write(`${lines.join('\n')}\n`);
        return;
      }
      case 'stream': {
        const what =
          e.status === 'open'
            ? 'gNMI subscription in sync: following changes as the switch sends them'
            : e.status === 'dropped'
              ? `gNMI subscription dropped (${e.detail ?? 'no reason given'}); subscribing again in ${((e.retryInMs ?? 0) / 1000).toFixed(1)}s`
              : `cannot stream (${e.detail ?? ''})`;
        sink.write(`${time(e.at)} ${e.device.padEnd(12)} ${what}\n`);
        return;
      }
      case 'counters': {
        const moved = new Map(e.moved.map((m) => [`${m.kind} ${m.rule}`, m.packets]));
        const rows = e.rules.filter((r) => moved.has(`${r.kind} ${r.rule}`));
        const lines = [`${time(e.at)} ${e.device.padEnd(12)} ${e.target.padEnd(10)} counters: ${rows.length} of ${e.rules.length} rows moved`];
        for (const r of rows) lines.push(`           ${formatCounterRow(r)}  (+${moved.get(`${r.kind} ${r.rule}`)})`);
        sink.write(`${lines.join('\n')}\n`);
        return;
      }
      case 'end':
        sink.write(`${time(e.at)} watch ended: ${e.drifted.length} drifted during the watch${e.drifted.length ? ` (${e.drifted.join(', ')})` : ''}, ${e.unreachable.length} unreachable${e.unreachable.length ? ` (${e.unreachable.join(', ')})` : ''}\n`);
        return;
    }
  };
}
