// P4 codegen: one switch's ACL as priority-ordered ternary entries.
//
// Table layout, highest priority first (one priority per band; entries within
// a band are disjoint, so their order does not matter):
//   1. control: IPv6 neighbour discovery permitted on every port;
//   2. the exact block, for ports facing unmanaged endpoints: reverse TCP
//      entries (ACK set) for replies of allowed connections, the forward
//      rules in policy order, then the default for IP;
//   3. the prefilter block, for every other port: permits for established
//      TCP, echo replies and UDP replies, then the rules up to the last deny
//      rule;
//   4. the table default (permit): non-IP control traffic, and IP that no
//      prefilter entry denies.
// Of blocks 2 and 3, the cheaper one is keyed on its ingress ports and goes
// first, ending in a catch-all for those ports; the other follows unkeyed.

import { InputError, UnsupportedError } from '../../orchestrator/diagnostics.ts';
import type { CodegenInput } from '../contract.ts';
import type { Cidr, Family } from '../../orchestrator/net/ip.ts';
import {
  AddressResolver,
  deriveSwitchRules,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  prefixesOf,
  TCP_FLAG_ACK,
  type PortRange,
  type Service,
  type SwitchRule,
} from '../switch-common/index.ts';
import { entryToJson, type AclEntry, type EntriesDocument } from './entries.ts';
import { PIPELINE, type AclFieldName } from './p4info.ts';
import { cidrTernary, exactTernary, mergeTernaries, rangeTernaries, type Ternary } from './ternary.ts';

type Match = Partial<Record<AclFieldName, Ternary>>;

/** The P4 port number of an interface: its trailing number (eth5 -> 5), as the lab and most NOS port maps number them. */
export function portNumber(name: string): number {
  const m = /(\d+)$/.exec(name);
  if (!m || Number(m[1]) >= 511) throw new UnsupportedError('p4', 'interface without a port number', `"${name}" (expected a name ending in 0-510, e.g. eth5)`);
  return Number(m[1]);
}

function addressTernaries(prefixes: Cidr[], family: Family): Ternary[] {
  return mergeTernaries(prefixes.map(cidrTernary), family === 4 ? 32 : 128);
}

function portTernaries(ranges: PortRange[]): Ternary[] {
  return mergeTernaries(
    ranges.flatMap((r) => rangeTernaries(r.lo, r.hi, 16)),
    16,
  );
}

function serviceMatches(s: Service): Match[] {
  switch (s.kind) {
    case 'any':
      return [{}];
    case 'ports': {
      const out: Match[] = [];
      for (const d of portTernaries(s.dst)) {
        for (const sp of portTernaries(s.src)) {
          const m: Match = { ip_proto: exactTernary(s.proto, 8), l4_dst_port: d, l4_src_port: sp };
          if (s.tcpAck) m.tcp_flags = { value: BigInt(TCP_FLAG_ACK), mask: BigInt(TCP_FLAG_ACK) };
          out.push(m);
        }
      }
      return out;
    }
    case 'icmp': {
      const m: Match = { ip_proto: exactTernary(s.proto, 8) };
      if (s.type !== undefined) m.icmp_type = exactTernary(s.type, 8);
      if (s.code !== undefined) m.icmp_code = exactTernary(s.code, 8);
      return [m];
    }
    default: {
      const never: never = s;
      return never;
    }
  }
}

/** Merges single-field ICMP type matches (ND's 133-137) the same way as ports. */
function compactServices(matches: Match[]): Match[] {
  const icmpTypes = new Map<string, Ternary[]>();
  const rest: Match[] = [];
  for (const m of matches) {
    const keys = Object.keys(m);
    if (m.icmp_type && m.ip_proto && keys.length === 2) {
      const k = String(m.ip_proto.value);
      icmpTypes.set(k, [...(icmpTypes.get(k) ?? []), m.icmp_type]);
    } else rest.push(m);
  }
  for (const [proto, types] of icmpTypes) {
    for (const t of mergeTernaries(types, 8)) rest.push({ ip_proto: exactTernary(BigInt(proto), 8), icmp_type: t });
  }
  return rest;
}

