// The stateless subset a DPU's embedded switch can take in hardware: tc
// flower rules with skip_sw on the host-facing port's ingress (traffic
// leaving the host), as a `tc -batch` file, and an interpreter of that file.
//
// Flower matches addresses and ports, not identities, so the rules walk the
// lookup the prefilter does (prefilter.ts) for each local IPv4 address and
// each address prefix of the share, longest prefix first. One block per
// (local address a, prefix P of identity R), in this order:
//   1. tcp/udp from a to P whose source port the reverse direction allows
//      (the packet may answer an allowed connection)         -> pass
//   2. tcp/udp/icmp port-key ranges the forward lookup denies  -> drop
//   3. anything else from a to P                              -> pass
// The block's last rule stops a packet from reaching a shorter prefix's
// block. Above all blocks, ICMP echo replies pass. Flower cannot say "any
// other protocol", so other protocols are never dropped (the host does).
// The list is cut at the declared capacity: a packet whose rule was cut
// falls off the end, where flower passes it, so a cut list only drops less.

import { formatIp, type IpAddr } from '../../orchestrator/net/ip.ts';
import type { Flow } from '../../orchestrator/flow.ts';
import { ANY_REMOTE } from '../../orchestrator/ir/share.ts';
import type { IdEntry, PolicyEntry } from '../host/share.ts';
import type { PrefilterShare } from './prefilter.ts';

export const FLOWER_FILE = 'flower.tc';

type L4 = 6 | 17 | 1;
const PROTO_NAME: Record<L4, string> = { 6: 'tcp', 17: 'udp', 1: 'icmp' };
const PROTO_OF: Record<string, L4> = { tcp: 6, udp: 17, icmp: 1 };

export interface FlowerRule {
  pref: number;
  src: { addr: bigint; len: number };
  dst: { addr: bigint; len: number };
  proto?: L4;
  srcPort?: [number, number];
  dstPort?: [number, number];
  icmpType?: number;
  icmpCode?: number;
  action: 'drop' | 'pass';
}

interface Range {
  lo: number;
  hi: number;
  verdict: 'allow' | 'deny';
}

/**
 * The verdict over every port key 0..65535 of (dir, proto, local, remote), as
 * the datapath looks it up: the specific remote's cells, then ANY_REMOTE's,
 * then the default; adjacent ranges of one verdict merged.
 */
/**
 * Policy entries by remote, then by (local, direction, protocol) as one
 * number: a share holds hundreds of thousands of entries, and numbers, unlike
 * text keys, cost no string per entry.
 */
type EntryIndex = Map<number, Map<number, PolicyEntry[]>>;

const innerKey = (local: number, dir: PolicyEntry['dir'], proto: number): number => local * 512 + (dir === 'egress' ? 256 : 0) + proto;

function indexEntries(policy: readonly PolicyEntry[]): EntryIndex {
  const byRemote: EntryIndex = new Map();
  for (const c of policy) {
    let inner = byRemote.get(c.remote);
    if (!inner) byRemote.set(c.remote, (inner = new Map()));
    const k = innerKey(c.local, c.dir, c.proto);
    const l = inner.get(k);
    if (l) l.push(c);
    else inner.set(k, [c]);
  }
  return byRemote;
}

function verdictRanges(index: EntryIndex, dflt: 'allow' | 'deny', dir: PolicyEntry['dir'], proto: number, local: number, remote: number): Range[] {
  const layers = (remote === ANY_REMOTE ? [remote] : [remote, ANY_REMOTE]).map((r) => index.get(r)?.get(innerKey(local, dir, proto)) ?? []);
  const cuts = new Set<number>([0, 65536]);
  for (const layer of layers) for (const c of layer) {
    cuts.add(c.port);
    cuts.add(c.port + 2 ** (16 - c.portLen));
  }
  const points = [...cuts].sort((a, b) => a - b);
  const out: Range[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const lo = points[i];
    let verdict: 'allow' | 'deny' = dflt;
    for (const layer of layers) {
      const hit = layer.find((c) => lo >= c.port && lo < c.port + 2 ** (16 - c.portLen));
      if (hit) {
        verdict = hit.verdict;
        break;
      }
    }
    const last = out[out.length - 1];
    if (last && last.verdict === verdict) last.hi = points[i + 1] - 1;
    else out.push({ lo, hi: points[i + 1] - 1, verdict });
  }
  return out;
}

