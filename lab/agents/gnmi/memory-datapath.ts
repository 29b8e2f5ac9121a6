// An in-memory SwitchDatapath for tests: holds the programmed table, decides
// packets offered to it by the table's rules (highest priority wins) and
// counts matches per entry id, as a switch's ACL counters would.

import type { Flow } from '../../../orchestrator/flow.ts';
import type { AclField, SwitchAclEntry, SwitchAclTable, SwitchDatapath } from '../datapath.ts';

export interface MemoryPacket {
  inPort: string;
  flow: Flow;
  tcpFlags?: number;
}

function fieldsOf(p: MemoryPacket): Partial<Record<AclField, bigint>> {
  const f = p.flow;
  const v4 = f.src.family === 4;
  const out: Partial<Record<AclField, bigint>> = {
    etherType: v4 ? 0x0800n : 0x86ddn,
    [v4 ? 'ipv4Src' : 'ipv6Src']: f.src.value,
    [v4 ? 'ipv4Dst' : 'ipv6Dst']: f.dst.value,
    ipProto: BigInt(f.proto),
  };
  if (f.proto === 6 || f.proto === 17) {
    out.l4Src = BigInt(f.sport);
    out.l4Dst = BigInt(f.dport);
  }
  if (f.proto === 6) out.tcpFlags = BigInt(p.tcpFlags ?? 0);
  if (f.proto === 1 || f.proto === 58) {
    out.icmpType = BigInt(f.icmpType ?? 0);
    out.icmpCode = BigInt(f.icmpCode ?? 0);
  }
  return out;
}

function hits(e: SwitchAclEntry, port: string, fields: Partial<Record<AclField, bigint>>): boolean {
  if (e.inPort !== undefined && e.inPort !== port) return false;
  for (const [name, m] of Object.entries(e.match) as [AclField, SwitchAclEntry['match'][AclField]][]) {
    if (!m) continue;
    const v = fields[name];
    if (v === undefined) return false;
    if (m.kind === 'ternary' ? (v & m.mask) !== m.value : v < m.lo || v > m.hi) return false;
  }
  return true;
}

export class MemoryDatapath implements SwitchDatapath {
  private table: SwitchAclTable = { entries: [], defaultIp: 'permit', defaultNonIp: 'permit' };
  private readonly counts = new Map<string, bigint>();
  /** How many times program() ran; tests check that a failed Set never reached the datapath. */
  programs = 0;

  async program(table: SwitchAclTable): Promise<void> {
    this.table = { ...table, entries: [...table.entries].sort((a, b) => b.priority - a.priority) };
    this.programs++;
    for (const id of [...this.counts.keys()]) if (!table.entries.some((e) => e.id === id)) this.counts.delete(id);
  }

  /** Decides one IP packet as the switch would, counting the entry it hits. */
  offer(p: MemoryPacket): 'permit' | 'deny' {
    const fields = fieldsOf(p);
    for (const e of this.table.entries) {
      if (!hits(e, p.inPort, fields)) continue;
      this.counts.set(e.id, (this.counts.get(e.id) ?? 0n) + 1n);
      return e.action;
    }
    return this.table.defaultIp;
  }

  async counters(): Promise<Map<string, bigint>> {
    return new Map(this.counts);
  }

  async close(): Promise<void> {}
}
