// The meaning of an openconfig-acl configuration, independent of any device:
// for a packet entering an interface, the ingress acl-set of the packet's
// family decides; within a set the lowest matching sequence-id wins; a packet
// no entry matches is dropped (the model's implicit deny); an interface with
// no set of that family passes it. Entries naming defined sets are evaluated
// through their expansion (resolveDefinedSets), as a device programs them.
// Used by `verify` and the agent's tests.

import type { Flow } from '../../orchestrator/flow.ts';
import { FAMILY_BITS, type Cidr } from '../../orchestrator/net/ip.ts';
import { resolveDefinedSets, TCP_FLAG_BITS, type AclConfig, type AclEntry, type AclSet, type ForwardingAction } from './model.ts';

export type AclDecision =
  | { kind: 'entry'; action: ForwardingAction; set: string; seq: number; description?: string }
  | { kind: 'implicit-deny'; set: string }
  | { kind: 'unbound' };

export function permits(d: AclDecision): boolean {
  switch (d.kind) {
    case 'entry':
      return d.action === 'ACCEPT';
    case 'implicit-deny':
      return false;
    case 'unbound':
      return true;
    default: {
      const never: never = d;
      throw new Error(`unhandled decision ${JSON.stringify(never)}`);
    }
  }
}

/** Address words, most significant first: 1 word for IPv4, 4 for IPv6. */
function words(value: bigint, bits: number): number[] {
  const out: number[] = [];
  for (let shift = bits - 32; shift >= 0; shift -= 32) out.push(Number((value >> BigInt(shift)) & 0xffffffffn));
  return out;
}

interface PrefixMatcher {
  value: number[];
  mask: number[];
}

function prefixMatcher(c: Cidr): PrefixMatcher {
  const bits = FAMILY_BITS[c.family];
  const mask = c.len === 0 ? 0n : ((1n << BigInt(c.len)) - 1n) << BigInt(bits - c.len);
  return { value: words(c.addr, bits), mask: words(mask, bits) };
}

function prefixHits(m: PrefixMatcher | undefined, addr: number[]): boolean {
  if (!m) return true;
  for (let i = 0; i < addr.length; i++) if (((addr[i] & m.mask[i]) >>> 0) !== m.value[i]) return false;
  return true;
}

interface CompiledEntry {
  entry: AclEntry;
  src?: PrefixMatcher;
  dst?: PrefixMatcher;
  flagMask: number;
}

/** The bits of an address word kept by a prefix of `len` bits starting at word `i`. */
function maskedKey(addr: number[], len: number): string | number {
  if (addr.length === 1) return len * 4294967296 + (len === 0 ? 0 : (addr[0] & ((0xffffffff << (32 - len)) >>> 0)) >>> 0);
  let key = `${len}`;
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(32, len - i * 32));
    key += `:${bits === 0 ? 0 : (addr[i] & ((0xffffffff << (32 - bits)) >>> 0)) >>> 0}`;
  }
  return key;
}

class CompiledSet {
  private readonly all: CompiledEntry[];
  /** Entry indexes (ascending) per source prefix, and the prefix lengths in use. */
  private readonly bySrc = new Map<string | number, number[]>();
  private readonly srcLens: number[];

  constructor(readonly set: AclSet) {
    this.all = set.entries.map((entry) => ({
      entry,
      src: entry.src ? prefixMatcher(entry.src) : undefined,
      dst: entry.dst ? prefixMatcher(entry.dst) : undefined,
      flagMask: (entry.tcpFlags?.flags ?? []).reduce((m, f) => m | TCP_FLAG_BITS[f], 0),
    }));
    const lens = new Set<number>();
    this.all.forEach((c, i) => {
      const len = c.entry.src?.len ?? 0;
      lens.add(len);
      const key = maskedKey(c.src?.value ?? [0, 0, 0, 0].slice(0, set.type === 'ACL_IPV4' ? 1 : 4), len);
      const l = this.bySrc.get(key);
      if (l) l.push(i);
      else this.bySrc.set(key, [i]);
    });
    this.srcLens = [...lens];
  }

