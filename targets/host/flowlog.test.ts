// Flow log records as bpf/lib/flowlog.h writes them, decoded and printed;
// and the durations --confirm-within accepts.

import { describe, expect, it } from 'vitest';
import { DIR, FLOWLOG_EVENT, FLOWLOG_HOOK, VERDICT } from './abi.ts';
import { parseDuration } from '../../orchestrator/duration.ts';
import { decodeFlowEvent, formatFlowEvent, type FlowLogEvent } from './flowlog.ts';

/** struct weft_flowlog_event, field by field (little-endian host, addresses in network order). */
function record(o: { family: 4 | 6; src: number[]; dst: number[]; proto: number; sport: number; dport: number; rule: number; verdict: number; dir: number; hook: number; slot: number; len: number }): Buffer {
  const b = Buffer.alloc(FLOWLOG_EVENT);
  b.writeBigUInt64LE(123456789n, 0);
  b.writeUInt32LE(o.rule, 8);
  b.writeUInt32LE(7, 12);
  Buffer.from(o.src).copy(b, 16);
  Buffer.from(o.dst).copy(b, 32);
  b.writeUInt16LE(o.sport, 48);
  b.writeUInt16LE(o.dport, 50);
  b[52] = o.family;
  b[53] = o.proto;
  b[54] = o.verdict;
  b[55] = o.dir;
  b[56] = o.hook;
  b[57] = o.slot;
  b.writeUInt32LE(o.len, 60);
  return b;
}

describe('flow log records', () => {
  it('decodes an IPv4 TCP deny at XDP', () => {
    const e = decodeFlowEvent(
      record({ family: 4, src: [10, 0, 0, 1], dst: [10, 0, 0, 2], proto: 6, sport: 40000, dport: 22, rule: 3, verdict: VERDICT.deny, dir: DIR.ingress, hook: FLOWLOG_HOOK.xdp, slot: 1, len: 74 }),
    );
    expect(e).toEqual({
      tsNs: 123456789n,
      rule: 3,
      generation: 7,
      family: 4,
      src: '10.0.0.1',
      dst: '10.0.0.2',
      proto: 6,
      sport: 40000,
      dport: 22,
      verdict: 'deny',
      direction: 'ingress',
      hook: 'xdp',
      slot: 1,
      bytes: 74,
    });
  });

  it('decodes an IPv6 UDP allow at TC egress', () => {
    const v6 = (last: number) => [0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last];
    const e = decodeFlowEvent(record({ family: 6, src: v6(1), dst: v6(2), proto: 17, sport: 5353, dport: 8053, rule: 0, verdict: VERDICT.allow, dir: DIR.egress, hook: FLOWLOG_HOOK.tc, slot: 0, len: 66 }));
    expect(e).toMatchObject({ src: 'fd00:1::1', dst: 'fd00:1::2', verdict: 'allow', direction: 'egress', hook: 'tc', proto: 17 });
  });

  it('refuses a short record', () => {
    expect(() => decodeFlowEvent(Buffer.alloc(10))).toThrow(`flow log record of 10 bytes, expected ${FLOWLOG_EVENT}`);
  });

  it('prints one line with the rule, its source and the 5-tuple', () => {
    const base: FlowLogEvent = {
      time: '2026-12-01T00:00:00.000Z',
      device: 'host1',
      generation: 2,
      rule: { index: 1, name: 'web-to-db', section: 'baseline', source: 'policy.yaml:12:7' },
      verdict: 'allow',
      direction: 'egress',
      hook: 'tc',
      protocol: 'tcp',
      src: 'fd00::1',
      dst: 'fd00::2',
      sport: 40000,
      dport: 5432,
      bytes: 80,
    };
    expect(formatFlowEvent(base)).toBe('2026-12-01T00:00:00.000Z host1 allow tcp    [fd00::1]:40000 -> [fd00::2]:5432  rule baseline/web-to-db (policy.yaml:12:7) egress tc');
    expect(formatFlowEvent({ ...base, protocol: 'icmp', src: '10.0.0.1', dst: '10.0.0.2', sport: 0, dport: (8 << 8) | 0, verdict: 'deny' })).toContain('deny  icmp   10.0.0.1 -> 10.0.0.2 type 8 code 0');
  });
});

describe('confirm durations', () => {
  it('reads ms, s, m, h and bare seconds', () => {
    expect([parseDuration('500ms'), parseDuration('3s'), parseDuration('2m'), parseDuration('1h'), parseDuration('1.5')]).toEqual([500, 3000, 120_000, 3_600_000, 1500]);
  });

  it('says what is valid otherwise', () => {
    expect(() => parseDuration('soon')).toThrow('"soon" is not a duration (valid: a number with ms, s, m or h, e.g. 30s; a bare number is seconds)');
    expect(() => parseDuration('0s')).toThrow('"0s" is not a positive duration');
  });
});