/** The entries of one rule band (without priority), on the given ingress port set (undefined: every port). */
export function ruleMatches(rule: SwitchRule, ports: Ternary[] | undefined): Match[] {
  const services = compactServices(rule.services.flatMap(serviceMatches));
  const out: Match[] = [];
  for (const family of [4, 6] as const) {
    const src = prefixesOf(rule.src, family);
    const dst = prefixesOf(rule.dst, family);
    if (src.length === 0 || dst.length === 0) continue;
    const [sf, df] = family === 4 ? (['ipv4_src', 'ipv4_dst'] as const) : (['ipv6_src', 'ipv6_dst'] as const);
    const ether = exactTernary(family === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6, 16);
    for (const s of addressTernaries(src, family)) {
      for (const d of addressTernaries(dst, family)) {
        for (const svc of services) {
          const m: Match = { ether_type: ether, ...svc };
          if (s.mask !== 0n) m[sf] = s;
          if (d.mask !== 0n) m[df] = d;
          out.push(m);
        }
      }
    }
  }
  return onPorts(out, ports);
}

function onPorts(matches: Match[], ports: Ternary[] | undefined): Match[] {
  return ports ? ports.flatMap((p) => matches.map((m) => ({ ingress_port: p, ...m }))) : matches;
}

export interface P4Band {
  origin: string;
  action: 'permit' | 'deny';
  matches: Match[];
}

export interface P4Program {
  entries: AclEntry[];
  notes: string[];
  stats: Record<string, number>;
}

type Block = { label: string; rules: SwitchRule[]; terminal: 'permit' | 'deny' | undefined; ports: Ternary[] };

/**
 * Builds the bands, top to bottom, and numbers them into priorities (bottom
 * band = 1). Exact ports and the other (prefilter) ports each get one block;
 * the block whose port set costs fewer entries is keyed on ingress port and
 * ends in a catch-all for its ports, the other sits below it unkeyed, so
 * neither block is copied per port.
 */
