// What `weft status --watch` prints: lines for a terminal, JSON lines otherwise.

import { describe, expect, it } from 'vitest';
import { watchReporter } from './watch-report.ts';
import type { WatchEvent } from './watch.ts';

const events: WatchEvent[] = [
  { event: 'stream', at: '2026-12-01T05:34:30.036Z', device: 'leaf2', status: 'open' },
  { event: 'state', at: '2026-12-01T05:34:30.069Z', device: 'leaf2', target: 'openconfig', via: 'stream', to: 'in-sync', differences: [], entries: 12 },
  { event: 'state', at: '2026-12-01T05:35:02.101Z', device: 'leaf2', target: 'openconfig', via: 'stream', from: 'in-sync', to: 'drifted', differences: ['acl-set weft-exact-ipv4 ACL_IPV4: entries differ (5 running, 6 wanted)'], entries: 11 },
  { event: 'stream', at: '2026-12-01T05:35:09.000Z', device: 'leaf1', status: 'dropped', detail: 'gnmi subscribe /acl: the switch ended the stream', retryInMs: 1000 },
  { event: 'state', at: '2026-12-01T05:35:09.020Z', device: 'leaf1', target: 'openconfig', via: 'read', from: 'in-sync', to: 'unreachable', differences: [], detail: 'gnmi Get: UNAVAILABLE: No connection established' },
  { event: 'end', at: '2026-12-01T05:36:00.000Z', drifted: ['leaf2'], unreachable: ['leaf1'] },
];

describe('watch output', () => {
  it('prints a line per change on a terminal, with what differs below a drift', () => {
    let text = '';
    const report = watchReporter({ write: (t) => (text += t), isTTY: true });
    for (const e of events) report(e);
    expect(text.split('\n')).toEqual([
      '05:34:30 leaf2        gNMI subscription in sync: following changes as the switch sends them',
      '05:34:30 leaf2        openconfig in-sync (12 entries)  [stream]',
      '05:35:02 leaf2        openconfig in-sync -> drifted  [stream]',
      '           acl-set weft-exact-ipv4 ACL_IPV4: entries differ (5 running, 6 wanted)',
      '05:35:09 leaf1        gNMI subscription dropped (gnmi subscribe /acl: the switch ended the stream); subscribing again in 1.0s',
      '05:35:09 leaf1        openconfig in-sync -> unreachable: gnmi Get: UNAVAILABLE: No connection established  [read]',
      '05:36:00 watch ended: 1 drifted during the watch (leaf2), 1 unreachable (leaf1)',
      '',
    ]);
  });

  it('prints the counter rows that moved, with what they gained', () => {
    let text = '';
    const report = watchReporter({ write: (t) => (text += t), isTTY: true });
    report({
      event: 'counters',
      at: '2026-12-01T05:40:00.000Z',
      device: 'leaf1',
      target: 'p4',
      rules: [
        { kind: 'rule', rule: 'web-to-db', source: 'policy.yaml:15:7', action: 'allow', packets: '12', bytes: '720' },
        { kind: 'default', rule: 'default', action: 'deny', packets: '3', bytes: '180' },
      ],
      moved: [{ rule: 'web-to-db', kind: 'rule', packets: '4' }],
    });
    const lines = text.split('\n');
    expect(lines[0]).toBe('05:40:00 leaf1        p4         counters: 1 of 2 rows moved');
    expect(lines[1]).toMatch(/^ {11}web-to-db +allow policy\.yaml:15:7 +12 pkts +720 bytes {2}\(\+4\)$/);
    expect(lines.length).toBe(3);
  });

  it('prints one JSON object per event otherwise', () => {
    const lines: string[] = [];
    const report = watchReporter({ write: (t) => lines.push(t) });
    for (const e of events) report(e);
    expect(lines.map((l) => JSON.parse(l) as WatchEvent)).toEqual(events);
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
  });
});
