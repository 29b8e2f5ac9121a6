// The nftables switch datapath on real packets: a bridge namespace between two
// endpoint namespaces, an ACL programmed through NftDatapath, TCP/UDP/ICMP
// sent across, counters read back; then an atomic replacement of the table.

import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NftDatapath } from '../../lab/agents/nft-datapath.ts';
import type { SwitchAclTable } from '../../lab/agents/datapath.ts';
import { ProbeAgent } from '../../lab/probe-client.ts';
import { labName, requireLab } from './helpers.ts';

const enabled = requireLab();
const tag = labName('n');
const ns = { sw: `weft-${tag}-sw`, a: `weft-${tag}-a`, b: `weft-${tag}-b` };
const ip = (args: string[]): void => void execFileSync('ip', args, { stdio: 'ignore' });
const agents: ProbeAgent[] = [];
let a: ProbeAgent;

const t = (value: bigint, bits: number) => ({ kind: 'ternary' as const, value, mask: (1n << BigInt(bits)) - 1n });
const TCP = t(6n, 8);
const UDP = t(17n, 8);

const table: SwitchAclTable = {
  defaultIp: 'deny',
  defaultNonIp: 'permit',
  entries: [
    { id: 'telnet', priority: 100, action: 'deny', match: { ipProto: TCP, l4Dst: t(23n, 16) } },
    { id: 'web', priority: 90, inPort: 'p1', action: 'permit', match: { ipv4Src: { kind: 'ternary', value: 0x0a4d0001n, mask: 0xffffffffn }, ipProto: TCP, l4Dst: { kind: 'range', lo: 8000n, hi: 8099n } } },
    // Replies of TCP connections: the stateless way, ACK set.
    { id: 'tcp-replies', priority: 85, inPort: 'p2', action: 'permit', match: { ipProto: TCP, tcpFlags: { kind: 'ternary', value: 0x10n, mask: 0x10n } } },
    { id: 'ping6', priority: 80, action: 'permit', match: { ipv6Src: { kind: 'ternary', value: 0xfd77n << 112n, mask: 0xffffn << 112n }, ipProto: t(58n, 8), icmpType: { kind: 'range', lo: 128n, hi: 129n } } },
    { id: 'nd', priority: 79, action: 'permit', match: { ipProto: t(58n, 8), icmpType: { kind: 'range', lo: 133n, hi: 136n } } },
    { id: 'dns', priority: 70, action: 'permit', match: { ipProto: UDP, l4Dst: t(5353n, 16) } },
    { id: 'dns-replies', priority: 70, action: 'permit', match: { ipProto: UDP, l4Src: t(5353n, 16) } },
  ],
};

describe.runIf(enabled)('nft switch datapath', () => {
  const dp = new NftDatapath({ netns: ns.sw, table: 'weft_acl' });

  beforeAll(async () => {
    for (const n of Object.values(ns)) ip(['netns', 'add', n]);
    ip(['link', 'add', 'name', 'p1', 'netns', ns.sw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.a]);
    ip(['link', 'add', 'name', 'p2', 'netns', ns.sw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.b]);
    ip(['-n', ns.sw, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    for (const p of ['p1', 'p2']) ip(['-n', ns.sw, 'link', 'set', p, 'master', 'br0', 'up']);
    ip(['-n', ns.sw, 'link', 'set', 'br0', 'up']);
    for (const [n, v4, v6] of [[ns.a, '10.77.0.1', 'fd77::1'], [ns.b, '10.77.0.2', 'fd77::2']]) {
      ip(['-n', n, 'addr', 'add', `${v4}/24`, 'dev', 'eth0']);
      ip(['-n', n, 'addr', 'add', `${v6}/64`, 'dev', 'eth0', 'nodad']);
      ip(['-n', n, 'link', 'set', 'eth0', 'up']);
      ip(['-n', n, 'link', 'set', 'lo', 'up']);
    }
    a = await ProbeAgent.start(ns.a, [8000, 8100, 23], [5353, 5354]);
    agents.push(a, await ProbeAgent.start(ns.b, [8000, 8099, 8100, 23], [5353, 5354]));
    await dp.program(table);
  });

  afterAll(async () => {
    for (const g of agents) g.stop();
    await dp.close();
    for (const n of Object.values(ns)) execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
  });

  it('enforces the table on forwarded packets and counts per entry', async () => {
    const cases: [string, 'tcp' | 'udp' | 'ping', string, number, boolean][] = [
      ['web low edge', 'tcp', '10.77.0.2', 8000, true],
      ['web high edge', 'tcp', '10.77.0.2', 8099, true],
      ['past the range', 'tcp', '10.77.0.2', 8100, false],
      ['telnet', 'tcp', '10.77.0.2', 23, false],
      ['tcp over ipv6 (no entry)', 'tcp', 'fd77::2', 8000, false],
      ['ping ipv4 (default deny)', 'ping', '10.77.0.2', 0, false],
      ['ping ipv6', 'ping', 'fd77::2', 0, true],
      ['udp 5353', 'udp', '10.77.0.2', 5353, true],
      ['udp 5354', 'udp', '10.77.0.2', 5354, false],
    ];
    const observed: string[] = [];
    for (const [what, kind, dst, port, want] of cases) {
      const ok = await a.probe(kind, dst, port, want ? 2000 : 300);
      observed.push(`${what}: ${ok}`);
      expect(ok, what).toBe(want);
    }
    // The reverse direction: b's SYN arrives on p2 without ACK and is not the web entry's port.
    expect(await agents[1].probe('tcp', '10.77.0.1', 8000, 300)).toBe(false);
    const c = await dp.counters();
    expect(c.get('web')).toBeGreaterThanOrEqual(2n);
    expect(c.get('telnet')).toBeGreaterThanOrEqual(1n);
    expect(c.get('tcp-replies')).toBeGreaterThanOrEqual(2n);
    expect(c.get('dns')).toBeGreaterThanOrEqual(1n);
    console.log(`nft datapath: ${cases.length + 1} real flows, 0 mismatches`);
  });

  it('replaces the table atomically', async () => {
    await dp.program({ defaultIp: 'permit', defaultNonIp: 'permit', entries: [{ id: 'only', priority: 1, action: 'deny', match: { ipProto: TCP, l4Dst: t(8100n, 16) } }] });
    expect(await a.probe('ping', '10.77.0.2', 0, 2000)).toBe(true);
    expect(await a.probe('tcp', '10.77.0.2', 8100, 300)).toBe(false);
    expect(await a.probe('tcp', '10.77.0.2', 23, 2000)).toBe(true);
    const listed = execFileSync('ip', ['netns', 'exec', ns.sw, 'nft', 'list', 'tables']).toString();
    expect(listed.trim()).toBe('table bridge weft_acl');
    expect([...(await dp.counters()).keys()]).toEqual(['only']);
  });
});