  private matches(c: CompiledEntry, flow: Flow, dst: number[], tcpFlags: number): boolean {
    const e = c.entry;
    if (e.protocol !== undefined && e.protocol !== flow.proto) return false;
    if (e.srcPort || e.dstPort) {
      if (flow.proto !== 6 && flow.proto !== 17) return false;
      if (e.srcPort && (flow.sport < e.srcPort.lo || flow.sport > e.srcPort.hi)) return false;
      if (e.dstPort && (flow.dport < e.dstPort.lo || flow.dport > e.dstPort.hi)) return false;
    }
    if (e.tcpFlags) {
      if (flow.proto !== 6) return false;
      const hit = tcpFlags & c.flagMask;
      if (e.tcpFlags.match === 'ALL' ? hit !== c.flagMask : hit === 0) return false;
    }
    if (e.icmp) {
      if (e.icmp.type !== undefined && flow.icmpType !== e.icmp.type) return false;
      if (e.icmp.code !== undefined && flow.icmpCode !== e.icmp.code) return false;
    }
    return prefixHits(c.dst, dst);
  }

  decide(flow: Flow, src: number[], dst: number[], tcpFlags: number): AclDecision {
    // Only entries whose source prefix covers the packet's source can match:
    // walk those lists together in sequence order.
    const lists: number[][] = [];
    for (const len of this.srcLens) {
      const l = this.bySrc.get(maskedKey(src, len));
      if (l) lists.push(l);
    }
    const pos = new Array<number>(lists.length).fill(0);
    for (;;) {
      let best = -1;
      let bestIdx = Infinity;
      for (let k = 0; k < lists.length; k++) {
        const idx = lists[k][pos[k]];
        if (idx !== undefined && idx < bestIdx) {
          bestIdx = idx;
          best = k;
        }
      }
      if (best < 0) return { kind: 'implicit-deny', set: this.set.name };
      pos[best]++;
      const c = this.all[bestIdx];
      if (this.matches(c, flow, dst, tcpFlags)) {
        const e = c.entry;
        return { kind: 'entry', action: e.action, set: this.set.name, seq: e.seq, description: e.description };
      }
    }
  }
}

/** Evaluates packets against one device's acl configuration. */
export class AclInterpreter {
  private readonly bindings = new Map<string, { 4?: CompiledSet; 6?: CompiledSet }>();

  constructor(readonly config: AclConfig) {
    const resolved = resolveDefinedSets(config);
    const sets = new Map(resolved.sets.map((s) => [`${s.name}|${s.type}`, new CompiledSet(s)]));
    for (const i of resolved.interfaces) {
      const b: { 4?: CompiledSet; 6?: CompiledSet } = {};
      for (const ref of i.ingress) {
        const s = sets.get(`${ref.setName}|${ref.type}`);
        if (!s) throw new Error(`interface ${i.id}: unknown acl-set ${ref.setName} ${ref.type}`);
        b[ref.type === 'ACL_IPV4' ? 4 : 6] = s;
      }
      this.bindings.set(i.iface, b);
    }
  }

  /** Interfaces with at least one ingress binding. */
  boundInterfaces(): string[] {
    return [...this.bindings.keys()];
  }

  /** The decision for a packet entering `iface`; tcpFlags is the TCP flags byte (0 for other protocols). */
  decide(iface: string, flow: Flow, tcpFlags = 0): AclDecision {
    const set = this.bindings.get(iface)?.[flow.src.family];
    if (!set) return { kind: 'unbound' };
    const bits = FAMILY_BITS[flow.src.family];
    return set.decide(flow, words(flow.src.value, bits), words(flow.dst.value, bits), tcpFlags);
  }
}

/** Flags of a connection's first packet (SYN) and of every later one (ACK). */
export const TCP_SYN = TCP_FLAG_BITS.TCP_SYN;
export const TCP_ACK = TCP_FLAG_BITS.TCP_ACK;
