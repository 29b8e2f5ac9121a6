// The emulated P4 switch's tables as the datapath's SwitchAclTable. The
// pipeline classifies before it matches: four LPM tables give each packet a
// source and a destination label, and weft_acl matches ternary on those
// labels and a fence-encoded destination port. The datapath matches
// addresses and ports, so each classifier table is resolved into disjoint
// address intervals with their effective label (longest prefix wins, an
// address no prefix covers keeps label 0), and an ACL entry's label ternary
// becomes the set of intervals whose label it matches; its fence ternary
// becomes the set of ports whose encoding it matches. Priority order is kept;
// the L2 forwarding table is not emulated (the lab's bridge forwards).

import { FAMILY_BITS, type Family } from '../../../orchestrator/net/ip.ts';
import type { AclEntry, ClassEntry } from '../../../targets/p4/entries.ts';
import { entryKey } from '../../../targets/p4/entries.ts';
import { CLASSIFIER_SHAPES, type AclFieldName, type Pipeline } from '../../../targets/p4/p4info.ts';
import { FENCE_DIGIT_BITS, FENCE_DIGITS } from '../../../targets/p4/ternary.ts';
import type { AclField, FieldMatch, SwitchAclEntry, SwitchAclTable } from '../datapath.ts';

/** ACL key fields the datapath matches as they are. */
const DIRECT_FIELD: Partial<Record<AclFieldName, AclField>> = {
  ether_type: 'etherType',
  ip_proto: 'ipProto',
  l4_src_port: 'l4Src',
  tcp_flags: 'tcpFlags',
  icmp_type: 'icmpType',
  icmp_code: 'icmpCode',
};

const ETHERTYPE: Record<Family, bigint> = { 4: 0x0800n, 6: 0x86ddn };
/** Every ethertype but IPv4 and IPv6: the packets the classifiers never see (both labels 0). */
const NON_IP_ETHERTYPES: [bigint, bigint][] = [
  [0n, 0x07ffn],
  [0x0801n, 0x86dcn],
  [0x86den, 0xffffn],
];

/** An address interval and the label the classifier gives every address in it. */
export interface LabelInterval {
  lo: bigint;
  hi: bigint;
  label: bigint;
}

