// Software model of Weft's P4 pipeline (p4/weft_acl.p4), what verify runs
// against the reference evaluator: the classifier tables give the source and
// destination labels (longest prefix wins; no match is label 0), the
// destination port is fence-encoded, and then the highest-priority ACL entry
// whose every ternary field matches decides; no match takes the table
// default (permit). Only the entries of the active policy generation take
// part (the weft_gen flag; a bundle's entries are all generation 0). ACL
// entries are bucketed by ingress port, ethertype, IP
// protocol and source label so that a lookup scans only entries that can
// match.

import type { Family } from '../../orchestrator/net/ip.ts';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, type SwitchPacket, type SwitchVerdict } from '../switch-common/index.ts';
import type { AclEntry, ClassEntry } from './entries.ts';
import { ACL_FIELDS, CLASSIFIER_SHAPES, type AclFieldName } from './p4info.ts';
import { portNumber } from './codegen.ts';
import { originWithoutBand } from './counters.ts';
import { fenceEncode } from './ternary.ts';

interface Compiled {
  priority: number;
  action: SwitchVerdict;
  /** The entry's origin (its metadata), e.g. "eth5 exact: rule 3 web (reply)". */
  origin: string;
  /** Checks on fields of at most 32 bits, flattened: field index, value, mask (int32). */
  small: Int32Array;
  /** Checks on wider fields (labels, the fence-encoded port). */
  big: [number, bigint, bigint][];
  order: number;
}

const FIELD_INDEX = new Map<AclFieldName, number>(ACL_FIELDS.map((f, i) => [f, i]));
const BIG_FIELDS = new Set<AclFieldName>(['src_label', 'dst_label', 'l4_dst_port_fence']);
const I_PORT = FIELD_INDEX.get('ingress_port')!;
const I_ETHER = FIELD_INDEX.get('ether_type')!;
const I_PROTO = FIELD_INDEX.get('ip_proto')!;
const I_SRC_LABEL = FIELD_INDEX.get('src_label')!;
const I_DST_LABEL = FIELD_INDEX.get('dst_label')!;
const I_FENCE = FIELD_INDEX.get('l4_dst_port_fence')!;

function smallCheck(c: Compiled, field: number): [number, number] | undefined {
  for (let k = 0; k < c.small.length; k += 3) if (c.small[k] === field) return [c.small[k + 1], c.small[k + 2]];
  return undefined;
}

/** One LPM classifier table: label by prefix, longest first. */
class LpmTable {
  private readonly byLen = new Map<number, Map<bigint, bigint>>();
  private lengths: number[] = [];

  constructor(private readonly bits: number) {}

  add(addr: bigint, len: number, label: bigint): void {
    let m = this.byLen.get(len);
    if (!m) this.byLen.set(len, (m = new Map()));
    m.set(addr >> BigInt(this.bits - len), label);
    this.lengths = [...this.byLen.keys()].sort((a, b) => b - a);
  }

  lookup(addr: bigint): bigint {
    for (const len of this.lengths) {
      const hit = this.byLen.get(len)!.get(addr >> BigInt(this.bits - len));
      if (hit !== undefined) return hit;
    }
    return 0n;
  }
}

export class PipelineModel {
  private readonly buckets = new Map<string, Compiled[]>();
  private readonly compiled: Compiled[];
  private readonly classifiers: Record<'src' | 'dst', Record<Family, LpmTable>> = {
    src: { 4: new LpmTable(32), 6: new LpmTable(128) },
    dst: { 4: new LpmTable(32), 6: new LpmTable(128) },
  };

  constructor(entries: AclEntry[], classes: ClassEntry[], generation = 0) {
    const active = <T extends { gen?: number }>(e: T): boolean => (e.gen ?? 0) === generation;
    entries = entries.filter(active);
    for (const c of classes.filter(active)) {
      const { side, family } = CLASSIFIER_SHAPES[c.table];
      this.classifiers[side][family].add(c.prefix.addr, c.prefix.len, c.label);
    }
    this.compiled = entries.map((e, order) => {
      const small: number[] = [];
      const big: Compiled['big'] = [];
      for (const [name, t] of Object.entries(e.match) as [AclFieldName, { value: bigint; mask: bigint }][]) {
        const i = FIELD_INDEX.get(name)!;
        if (BIG_FIELDS.has(name)) big.push([i, t.value, t.mask]);
        else small.push(i, Number(t.value) | 0, Number(t.mask) | 0);
      }
      return { priority: e.priority, action: e.action, origin: e.origin, small: Int32Array.from(small), big, order };
    });
    // Highest priority first; among equals, the earlier entry (deterministic).
    this.compiled.sort((a, b) => b.priority - a.priority || a.order - b.order);
  }

