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
  /** Checks on fields of at most 32 bits: [field index, value, mask]. */
  small: [number, number, number][];
  /** Checks on 128-bit fields. */
  big: [number, bigint, bigint][];
  order: number;
}

const FIELD_INDEX = new Map<AclFieldName, number>(ACL_FIELDS.map((f, i) => [f, i]));
const BIG_FIELDS = new Set<AclFieldName>(['ipv6_src', 'ipv6_dst']);
const I_ETHER = FIELD_INDEX.get('ether_type')!;
const I_PROTO = FIELD_INDEX.get('ip_proto')!;

export class AclInterpreter {
  private readonly buckets = new Map<string, Compiled[]>();
  private readonly compiled: Compiled[];

  constructor(entries: AclEntry[]) {
    this.compiled = entries.map((e, order) => {
      const small: Compiled['small'] = [];
      const big: Compiled['big'] = [];
      for (const [name, t] of Object.entries(e.match) as [AclFieldName, { value: bigint; mask: bigint }][]) {
        const i = FIELD_INDEX.get(name)!;
        if (BIG_FIELDS.has(name)) big.push([i, t.value, t.mask]);
        else small.push([i, Number(t.value), Number(t.mask)]);
      }
      return { priority: e.priority, action: e.action, small, big, order };
    });
    // Highest priority first; among equals, the earlier entry (deterministic).
    this.compiled.sort((a, b) => b.priority - a.priority || a.order - b.order);
  }

  private bucket(ether: number, proto: number): Compiled[] {
    const key = `${ether}/${proto}`;
    let b = this.buckets.get(key);
    if (!b) {
      b = this.compiled.filter((c) => {
        const e = c.small.find((s) => s[0] === I_ETHER);
        const p = c.small.find((s) => s[0] === I_PROTO);
        return (!e || (ether & e[2]) === e[1]) && (!p || (proto & p[2]) === p[1]);
      });
      this.buckets.set(key, b);
    }
    return b;
  }

  /** The entry that decides the packet, or undefined for the table default. */
  lookup(p: SwitchPacket): Compiled | undefined {
    const small = new Array<number>(ACL_FIELDS.length).fill(0);
    const big: bigint[] = new Array<bigint>(ACL_FIELDS.length).fill(0n);
    const set = (f: AclFieldName, v: number): void => {
      small[FIELD_INDEX.get(f)!] = v;
    };
    set('ingress_port', p.inPort === undefined ? 0 : portNumber(p.inPort));
    set('ether_type', p.etherType);
    const isIp = p.etherType === ETHERTYPE_IPV4 || p.etherType === ETHERTYPE_IPV6;
    if (isIp && p.src && p.dst) {
      if (p.etherType === ETHERTYPE_IPV4) {
        set('ipv4_src', Number(p.src.value));
        set('ipv4_dst', Number(p.dst.value));
      } else {
        big[FIELD_INDEX.get('ipv6_src')!] = p.src.value;
        big[FIELD_INDEX.get('ipv6_dst')!] = p.dst.value;
      }
      set('ip_proto', p.proto);
      set('l4_src_port', p.sport);
      set('l4_dst_port', p.dport);
      set('tcp_flags', p.tcpFlags);
      set('icmp_type', p.icmpType);
      set('icmp_code', p.icmpCode);
    }
    for (const c of this.bucket(p.etherType, isIp ? p.proto : 0)) {
      let ok = true;
      for (const [i, v, m] of c.small) {
        // >>> 0 keeps 32-bit fields unsigned after the bitwise and.
        if (((small[i] & m) >>> 0) !== v >>> 0) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      for (const [i, v, m] of c.big) {
        if ((big[i] & m) !== v) {
          ok = false;
          break;
        }
      }
      if (ok) return c;
    }
    return undefined;
  }

  evaluate(p: SwitchPacket): SwitchVerdict {
    return this.lookup(p)?.action ?? 'permit';
  }
}
