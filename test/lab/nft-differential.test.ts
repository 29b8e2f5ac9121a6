// The nftables switch datapath against the in-memory one (the switch ACL
// semantics every agent test uses) on real packets: seeded random tables over
// ports, prefixes, protocols, TCP flags and ICMP types; real TCP connects, UDP
// exchanges and pings across the bridge. A connection gets through iff both
// its request and its reply are permitted.

import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AclField, RangeMatch, SwitchAclEntry, SwitchAclTable, TernaryMatch } from '../../lab/agents/datapath.ts';
import { MemoryDatapath } from '../../lab/agents/memory-datapath.ts';
import { NftDatapath } from '../../lab/agents/nft-datapath.ts';
import { ProbeAgent } from '../../lab/probe-client.ts';
import type { Flow } from '../../orchestrator/flow.ts';
import { parseIp, type IpAddr } from '../../orchestrator/net/ip.ts';
import { makeRng, type Rng } from '../../orchestrator/testing/generate.ts';
import { labName, requireLab } from './helpers.ts';

const enabled = requireLab();
const tag = labName('x');
const ns = { sw: `weft-${tag}-sw`, a: `weft-${tag}-a`, b: `weft-${tag}-b` };
const A = { v4: '10.77.0.1', v6: 'fd77::1', mac: '02:00:00:77:00:01' };
const B = { v4: '10.77.0.2', v6: 'fd77::2', mac: '02:00:00:77:00:02' };
const TCP_PORTS = [22, 80, 443, 5432, 8080];
const UDP_PORTS = [53, 161, 5353];
// Replies go to an ephemeral port (32768+); generated port matches stay below it.
const SERVICE_PORT_MAX = 9000;

const ip = (args: string[]): void => void execFileSync('ip', args, { stdio: 'ignore' });
const addr = (s: string): IpAddr => parseIp(s) as IpAddr;

function ternary(value: bigint, mask: bigint): TernaryMatch {
  return { kind: 'ternary', value: value & mask, mask };
}

function randomEntry(rng: Rng, i: number): SwitchAclEntry {
  const match: Partial<Record<AclField, TernaryMatch | RangeMatch>> = {};
  const v6 = rng.chance(0.3);
  const proto = rng.pick([6n, 17n, v6 ? 58n : 1n, undefined]);
  if (proto !== undefined) match.ipProto = ternary(proto, 0xffn);
  if (rng.chance(0.5)) {
    const which = rng.pick(v6 ? (['ipv6Src', 'ipv6Dst'] as const) : (['ipv4Src', 'ipv4Dst'] as const));
    const host = rng.pick(v6 ? [addr(A.v6).value, addr(B.v6).value] : [addr(A.v4).value, addr(B.v4).value]);
    const bits = v6 ? 128 : 32;
    const len = rng.pick(v6 ? [128, 64, 16] : [32, 24, 8]);
    match[which] = ternary(host, ((1n << BigInt(len)) - 1n) << BigInt(bits - len));
  } else if (v6 || rng.chance(0.3)) {
    match.etherType = ternary(v6 ? 0x86ddn : 0x0800n, 0xffffn);
  }
  if (proto === 6n || proto === 17n || proto === undefined) {
    if (rng.chance(0.6)) {
      const ports = proto === 17n ? UDP_PORTS : TCP_PORTS;
      const p = BigInt(rng.pick(ports));
      match[rng.chance(0.7) ? 'l4Dst' : 'l4Src'] = rng.chance(0.5) ? ternary(p, 0xffffn) : { kind: 'range', lo: p - BigInt(rng.int(0, 30)), hi: BigInt(Math.min(SERVICE_PORT_MAX, Number(p) + rng.int(0, 3000))) };
    }
    if (proto === 6n && rng.chance(0.4)) match.tcpFlags = ternary(rng.chance(0.5) ? 0x10n : 0n, 0x10n);
  }
  if ((proto === 1n || proto === 58n) && rng.chance(0.6)) {
    match.icmpType = ternary(BigInt(rng.pick(proto === 1n ? [0, 8] : [128, 129])), 0xffn);
  }
  return { id: `r${i}`, priority: rng.int(1, 20), inPort: rng.chance(0.4) ? rng.pick(['p1', 'p2']) : undefined, match, action: rng.chance(0.5) ? 'permit' : 'deny' };
}

function randomTable(rng: Rng): SwitchAclTable {
  const n = rng.int(4, 14);
  return { entries: Array.from({ length: n }, (_, i) => randomEntry(rng, i)), defaultIp: rng.pick(['permit', 'deny']), defaultNonIp: 'permit' };
}

type Probe = { kind: 'tcp' | 'udp' | 'ping'; family: 4 | 6; port: number; from: 'a' | 'b' };

