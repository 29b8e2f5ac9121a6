// An in-memory SwitchDatapath, behind both emulated switch agents (P4Runtime
// and gNMI) in tests and in the agents' standalone entry points: holds the
// programmed table and evaluates packets against it (highest priority wins,
// then the defaults), counting per entry as a switch's ACL counters would, so
// tests can check what an agent enforces without a kernel datapath.

import type { Flow } from '../../orchestrator/flow.ts';
import type { AclField, SwitchAclEntry, SwitchAclTable, SwitchDatapath } from './datapath.ts';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, packetOfFlow, type SwitchPacket, type SwitchVerdict } from '../../targets/switch-common/index.ts';

/** A flow's packet arriving on a port, with the TCP flags it carries (none when absent). */
export interface MemoryPacket {
  inPort: string;
  flow: Flow;
  tcpFlags?: number;
}

function fieldValue(p: SwitchPacket, f: AclField): bigint {
  const isIp = p.etherType === ETHERTYPE_IPV4 || p.etherType === ETHERTYPE_IPV6;
  switch (f) {
    case 'etherType':
      return BigInt(p.etherType);
    case 'ipv4Src':
      return p.etherType === ETHERTYPE_IPV4 && p.src ? p.src.value : 0n;
    case 'ipv4Dst':
      return p.etherType === ETHERTYPE_IPV4 && p.dst ? p.dst.value : 0n;
    case 'ipv6Src':
      return p.etherType === ETHERTYPE_IPV6 && p.src ? p.src.value : 0n;
    case 'ipv6Dst':
      return p.etherType === ETHERTYPE_IPV6 && p.dst ? p.dst.value : 0n;
    case 'ipProto':
      return isIp ? BigInt(p.proto) : 0n;
    case 'l4Src':
      return isIp ? BigInt(p.sport) : 0n;
    case 'l4Dst':
      return isIp ? BigInt(p.dport) : 0n;
    case 'tcpFlags':
      return isIp ? BigInt(p.tcpFlags) : 0n;
    case 'icmpType':
      return isIp ? BigInt(p.icmpType) : 0n;
    case 'icmpCode':
      return isIp ? BigInt(p.icmpCode) : 0n;
    default: {
      const never: never = f;
      return never;
    }
  }
}

export function aclEntryMatches(e: SwitchAclEntry, p: SwitchPacket): boolean {
  if (e.inPort !== undefined && e.inPort !== p.inPort) return false;
  for (const [f, m] of Object.entries(e.match) as [AclField, SwitchAclEntry['match'][AclField]][]) {
    if (!m) continue;
    const v = fieldValue(p, f);
    const hit = m.kind === 'ternary' ? (v & m.mask) === m.value : m.kind === 'range' ? v >= m.lo && v <= m.hi : m.ranges.some(([lo, hi]) => v >= lo && v <= hi);
    if (!hit) return false;
  }
  return true;
}

export class MemoryDatapath implements SwitchDatapath {
  private table: SwitchAclTable = { entries: [], defaultIp: 'permit', defaultNonIp: 'permit' };
  private sorted: SwitchAclEntry[] = [];
  private readonly hits = new Map<string, bigint>();
  /** How many times program() ran; tests use it to see that a refused write never reached the datapath. */
  programs = 0;
  /** Makes the next program() fail (a datapath fault), for tests. */
  failNext: string | undefined;

  async program(table: SwitchAclTable): Promise<void> {
    if (this.failNext) {
      const why = this.failNext;
      this.failNext = undefined;
      throw new Error(why);
    }
    this.table = { ...table, entries: [...table.entries] };
    // Stable: among equal priorities the earlier entry wins.
    this.sorted = this.table.entries.map((e, i) => ({ e, i })).sort((a, b) => b.e.priority - a.e.priority || a.i - b.i).map((x) => x.e);
    const live = new Set(table.entries.map((e) => e.id));
    for (const id of [...this.hits.keys()]) if (!live.has(id)) this.hits.delete(id);
    this.programs++;
  }

  current(): SwitchAclTable {
    return this.table;
  }

  /** Runs one packet through the table, counting the entry that decided it. */
  evaluate(p: SwitchPacket): SwitchVerdict {
    for (const e of this.sorted) {
      if (aclEntryMatches(e, p)) {
        this.hits.set(e.id, (this.hits.get(e.id) ?? 0n) + 1n);
        return e.action;
      }
    }
    const isIp = p.etherType === ETHERTYPE_IPV4 || p.etherType === ETHERTYPE_IPV6;
    return isIp ? this.table.defaultIp : this.table.defaultNonIp;
  }

  /** evaluate() for a flow's packet, with the TCP flags given rather than a SYN. */
  offer(p: MemoryPacket): SwitchVerdict {
    const packet = packetOfFlow(p.flow, { inPort: p.inPort });
    return this.evaluate({ ...packet, tcpFlags: p.flow.proto === 6 ? (p.tcpFlags ?? 0) : 0 });
  }

  async counters(): Promise<Map<string, bigint>> {
    return new Map(this.hits);
  }

  async close(): Promise<void> {
    this.sorted = [];
  }
}
