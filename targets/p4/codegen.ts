// P4 codegen: one switch's ACL as priority-ordered ternary entries.
//
// Table layout, highest priority first (one priority per band; entries within
// a band are disjoint, so their order does not matter):
//   1. control: IPv6 neighbour discovery permitted on every port;
//   2. one exact block per port facing unmanaged endpoints, keyed on that
//      port: reverse entries for replies the endpoints send (TCP with ACK
//      set, UDP from the service ports, echo replies),
//      the forward rules in policy order restricted to the endpoints'
//      addresses as sources, the default, then a drop of all other IP (only
//      spoofed packets are left);
//   3. the prefilter block, for every other port: permits for established
//      TCP, echo replies and UDP replies, then the deny rules and the allow
//      rules that take precedence over them;
//   4. the table default (permit): non-IP control traffic, and IP that no
//      prefilter entry denies.

import { InputError, UnsupportedError } from '../../orchestrator/diagnostics.ts';
import type { CodegenInput } from '../contract.ts';
import type { Cidr, Family } from '../../orchestrator/net/ip.ts';
import type { Fabric } from '../../inventory/model.ts';
import {
  AddressResolver,
  ANY_ADDRESS,
  deriveSwitchRules,
  endpointSources,
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

/**
 * Builds the bands, top to bottom, and numbers them into priorities (bottom
 * band = 1). Each exact port gets its own block keyed on that port, holding
 * only what its endpoints can send (their addresses as sources) and the
 * replies they send, closed by the default for them and a drop of anything
 * else (spoofed sources). The prefilter block follows, unkeyed.
 */
export function buildAclEntries(input: Pick<CodegenInput, 'policy' | 'ir' | 'devicePlacement'> & { fabric?: Fabric }, resolver = new AddressResolver(input.ir)): P4Program {
  const { policy, ir, devicePlacement } = input;
  const exactPorts = devicePlacement.interfaces.filter((i) => i.role === 'unmanaged-endpoint').map((i) => i.name);
  const otherPorts = devicePlacement.interfaces.filter((i) => i.role !== 'unmanaged-endpoint').map((i) => i.name);
  const notes: string[] = [];
  const bands: P4Band[] = [];
  const band = (origin: string, action: 'permit' | 'deny', matches: Match[]): void => {
    if (matches.length) bands.push({ origin, action, matches });
  };
  const ipOnly = (m: Match): Match[] => [ETHERTYPE_IPV4, ETHERTYPE_IPV6].map((et) => ({ ...m, ether_type: exactTernary(et, 16) }));

  let control: SwitchRule[] | undefined;
  let shadowed = 0;
  let exactRules = 0;
  for (const port of exactPorts) {
    const sources = input.fabric ? endpointSources(input.fabric, devicePlacement.device, port) : [];
    const list = deriveSwitchRules(policy, ir, { mode: 'exact', resolver, sources: sources.length ? sources : undefined });
    control ??= list.control;
    shadowed = list.stats.shadowed;
    exactRules += list.forward.length;
    const ports = [exactTernary(portNumber(port), 9)];
    const label = `${port} exact`;
    for (const r of [...list.reverse, ...list.forward]) band(`${label}: ${r.rule >= 0 ? `rule ${r.rule} ` : ''}${r.name}`, r.action, ruleMatches(r, ports));
    if (list.guard && list.defaultAction === 'permit') {
      band(`${label}: default permit`, 'permit', ruleMatches({ rule: -1, name: 'default', action: 'permit', src: list.guard, dst: ANY_ADDRESS, services: [{ kind: 'any' }] }, ports));
    }
    // Closes the block: the default (or, with known sources, the spoof drop) for all IP entering the port.
    const closing = list.guard ? 'deny' : list.defaultAction;
    band(`${label}: ${list.guard ? 'other sources' : `default ${closing}`}`, closing, onPorts(ipOnly({}), ports));
    notes.push(
      `exact on ${port}${list.guard ? ` for ${sources.length} endpoint address(es), other sources dropped` : ''}: stateless; replies of allowed connections pass by ${list.reverse.length} reverse rule(s) from the rule's destinations to its sources (TCP: ACK set, service ports rounded out to one prefix; UDP: from the service ports; ICMP: echo replies), so a reply-shaped packet of a connection that was never opened passes too`,
    );
  }
  if (otherPorts.length || exactPorts.length === 0) {
    const pre = deriveSwitchRules(policy, ir, { mode: 'prefilter', resolver });
    control ??= pre.control;
    shadowed = pre.stats.shadowed;
    for (const r of [...pre.reverse, ...pre.forward]) band(`prefilter: ${r.rule >= 0 ? `rule ${r.rule} ` : ''}${r.name}`, r.action, ruleMatches(r, undefined));
    notes.push(
      `prefilter${otherPorts.length ? ` on ${otherPorts.join(', ')}` : ''}: drops only what deny rules drop (${pre.forward.filter((r) => r.action === 'deny').length} of them); TCP segments with ACK, echo replies and UDP replies of allowed rules are passed for the hosts to enforce`,
    );
  }
  const top: P4Band[] = (control ?? []).map((r) => ({ origin: r.name, action: r.action, matches: ruleMatches(r, undefined) }));
  bands.unshift(...top);

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
    shadowedRules: shadowed,
    exactRules,
  };
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