/** ICMP port-key range (type << 8 | code) as flower type/code matches. */
function icmpMatches(lo: number, hi: number): { icmpType?: number; icmpCode?: number }[] {
  if (lo === 0 && hi === 0xffff) return [{}];
  const out: { icmpType?: number; icmpCode?: number }[] = [];
  for (let t = lo >> 8; t <= hi >> 8; t++) {
    const c0 = t === lo >> 8 ? lo & 0xff : 0;
    const c1 = t === hi >> 8 ? hi & 0xff : 0xff;
    if (c0 === 0 && c1 === 0xff) out.push({ icmpType: t });
    else for (let c = c0; c <= c1; c++) out.push({ icmpType: t, icmpCode: c });
  }
  return out;
}

export interface FlowerPlan {
  rules: FlowerRule[];
  /** False when the walk stopped at the capacity before its end. */
  complete: boolean;
  capacity: number;
}

/** The flower rules for a share, in walk order up to `capacity` (the walk stops there). */
export function flowerRules(share: Pick<PrefilterShare, 'id4' | 'policy' | 'defaultAction'>, capacity: number): FlowerPlan {
  const index = indexEntries(share.policy);
  // Longest first, then by address: as numbers, IPv4 addresses fit a double.
  const rank = (e: Pick<IdEntry, 'prefix'>): number => (32 - e.prefix.len) * 2 ** 32 + Number(e.prefix.addr);
  const prefixes: Pick<IdEntry, 'prefix' | 'id'>[] = share.id4.map((e) => ({ e, r: rank(e) })).sort((a, b) => a.r - b.r).map((x) => x.e);
  if (!prefixes.some((p) => p.prefix.len === 0)) prefixes.push({ prefix: { family: 4, addr: 0n, len: 0 }, id: ANY_REMOTE });
  const locals = share.id4.filter((e) => e.local && e.prefix.len === 32);
  const rules: Omit<FlowerRule, 'pref'>[] = [{ src: { addr: 0n, len: 0 }, dst: { addr: 0n, len: 0 }, proto: 1, icmpType: 0, action: 'pass' }];
  const ranges = (dir: PolicyEntry['dir'], proto: number, local: number, remote: number) => verdictRanges(index, share.defaultAction, dir, proto, local, remote);
  let complete = true;
  walk: for (const p of prefixes) {
    for (const a of locals) {
      if (rules.length >= capacity) {
        complete = false;
        break walk;
      }
      const src = { addr: a.prefix.addr, len: 32 };
      const dst = { addr: p.prefix.addr, len: p.prefix.len };
      for (const proto of [6, 17] as const) {
        for (const r of ranges('ingress', proto, a.id, p.id)) if (r.verdict === 'allow') rules.push({ src, dst, proto, srcPort: [r.lo, r.hi], action: 'pass' });
      }
      for (const proto of [6, 17, 1] as const) {
        for (const r of ranges('egress', proto, a.id, p.id)) {
          if (r.verdict === 'allow') continue;
          if (proto === 1) for (const m of icmpMatches(r.lo, r.hi)) rules.push({ src, dst, proto, ...m, action: 'drop' });
          else rules.push({ src, dst, proto, dstPort: [r.lo, r.hi], action: 'drop' });
        }
      }
      rules.push({ src, dst, action: 'pass' });
    }
  }
  return { rules: rules.slice(0, capacity).map((r, i) => ({ ...r, pref: i + 1 })), complete: complete && rules.length <= capacity, capacity };
}

const cidr = (x: { addr: bigint; len: number }) => `${formatIp(4, x.addr)}/${x.len}`;
const portText = ([lo, hi]: [number, number]) => (lo === hi ? `${lo}` : `${lo}-${hi}`);

/** One rule as a `tc -batch` line (full-range ports are left out: they match everything). */
export function flowerLine(dev: string, r: FlowerRule): string {
  const parts = [`filter add dev ${dev} ingress protocol ip pref ${r.pref} flower skip_sw`, `src_ip ${cidr(r.src)}`, `dst_ip ${cidr(r.dst)}`];
  if (r.proto !== undefined) parts.push(`ip_proto ${PROTO_NAME[r.proto]}`);
  if (r.srcPort && !(r.srcPort[0] === 0 && r.srcPort[1] === 0xffff)) parts.push(`src_port ${portText(r.srcPort)}`);
  if (r.dstPort && !(r.dstPort[0] === 0 && r.dstPort[1] === 0xffff)) parts.push(`dst_port ${portText(r.dstPort)}`);
  if (r.icmpType !== undefined) parts.push(`type ${r.icmpType}`);
  if (r.icmpCode !== undefined) parts.push(`code ${r.icmpCode}`);
  parts.push(`action ${r.action}`);
  return parts.join(' ');
}