/** Disjoint intervals covering the whole address space, in order, with each one's longest-prefix label. */
export function labelIntervals(prefixes: { addr: bigint; len: number; label: bigint }[], bits: number): LabelInterval[] {
  const top = (1n << BigInt(bits)) - 1n;
  const span = (len: number): bigint => (1n << BigInt(bits - len)) - 1n;
  // Every interval starts at 0, at a prefix's first address or just after a prefix's last one.
  const starts = new Set<bigint>([0n]);
  for (const p of prefixes) {
    starts.add(p.addr);
    if (p.addr + span(p.len) < top) starts.add(p.addr + span(p.len) + 1n);
  }
  const byLen = new Map<number, Map<bigint, bigint>>();
  for (const p of prefixes) {
    if (!byLen.has(p.len)) byLen.set(p.len, new Map());
    byLen.get(p.len)!.set(p.addr, p.label);
  }
  const lengths = [...byLen.keys()].sort((a, b) => b - a);
  const labelAt = (a: bigint): bigint => {
    for (const len of lengths) {
      const hit = byLen.get(len)!.get(a & ~span(len) & top);
      if (hit !== undefined) return hit;
    }
    return 0n;
  };
  const sorted = [...starts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: LabelInterval[] = [];
  sorted.forEach((lo, i) => {
    const hi = i + 1 < sorted.length ? sorted[i + 1] - 1n : top;
    const label = labelAt(lo);
    const last = out[out.length - 1];
    if (last && last.label === label) last.hi = hi;
    else out.push({ lo, hi, label });
  });
  return out;
}

/** The addresses whose label matches (label & mask) === value, as merged intervals. */
function addressesWithLabel(intervals: LabelInterval[], value: bigint, mask: bigint): [bigint, bigint][] {
  const out: [bigint, bigint][] = [];
  for (const iv of intervals) {
    if ((iv.label & mask) !== value) continue;
    const last = out[out.length - 1];
    if (last && last[1] + 1n === iv.lo) last[1] = iv.hi;
    else out.push([iv.lo, iv.hi]);
  }
  return out;
}

const CODE_BITS = (1 << FENCE_DIGIT_BITS) - 1;
const DIGIT_VALUES = 1 << FENCE_DIGIT_BITS;

/** The destination ports whose fence encoding matches (code & mask) === value, as merged intervals. */
export function portsOfFence(value: bigint, mask: bigint): [bigint, bigint][] {
  // Each digit's field matches a set of digit values; the ports are their product.
  const allowed: number[][] = [];
  for (let i = 0; i < FENCE_DIGITS; i++) {
    const shift = BigInt(CODE_BITS * (FENCE_DIGITS - 1 - i));
    const field = (1n << BigInt(CODE_BITS)) - 1n;
    const v = (value >> shift) & field;
    const m = (mask >> shift) & field;
    allowed.push([...Array(DIGIT_VALUES).keys()].filter((d) => (((1n << BigInt(d)) - 1n) & m) === v));
  }
  const out: [bigint, bigint][] = [];
  const push = (lo: number, hi: number): void => {
    const last = out[out.length - 1];
    if (last && last[1] + 1n === BigInt(lo)) last[1] = BigInt(hi);
    else out.push([BigInt(lo), BigInt(hi)]);
  };
  const walk = (i: number, base: number): void => {
    const size = 1 << (FENCE_DIGIT_BITS * (FENCE_DIGITS - i));
    // Digits from here on all free: one block.
    if (allowed.slice(i).every((a) => a.length === DIGIT_VALUES)) return push(base, base + size - 1);
    for (const d of allowed[i]) walk(i + 1, base + d * (size / DIGIT_VALUES));
  };
  walk(0, 0);
  return out;
}

/** One classifier table per side and family, resolved. */
type Resolved = Record<'src' | 'dst', Record<Family, LabelInterval[]>>;

function resolveClassifiers(classes: ClassEntry[]): Resolved {
  const lists: Record<'src' | 'dst', Record<Family, { addr: bigint; len: number; label: bigint }[]>> = { src: { 4: [], 6: [] }, dst: { 4: [], 6: [] } };
  for (const c of classes) {
    const { side, family } = CLASSIFIER_SHAPES[c.table];
    lists[side][family].push({ addr: c.prefix.addr, len: c.prefix.len, label: c.label });
  }
  const resolve = (f: Family, side: 'src' | 'dst'): LabelInterval[] => labelIntervals(lists[side][f], FAMILY_BITS[f]);
  return { src: { 4: resolve(4, 'src'), 6: resolve(6, 'src') }, dst: { 4: resolve(4, 'dst'), 6: resolve(6, 'dst') } };
}

/**
 * The datapath matches of one ACL entry. Label matches depend on the family
 * the packet's ethertype selects, so an entry that names a label but no
 * ethertype becomes one match per family, plus one for non-IP packets when
 * label 0 satisfies it.
 */
function matchesOf(e: AclEntry, resolved: Resolved): SwitchAclEntry['match'][] {
  const base: SwitchAclEntry['match'] = {};
  for (const [name, t] of Object.entries(e.match) as [AclFieldName, { value: bigint; mask: bigint }][]) {
    const field = DIRECT_FIELD[name];
    if (field) base[field] = { kind: 'ternary', value: t.value, mask: t.mask };
    else if (name === 'l4_dst_port_fence') base.l4Dst = { kind: 'set', ranges: portsOfFence(t.value, t.mask) };
  }
  const src = e.match.src_label;
  const dst = e.match.dst_label;
  if (!src && !dst) return [base];
  const eth = e.match.ether_type;
  const out: SwitchAclEntry['match'][] = [];
  for (const family of [4, 6] as const) {
    if (eth && (ETHERTYPE[family] & eth.mask) !== eth.value) continue;
    const m: SwitchAclEntry['match'] = { ...base, etherType: { kind: 'ternary', value: ETHERTYPE[family], mask: 0xffffn } };
    const fields: Record<'src' | 'dst', AclField> = family === 4 ? { src: 'ipv4Src', dst: 'ipv4Dst' } : { src: 'ipv6Src', dst: 'ipv6Dst' };
    if (src) m[fields.src] = { kind: 'set', ranges: addressesWithLabel(resolved.src[family], src.value, src.mask) };
    if (dst) m[fields.dst] = { kind: 'set', ranges: addressesWithLabel(resolved.dst[family], dst.value, dst.mask) };
    out.push(m);
  }
  const zeroMatches = (t: { value: bigint } | undefined): boolean => !t || t.value === 0n;
  if (zeroMatches(src) && zeroMatches(dst)) {
    const nonIp: FieldMatch = { kind: 'set', ranges: eth ? NON_IP_ETHERTYPES.flatMap(([lo, hi]) => ethertypesIn(lo, hi, eth)) : NON_IP_ETHERTYPES };
    if (nonIp.ranges.length > 0) out.push({ ...base, etherType: nonIp });
  }
  return out;
}

/** The ethertypes in lo..hi that a ternary ethertype match admits. */
function ethertypesIn(lo: bigint, hi: bigint, t: { value: bigint; mask: bigint }): [bigint, bigint][] {
  if (t.mask === 0xffffn) return t.value >= lo && t.value <= hi ? [[t.value, t.value]] : [];
  const out: [bigint, bigint][] = [];
  for (let v = lo; v <= hi; v++) {
    if ((v & t.mask) !== t.value) continue;
    const last = out[out.length - 1];
    if (last && last[1] + 1n === v) last[1] = v;
    else out.push([v, v]);
  }
  return out;
}

/**
 * What the committed tables enforce. `ports` lists the switch's port numbers
 * and `portName` names one: a ternary ingress_port becomes one entry per
 * port it covers.
 */
export function p4TablesToSwitchTable(acl: AclEntry[], classes: ClassEntry[], pipe: Pipeline, ports: number[], portName: (n: number) => string): SwitchAclTable {
  const resolved = resolveClassifiers(classes);
  const out: SwitchAclEntry[] = [];
  for (const e of acl) {
    const id = entryKey(e);
    const port = e.match.ingress_port;
    const inPorts = port ? ports.filter((n) => (BigInt(n) & port.mask) === port.value).map(portName) : [undefined];
    for (const match of matchesOf(e, resolved)) {
      for (const inPort of inPorts) out.push({ priority: e.priority, ...(inPort === undefined ? {} : { inPort }), match, action: e.action, id });
    }
  }
  const dflt = pipe.defaultActionId === pipe.denyId ? 'deny' : 'permit';
  return { entries: out, defaultIp: dflt, defaultNonIp: dflt };
}