export function buildAclEntries(input: Pick<CodegenInput, 'policy' | 'ir' | 'devicePlacement'>, resolver = new AddressResolver(input.ir)): P4Program {
  const { policy, ir, devicePlacement } = input;
  const exactPorts = devicePlacement.interfaces.filter((i) => i.role === 'unmanaged-endpoint').map((i) => i.name);
  const otherPorts = devicePlacement.interfaces.filter((i) => i.role !== 'unmanaged-endpoint').map((i) => i.name);
  const portSet = (names: string[]): Ternary[] => mergeTernaries(names.map((n) => exactTernary(portNumber(n), 9)), 9);
  const notes: string[] = [];

  const exact = exactPorts.length ? deriveSwitchRules(policy, ir, { mode: 'exact', resolver }) : undefined;
  const pre = otherPorts.length || !exact ? deriveSwitchRules(policy, ir, { mode: 'prefilter', resolver }) : undefined;
  const blocks: Block[] = [];
  if (exact) {
    blocks.push({ label: 'exact', rules: [...exact.reverse, ...exact.forward], terminal: exact.defaultAction, ports: portSet(exactPorts) });
    notes.push(
      `exact on ${exactPorts.join(', ')}: stateless; TCP replies to allowed connections pass by ${exact.reverse.length} reverse rule(s) matching ACK; UDP and ICMP replies pass only where a rule allows them as flows`,
    );
  }
  if (pre) {
    blocks.push({ label: 'prefilter', rules: [...pre.reverse, ...pre.forward], terminal: undefined, ports: portSet(otherPorts) });
    notes.push(
      `prefilter${otherPorts.length ? ` on ${otherPorts.join(', ')}` : ''}: drops only what deny rules drop; TCP segments with ACK, echo replies and UDP replies of allowed rules are passed for the hosts to enforce`,
    );
  }
  const bandsOf = (b: Block, keyed: boolean): P4Band[] => {
    const ports = keyed ? b.ports : undefined;
    const bands: P4Band[] = b.rules.map((r) => ({
      origin: r.rule >= 0 ? `${b.label}: rule ${r.rule} ${r.name}` : `${b.label}: ${r.name}`,
      action: r.action,
      matches: ruleMatches(r, ports),
    }));
    if (keyed) {
      // Everything else entering these ports ends here, so the unkeyed block below never sees it.
      const action = b.terminal ?? 'permit';
      const catchAll = b.terminal ? [ETHERTYPE_IPV4, ETHERTYPE_IPV6].map((et) => ({ ether_type: exactTernary(et, 16) })) : [{}];
      bands.push({ origin: `${b.label}: default ${action}`, action, matches: onPorts(catchAll, ports) });
    } else if (b.terminal) {
      bands.push({
        origin: `${b.label}: default ${b.terminal}`,
        action: b.terminal,
        matches: [ETHERTYPE_IPV4, ETHERTYPE_IPV6].map((et) => ({ ether_type: exactTernary(et, 16) })),
      });
    }
    return bands;
  };

  const bands: P4Band[] = [];
  for (const r of (exact ?? pre)!.control) bands.push({ origin: r.name, action: r.action, matches: ruleMatches(r, undefined) });
  if (blocks.length === 1) {
    bands.push(...bandsOf(blocks[0], false));
  } else {
    const cost = (b: Block): number => bandsOf(b, false).reduce((n, band) => n + band.matches.length, 0) * (b.ports.length - 1);
    const [keyed, unkeyed] = cost(blocks[0]) <= cost(blocks[1]) ? blocks : [blocks[1], blocks[0]];
    bands.push(...bandsOf(keyed, true), ...bandsOf(unkeyed, false));
  }

  const entries: AclEntry[] = [];
  let priority = bands.length;
  for (const b of bands) {
    for (const match of b.matches) entries.push({ priority, match, action: b.action, origin: b.origin });
    priority--;
  }
  const stats: Record<string, number> = {
    entries: entries.length,
    exactPorts: exactPorts.length,
    policyRules: policy.rules.length,
    shadowedRules: (exact ?? pre)!.stats.shadowed,
  };
  if (exact) stats.exactRules = exact.forward.length;
  if (pre) stats.prefilterRules = pre.forward.length;
  return { entries, notes, stats };
}

/** Refuses a table that does not fit the device, naming the count. */
export function checkCapacity(input: Pick<CodegenInput, 'device'>, count: number): void {
  const { device } = input;
  const inventoryCap = device.capacity?.aclEntries;
  const cap = Math.min(PIPELINE.size, inventoryCap ?? Number.POSITIVE_INFINITY);
  if (count <= cap) return;
  const source = inventoryCap !== undefined && inventoryCap < PIPELINE.size ? `capacity.aclEntries of ${device.name}` : `the size of table weft_acl in p4/weft.p4`;
  throw new InputError([
    {
      code: 'capacity-exceeded',
      severity: 'error',
      message: `${device.name}: the policy needs ${count} p4 table entries, more than ${cap} (${source})`,
      span: device.span,
      hint: 'merge or remove rules, use fewer port ranges, or enforce on hosts; raise capacity.aclEntries only if the switch really has more entries',
    },
  ]);
}

/** entries.json: INSERT updates sorted by priority (highest first), then by match. */
export function entriesDocument(entries: AclEntry[], deviceId: number): EntriesDocument {
  const updates = entries.map((e) => ({ type: 'INSERT' as const, entity: { tableEntry: entryToJson(e) } }));
  const keyOf = (u: (typeof updates)[number]): string => JSON.stringify(u.entity.tableEntry.match);
  updates.sort((a, b) => b.entity.tableEntry.priority - a.entity.tableEntry.priority || (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  return { deviceId: String(deviceId), updates };
}
