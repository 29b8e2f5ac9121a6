// Rendering of a SwitchAclTable into nftables: priorities, prefixes, masks,
// ranges, interval sets, entries that can match nothing, shared counters.

import { describe, expect, it } from 'vitest';
import { renderNftTable } from './nft-datapath.ts';
import type { SwitchAclTable } from './datapath.ts';

const full = (bits: number): bigint => (1n << BigInt(bits)) - 1n;

describe('renderNftTable', () => {
  const table: SwitchAclTable = {
    defaultIp: 'deny',
    defaultNonIp: 'permit',
    entries: [
      { id: 'low', priority: 1, action: 'permit', match: { ipProto: { kind: 'ternary', value: 17n, mask: full(8) } } },
      {
        id: 'web',
        priority: 50,
        inPort: 'eth1',
        action: 'permit',
        match: {
          ipv4Src: { kind: 'ternary', value: 0x0a000100n, mask: 0xffffff00n },
          ipv4Dst: { kind: 'ternary', value: 0x0a000001n, mask: 0xff00ffffn },
          ipProto: { kind: 'ternary', value: 6n, mask: full(8) },
          l4Dst: { kind: 'range', lo: 8000n, hi: 8099n },
          tcpFlags: { kind: 'ternary', value: 0x10n, mask: 0x10n },
        },
      },
      { id: 'v6', priority: 50, action: 'deny', match: { ipv6Dst: { kind: 'ternary', value: 0xfd00n << 112n, mask: full(16) << 112n }, icmpType: { kind: 'ternary', value: 128n, mask: full(8) } } },
      { id: 'never', priority: 40, action: 'deny', match: { l4Dst: { kind: 'range', lo: 10n, hi: 5n } } },
      { id: 'wild', priority: 30, action: 'deny', match: { l4Src: { kind: 'range', lo: 0n, hi: 65535n }, ipv4Src: { kind: 'ternary', value: 0n, mask: 0n } } },
    ],
  };
  const r = renderNftTable('weft_acl', table);
  const rules = r.text.split('\n').filter((l) => l.includes('counter name')).map((l) => l.trim());

  it('orders entries by priority, keeping the given order on ties', () => {
    expect(rules.map((l) => /counter name "(e\d+)"/.exec(l)?.[1])).toEqual(['e0', 'e1', 'e3', 'e4']);
    expect(Object.fromEntries(r.counters)).toEqual({ web: 'e0', v6: 'e1', never: 'e2', wild: 'e3', low: 'e4' });
  });

  it('renders prefixes, masks, ranges and flags', () => {
    expect(rules[0]).toBe(
      'iifname "eth1" ip saddr 10.0.1.0/24 ip daddr & 255.0.255.255 == 10.0.0.1 meta l4proto 6 th dport 8000-8099 tcp flags & 0x10 == 0x10 counter name "e0" accept',
    );
    // ICMP type is read from the transport header: guarded to ICMP protocols.
    expect(rules[1]).toBe('meta l4proto { 1, 58 } ip6 daddr fd00::/16 @th,0,8 128 counter name "e1" drop');
  });

  it('drops the rule of an entry that matches nothing and the match of a wildcard field', () => {
    expect(r.text).toContain('counter e2 { }');
    expect(rules.some((l) => l.includes('"e2"'))).toBe(false);
    // Even a wildcard port range needs a packet that has ports.
    expect(rules[2]).toBe('meta l4proto { 6, 17 } counter name "e3" drop');
  });

  it('renders no rule for a port match on a protocol without ports, or a value outside its mask', () => {
    const r2 = renderNftTable('t', {
      defaultIp: 'permit',
      defaultNonIp: 'permit',
      entries: [
        { id: 'icmp-port', priority: 2, action: 'deny', match: { ipProto: { kind: 'ternary', value: 1n, mask: 0xffn }, l4Dst: { kind: 'range', lo: 1n, hi: 2n } } },
        { id: 'bad-ternary', priority: 1, action: 'deny', match: { l4Dst: { kind: 'ternary', value: 0x101n, mask: 0xff00n } } },
      ],
    });
    expect(r2.text.split('\n').filter((l) => l.includes('counter name'))).toEqual([]);
    expect([...r2.counters.keys()]).toEqual(['icmp-port', 'bad-ternary']);
  });

  it('renders interval sets, and entries sharing an id share one declared counter', () => {
    const r3 = renderNftTable('t', {
      defaultIp: 'permit',
      defaultNonIp: 'permit',
      entries: [
        { id: 'a', priority: 3, action: 'deny', inPort: 'eth1', match: { ipv4Src: { kind: 'set', ranges: [[0x0a000001n, 0x0a000003n], [0x0a000100n, 0x0a000100n]] } } },
        { id: 'a', priority: 3, action: 'deny', inPort: 'eth2', match: { l4Dst: { kind: 'set', ranges: [[80n, 80n], [8000n, 8099n]] }, ipProto: { kind: 'ternary', value: 6n, mask: 0xffn } } },
        { id: 'none', priority: 2, action: 'deny', match: { ipv6Dst: { kind: 'set', ranges: [] } } },
        { id: 'all', priority: 1, action: 'deny', match: { etherType: { kind: 'set', ranges: [[0n, 0xffffn]] } } },
      ],
    });
    const rules = r3.text.split('\n').filter((l) => l.includes('counter name')).map((l) => l.trim());
    expect(rules).toEqual([
      'iifname "eth1" ip saddr { 10.0.0.1-10.0.0.3, 10.0.1.0 } counter name "e0" drop',
      'iifname "eth2" meta l4proto 6 th dport { 80, 8000-8099 } counter name "e0" drop',
      'counter name "e2" drop',
    ]);
    expect(Object.fromEntries(r3.counters)).toEqual({ a: 'e0', none: 'e1', all: 'e2' });
    for (const n of ['e0', 'e1', 'e2']) expect(r3.text).toContain(`counter ${n} { }`);
  });

  it('ends with the non-IP and the IP defaults', () => {
    const lines = r.text.trim().split('\n');
    expect(lines.slice(-4, -2).map((l) => l.trim())).toEqual(['ether type != { ip, ip6 } accept', 'drop']);
    expect(lines[0]).toBe('table bridge weft_acl { }');
    expect(lines[1]).toBe('delete table bridge weft_acl');
  });
});