  /** Entries that can match packets with this ingress port, ethertype, protocol and source label, in priority order. */
  private bucket(port: number, ether: number, proto: number, srcLabel: bigint): Compiled[] {
    const key = `${port}/${ether}/${proto}/${srcLabel}`;
    let b = this.buckets.get(key);
    if (!b) {
      const fits = (c: Compiled, field: number, x: number): boolean => {
        const chk = smallCheck(c, field);
        return !chk || (x & chk[1]) === chk[0];
      };
      const labelFits = (c: Compiled): boolean => c.big.every(([i, v, m]) => i !== I_SRC_LABEL || (srcLabel & m) === v);
      b = this.compiled.filter((c) => fits(c, I_PORT, port) && fits(c, I_ETHER, ether) && fits(c, I_PROTO, proto) && labelFits(c));
      this.buckets.set(key, b);
    }
    return b;
  }

  /** The labels the classifier tables give a packet's source and destination (0 for non-IP). */
  labelsOf(p: SwitchPacket): { src: bigint; dst: bigint } {
    const family: Family | undefined = p.etherType === ETHERTYPE_IPV4 ? 4 : p.etherType === ETHERTYPE_IPV6 ? 6 : undefined;
    if (!family || !p.src || !p.dst) return { src: 0n, dst: 0n };
    return { src: this.classifiers.src[family].lookup(p.src.value), dst: this.classifiers.dst[family].lookup(p.dst.value) };
  }

  /** The ACL entry that decides the packet, or undefined for the table default. */
  lookup(p: SwitchPacket): Compiled | undefined {
    const small = new Int32Array(ACL_FIELDS.length);
    const big = new Array<bigint>(ACL_FIELDS.length).fill(0n);
    const port = p.inPort === undefined ? 0 : portNumber(p.inPort);
    small[I_PORT] = port;
    small[I_ETHER] = p.etherType;
    const isIp = (p.etherType === ETHERTYPE_IPV4 || p.etherType === ETHERTYPE_IPV6) && p.src !== undefined && p.dst !== undefined;
    if (isIp) {
      const labels = this.labelsOf(p);
      big[I_SRC_LABEL] = labels.src;
      big[I_DST_LABEL] = labels.dst;
      big[I_FENCE] = fenceEncode(p.dport);
      small[I_PROTO] = p.proto;
      small[FIELD_INDEX.get('l4_src_port')!] = p.sport;
      small[FIELD_INDEX.get('tcp_flags')!] = p.tcpFlags;
      small[FIELD_INDEX.get('icmp_type')!] = p.icmpType;
      small[FIELD_INDEX.get('icmp_code')!] = p.icmpCode;
    }
    const list = this.bucket(port, p.etherType, isIp ? p.proto : 0, big[I_SRC_LABEL]);
    outer: for (let n = 0; n < list.length; n++) {
      const c = list[n];
      const chk = c.small;
      for (let k = 0; k < chk.length; k += 3) {
        if ((small[chk[k]] & chk[k + 2]) !== chk[k + 1]) continue outer;
      }
      for (const [i, v, m] of c.big) {
        if ((big[i] & m) !== v) continue outer;
      }
      return c;
    }
    return undefined;
  }

  evaluate(p: SwitchPacket): SwitchVerdict {
    return this.lookup(p)?.action ?? 'permit';
  }

  /**
   * Whether a reverse entry decides the packet: a stateless approximation
   * when the reference denies it. Exact-port replies are "reply of <rules>"
   * (exactReplyRules), prefilter UDP replies "<rule> (reply)".
   */
  replyEntry(p: SwitchPacket): boolean {
    const origin = this.lookup(p)?.origin;
    if (origin === undefined) return false;
    const what = originWithoutBand(origin);
    return what.startsWith('reply of ') || what.endsWith(' (reply)');
  }
}
