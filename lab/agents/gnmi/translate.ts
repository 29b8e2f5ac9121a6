// The applied openconfig-acl configuration as the datapath's SwitchAclTable:
// defined-set references are resolved first (an entry naming sets becomes one
// datapath entry per combination of their members, sharing the entry's
// counter); per bound interface and acl-set, entries in sequence-id order become
// descending priorities, each set ends in the model's implicit deny for its
// family, and ports without a binding forward everything.

import { FAMILY_BITS, type Cidr } from '../../../orchestrator/net/ip.ts';
import { resolveDefinedSets, TCP_FLAG_BITS, type AclConfig, type AclEntry, type AclSet } from '../../../targets/openconfig/model.ts';
import type { AclField, SwitchAclEntry, SwitchAclTable, TernaryMatch } from '../datapath.ts';

const ETHERTYPE = { 4: 0x0800n, 6: 0x86ddn } as const;

/** The datapath id of one entry on one interface: also the counter key. */
export function counterId(ifaceId: string, set: Pick<AclSet, 'name' | 'type'>, seq: number): string {
  return `${ifaceId}/${set.name}/${set.type}/${seq}`;
}

function exact(value: number | bigint, bits: number): TernaryMatch {
  return { kind: 'ternary', value: BigInt(value), mask: (1n << BigInt(bits)) - 1n };
}

function prefix(c: Cidr): TernaryMatch {
  const bits = FAMILY_BITS[c.family];
  const mask = c.len === 0 ? 0n : ((1n << BigInt(c.len)) - 1n) << BigInt(bits - c.len);
  return { kind: 'ternary', value: c.addr, mask };
}

/** One acl entry as datapath matches; ANY over several TCP flags needs one match per flag. */
function matchesOf(e: AclEntry, set: AclSet): SwitchAclEntry['match'][] {
  const family = set.type === 'ACL_IPV4' ? 4 : 6;
  const m: SwitchAclEntry['match'] = { etherType: exact(ETHERTYPE[family], 16) };
  const srcField: AclField = family === 4 ? 'ipv4Src' : 'ipv6Src';
  const dstField: AclField = family === 4 ? 'ipv4Dst' : 'ipv6Dst';
  if (e.src && e.src.len > 0) m[srcField] = prefix(e.src);
  if (e.dst && e.dst.len > 0) m[dstField] = prefix(e.dst);
  if (e.protocol !== undefined) m.ipProto = exact(e.protocol, 8);
  if (e.srcPort) m.l4Src = { kind: 'range', lo: BigInt(e.srcPort.lo), hi: BigInt(e.srcPort.hi) };
  if (e.dstPort) m.l4Dst = { kind: 'range', lo: BigInt(e.dstPort.lo), hi: BigInt(e.dstPort.hi) };
  if (e.icmp?.type !== undefined) m.icmpType = exact(e.icmp.type, 8);
  if (e.icmp?.code !== undefined) m.icmpCode = exact(e.icmp.code, 8);
  if (!e.tcpFlags) return [m];
  const bits = e.tcpFlags.flags.map((f) => TCP_FLAG_BITS[f]);
  if (e.tcpFlags.match === 'ALL') {
    const all = bits.reduce((a, b) => a | b, 0);
    return [{ ...m, tcpFlags: { kind: 'ternary', value: BigInt(all), mask: BigInt(all) } }];
  }
  return bits.map((b) => ({ ...m, tcpFlags: { kind: 'ternary', value: BigInt(b), mask: BigInt(b) } }));
}

export function aclToSwitchTable(config: AclConfig): SwitchAclTable {
  const sets = new Map(resolveDefinedSets(config).sets.map((s) => [`${s.name}|${s.type}`, s]));
  const entries: SwitchAclEntry[] = [];
  for (const i of config.interfaces) {
    for (const ref of i.ingress) {
      const set = sets.get(`${ref.setName}|${ref.type}`);
      if (!set) throw new Error(`interface ${i.id}: unknown acl-set ${ref.setName} ${ref.type}`);
      // Room for every expanded match above the implicit deny at priority 1.
      let priority = 1 + set.entries.reduce((n, e) => n + (e.tcpFlags?.match === 'ANY' ? e.tcpFlags.flags.length : 1), 0);
      for (const e of set.entries) {
        for (const match of matchesOf(e, set)) {
          entries.push({
            priority: priority--,
            inPort: i.iface,
            match,
            action: e.action === 'ACCEPT' ? 'permit' : 'deny',
            id: counterId(i.id, set, e.seq),
          });
        }
      }
      const family = set.type === 'ACL_IPV4' ? 4 : 6;
      entries.push({
        priority: 1,
        inPort: i.iface,
        match: { etherType: exact(ETHERTYPE[family], 16) },
        action: 'deny',
        id: counterId(i.id, set, 0xffffffff),
      });
    }
  }
  return { entries, defaultIp: 'permit', defaultNonIp: 'permit' };
}