/** Request then reply, as the in-memory switch decides them. */
function expected(mem: MemoryDatapath, p: Probe): boolean {
  const [src, dst] = p.from === 'a' ? [A, B] : [B, A];
  const fam = p.family === 4 ? 'v4' : 'v6';
  const s = addr(src[fam]);
  const d = addr(dst[fam]);
  const inReq = p.from === 'a' ? 'p1' : 'p2';
  const inRep = p.from === 'a' ? 'p2' : 'p1';
  const eph = 40000;
  let req: Flow;
  let rep: Flow;
  switch (p.kind) {
    case 'tcp':
      req = { src: s, dst: d, proto: 6, sport: eph, dport: p.port };
      rep = { src: d, dst: s, proto: 6, sport: p.port, dport: eph };
      return mem.offer({ inPort: inReq, flow: req, tcpFlags: 0x02 }) === 'permit' && mem.offer({ inPort: inRep, flow: rep, tcpFlags: 0x12 }) === 'permit';
    case 'udp':
      req = { src: s, dst: d, proto: 17, sport: eph, dport: p.port };
      rep = { src: d, dst: s, proto: 17, sport: p.port, dport: eph };
      return mem.offer({ inPort: inReq, flow: req }) === 'permit' && mem.offer({ inPort: inRep, flow: rep }) === 'permit';
    case 'ping': {
      const proto = p.family === 4 ? 1 : 58;
      const [echo, reply] = p.family === 4 ? [8, 0] : [128, 129];
      req = { src: s, dst: d, proto, sport: 0, dport: 0, icmpType: echo, icmpCode: 0 };
      rep = { src: d, dst: s, proto, sport: 0, dport: 0, icmpType: reply, icmpCode: 0 };
      return mem.offer({ inPort: inReq, flow: req }) === 'permit' && mem.offer({ inPort: inRep, flow: rep }) === 'permit';
    }
  }
}

const probes: Probe[] = [];
for (const from of ['a', 'b'] as const) {
  for (const family of [4, 6] as const) {
    for (const port of TCP_PORTS) probes.push({ kind: 'tcp', family, port, from });
    for (const port of UDP_PORTS) probes.push({ kind: 'udp', family, port, from });
    probes.push({ kind: 'ping', family, port: 0, from });
  }
}

describe.runIf(enabled)('nft datapath vs in-memory datapath, real packets', () => {
  const dp = new NftDatapath({ netns: ns.sw, table: 'weft_acl' });
  const agents: Record<'a' | 'b', ProbeAgent | undefined> = { a: undefined, b: undefined };

  beforeAll(async () => {
    for (const n of Object.values(ns)) ip(['netns', 'add', n]);
    ip(['link', 'add', 'name', 'p1', 'netns', ns.sw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.a]);
    ip(['link', 'add', 'name', 'p2', 'netns', ns.sw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.b]);
    ip(['-n', ns.sw, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    for (const p of ['p1', 'p2']) ip(['-n', ns.sw, 'link', 'set', p, 'master', 'br0', 'up']);
    ip(['-n', ns.sw, 'link', 'set', 'br0', 'up']);
    for (const [n, me, peer] of [[ns.a, A, B], [ns.b, B, A]] as const) {
      ip(['-n', n, 'link', 'set', 'eth0', 'address', me.mac]);
      ip(['-n', n, 'addr', 'add', `${me.v4}/24`, 'dev', 'eth0']);
      ip(['-n', n, 'addr', 'add', `${me.v6}/64`, 'dev', 'eth0', 'nodad']);
      ip(['-n', n, 'link', 'set', 'eth0', 'up']);
      ip(['-n', n, 'link', 'set', 'lo', 'up']);
      // Static neighbours: ARP and NDP must not depend on the random table.
      ip(['-n', n, 'neigh', 'replace', peer.v4, 'lladdr', peer.mac, 'dev', 'eth0', 'nud', 'permanent']);
      ip(['-n', n, 'neigh', 'replace', peer.v6, 'lladdr', peer.mac, 'dev', 'eth0', 'nud', 'permanent']);
    }
    agents.a = await ProbeAgent.start(ns.a, TCP_PORTS, UDP_PORTS);
    agents.b = await ProbeAgent.start(ns.b, TCP_PORTS, UDP_PORTS);
  });

  afterAll(async () => {
    agents.a?.stop();
    agents.b?.stop();
    for (const n of Object.values(ns)) execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
  });

  it('agrees on every probe of several random tables', async () => {
    const rng = makeRng(20261128);
    let tried = 0;
    let passing = 0;
    const mismatches: string[] = [];
    for (let t = 0; t < 6; t++) {
      const table = randomTable(rng);
      await dp.program(table);
      const mem = new MemoryDatapath();
      await mem.program(table);
      const results = await Promise.all(
        probes.map(async (p) => {
          const want = expected(mem, p);
          const dst = (p.from === 'a' ? B : A)[p.family === 4 ? 'v4' : 'v6'];
          const got = await (agents[p.from] as ProbeAgent).probe(p.kind, dst, p.port, want ? 1500 : 300);
          return { p, want, got };
        }),
      );
      for (const r of results) {
        tried++;
        if (r.got) passing++;
        if (r.want !== r.got) mismatches.push(`table ${t}: ${r.p.from} ${r.p.kind}/${r.p.port} v${r.p.family}: memory ${r.want}, nft ${r.got}\n${JSON.stringify(table, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
      }
    }
    console.log(`nft differential: ${tried} real probes over 6 random tables (${passing} got through), ${mismatches.length} mismatches`);
    // Both outcomes occur, or the comparison would prove little.
    expect(passing).toBeGreaterThan(tried / 10);
    expect(passing).toBeLessThan(tried - tried / 10);
    expect(mismatches.slice(0, 3)).toEqual([]);
  });
});
