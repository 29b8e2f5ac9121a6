// Interpreter of the P4 artefact: what the weft_acl table does to a packet.
// The highest-priority entry whose every ternary field matches decides; no
// match takes the table default (permit). Entries are bucketed by ethertype
// and IP protocol so that a lookup scans only entries that can match.

import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, type SwitchPacket, type SwitchVerdict } from '../switch-common/index.ts';
import type { AclEntry } from './entries.ts';
import { ACL_FIELDS, type AclFieldName } from './p4info.ts';
import { portNumber } from './codegen.ts';

interface Compiled {
  priority: number;
  action: SwitchVerdict;
  /** The entry's origin (its metadata), e.g. "eth5 exact: rule 3 web (reply)". */
  origin: string;
  /** Checks on fields of at most 32 bits, flattened: field index, value, mask (int32). */
  small: Int32Array;
  /** Checks on 128-bit fields. */
  big: [number, bigint, bigint][];
  order: number;
}

const FIELD_INDEX = new Map<AclFieldName, number>(ACL_FIELDS.map((f, i) => [f, i]));
const BIG_FIELDS = new Set<AclFieldName>(['ipv6_src', 'ipv6_dst']);
const I_PORT = FIELD_INDEX.get('ingress_port')!;
const I_ETHER = FIELD_INDEX.get('ether_type')!;
const I_PROTO = FIELD_INDEX.get('ip_proto')!;

function smallCheck(c: Compiled, field: number): [number, number] | undefined {
  for (let k = 0; k < c.small.length; k += 3) if (c.small[k] === field) return [c.small[k + 1], c.small[k + 2]];
  return undefined;
}

export class AclInterpreter {
  private readonly buckets = new Map<string, Compiled[]>();
  private readonly compiled: Compiled[];

  constructor(entries: AclEntry[]) {
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

  /** Entries that can match packets with this ingress port, ethertype and protocol, in priority order. */
  private bucket(port: number, ether: number, proto: number): Compiled[] {
    const key = `${port}/${ether}/${proto}`;
    let b = this.buckets.get(key);
    if (!b) {
      const fits = (c: Compiled, field: number, x: number): boolean => {
        const chk = smallCheck(c, field);
        return !chk || (x & chk[1]) === chk[0];
      };
      b = this.compiled.filter((c) => fits(c, I_PORT, port) && fits(c, I_ETHER, ether) && fits(c, I_PROTO, proto));
      this.buckets.set(key, b);
    }
    return b;
  }

  /** The entry that decides the packet, or undefined for the table default. */
  lookup(p: SwitchPacket): Compiled | undefined {
    const small = new Int32Array(ACL_FIELDS.length);
    let v6src = 0n;
    let v6dst = 0n;
    const port = p.inPort === undefined ? 0 : portNumber(p.inPort);
    small[I_PORT] = port;
    small[I_ETHER] = p.etherType;
    const isIp = p.etherType === ETHERTYPE_IPV4 || p.etherType === ETHERTYPE_IPV6;
    if (isIp && p.src && p.dst) {
      if (p.etherType === ETHERTYPE_IPV4) {
        small[FIELD_INDEX.get('ipv4_src')!] = Number(p.src.value) | 0;
        small[FIELD_INDEX.get('ipv4_dst')!] = Number(p.dst.value) | 0;
      } else {
        v6src = p.src.value;
        v6dst = p.dst.value;
      }
      small[I_PROTO] = p.proto;
      small[FIELD_INDEX.get('l4_src_port')!] = p.sport;
      small[FIELD_INDEX.get('l4_dst_port')!] = p.dport;
      small[FIELD_INDEX.get('tcp_flags')!] = p.tcpFlags;
      small[FIELD_INDEX.get('icmp_type')!] = p.icmpType;
      small[FIELD_INDEX.get('icmp_code')!] = p.icmpCode;
    }
    const big = new Map<number, bigint>([
      [FIELD_INDEX.get('ipv6_src')!, v6src],
      [FIELD_INDEX.get('ipv6_dst')!, v6dst],
    ]);
    const list = this.bucket(port, p.etherType, isIp ? p.proto : 0);
    outer: for (let n = 0; n < list.length; n++) {
      const c = list[n];
      const chk = c.small;
      for (let k = 0; k < chk.length; k += 3) {
        if ((small[chk[k]] & chk[k + 2]) !== chk[k + 1]) continue outer;
      }
      for (const [i, v, m] of c.big) {
        if ((big.get(i)! & m) !== v) continue outer;
      }
      return c;
    }
    return undefined;
  }

  evaluate(p: SwitchPacket): SwitchVerdict {
    return this.lookup(p)?.action ?? 'permit';
  }

  /** Whether a reverse entry (a reply of an allow rule) decides the packet: a stateless approximation when the reference denies it. */
  replyEntry(p: SwitchPacket): boolean {
    return this.lookup(p)?.origin.endsWith('(reply)') ?? false;
  }
}