export function flowerFile(dev: string, plan: FlowerPlan, device: string): string {
  const head = [
    `# Weft: stateless drops for ${device}'s embedded switch (tc -batch ${FLOWER_FILE}).`,
    `# ${plan.rules.length} rules${plan.complete ? '' : ', cut at the declared capacity'} (capacity ${plan.capacity}); a packet no rule matches passes to the DPU datapath.`,
    `qdisc add dev ${dev} clsact`,
  ];
  return `${[...head, ...plan.rules.map((r) => flowerLine(dev, r))].join('\n')}\n`;
}

// ---- the interpreter -------------------------------------------------------

function parseCidr4(text: string, where: string): { addr: bigint; len: number } {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(text);
  if (!m) throw new Error(`${where}: "${text}" is not an IPv4 prefix`);
  const addr = (BigInt(m[1]) << 24n) | (BigInt(m[2]) << 16n) | (BigInt(m[3]) << 8n) | BigInt(m[4]);
  return { addr, len: Number(m[5]) };
}

function parsePorts(text: string): [number, number] {
  const [lo, hi] = text.split('-').map(Number);
  return [lo, hi ?? lo];
}

/** Reads the filter lines of a flower.tc file back into rules (other lines are ignored). */
export function parseFlower(text: string, file = FLOWER_FILE): FlowerRule[] {
  const out: FlowerRule[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.startsWith('filter add ')) return;
    const where = `${file}:${i + 1}`;
    const w = line.split(' ');
    const arg = (k: string) => {
      const at = w.indexOf(k);
      return at >= 0 ? w[at + 1] : undefined;
    };
    const proto = arg('ip_proto');
    const action = arg('action');
    if (action !== 'drop' && action !== 'pass') throw new Error(`${where}: action "${action}" is neither drop nor pass`);
    if (proto !== undefined && !(proto in PROTO_OF)) throw new Error(`${where}: ip_proto "${proto}" is not tcp, udp or icmp`);
    const opt = (k: string) => (arg(k) === undefined ? undefined : Number(arg(k)));
    const sp = arg('src_port');
    const dp = arg('dst_port');
    out.push({
      pref: Number(arg('pref')),
      src: parseCidr4(arg('src_ip') ?? '0.0.0.0/0', where),
      dst: parseCidr4(arg('dst_ip') ?? '0.0.0.0/0', where),
      proto: proto === undefined ? undefined : PROTO_OF[proto],
      srcPort: sp === undefined ? undefined : parsePorts(sp),
      dstPort: dp === undefined ? undefined : parsePorts(dp),
      icmpType: opt('type'),
      icmpCode: opt('code'),
      action,
    });
  });
  return out.sort((a, b) => a.pref - b.pref);
}

const inPrefix = (p: { addr: bigint; len: number }, a: IpAddr) => p.len === 0 || a.value >> BigInt(32 - p.len) === p.addr >> BigInt(32 - p.len);
const inRange = (r: [number, number] | undefined, v: number) => r === undefined || (v >= r[0] && v <= r[1]);

function matches(r: FlowerRule, f: Flow): boolean {
  if (!inPrefix(r.src, f.src) || !inPrefix(r.dst, f.dst)) return false;
  if (r.proto !== undefined && r.proto !== f.proto) return false;
  if ((r.proto === 6 || r.proto === 17) && (!inRange(r.srcPort, f.sport) || !inRange(r.dstPort, f.dport))) return false;
  if (r.proto === 1 && ((r.icmpType !== undefined && r.icmpType !== f.icmpType) || (r.icmpCode !== undefined && r.icmpCode !== f.icmpCode))) return false;
  return true;
}

/**
 * The embedded switch's table: first match by pref, else pass. Rules are
 * grouped by source prefix (few: the local addresses and /0), and the first
 * match is the lowest pref among each group's first match.
 */
export class FlowerTable {
  private readonly groups: { src: FlowerRule['src']; rules: FlowerRule[] }[] = [];

  constructor(rules: FlowerRule[]) {
    const byKey = new Map<string, FlowerRule[]>();
    for (const r of [...rules].sort((a, b) => a.pref - b.pref)) {
      const k = `${r.src.addr}/${r.src.len}`;
      let l = byKey.get(k);
      if (!l) {
        byKey.set(k, (l = []));
        this.groups.push({ src: r.src, rules: l });
      }
      l.push(r);
    }
  }

  /** What the embedded switch does with a packet leaving the host. */
  decide(f: Flow): 'drop' | 'pass' {
    if (f.src.family !== 4) return 'pass';
    let best: FlowerRule | undefined;
    for (const g of this.groups) {
      if (!inPrefix(g.src, f.src)) continue;
      for (const r of g.rules) {
        if (best && r.pref > best.pref) break;
        if (matches(r, f)) {
          best = r;
          break;
        }
      }
    }
    return best?.action ?? 'pass';
  }
}
