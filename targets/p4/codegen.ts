// P4 codegen: one switch's classifier entries (address -> class id, LPM) and
// its ACL as priority-ordered ternary entries over class ids, protocol and
// ports (p4/weft_acl.p4).
//
// ACL layout, highest priority first (one priority per band; entries within
// a band are disjoint, so their order does not matter):
//   1. control: IPv6 neighbour discovery permitted on every port;
//   2. one exact block per port facing unmanaged endpoints, keyed on that
//      port: reverse entries for replies the endpoints send to flows whose
//      first match is an allow (exactReplyRules, switch-common/rules.ts),
//      the forward rules in policy order restricted to the endpoints'
//      addresses as sources, the default, then a drop of all other IP (only
//      spoofed packets are left);
//   3. the prefilter block, for every other port: permits for established
//      TCP, echo replies and UDP replies, then the deny rules and the allow
//      rules that take precedence over them;
//   4. the table default (permit): non-IP control traffic, and IP that no
//      prefilter entry denies.
// Every band's address sets are labelled once per side (classes.ts), so a
// band costs the label covers of its two sets times its port expansion.

import { formatSpan, InputError, UnsupportedError, type Diagnostic } from '../../orchestrator/diagnostics.ts';
import { CAPACITY_EXCEEDED, type CodegenInput } from '../contract.ts';
import type { Device, Fabric } from '../../inventory/model.ts';
import {
  addressResolver,
  type AddressResolver,
  ANY_ADDRESS,
  deriveSwitchRules,
  endpointSources,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  TCP_FLAG_ACK,
  type AddressSet,
  type PortRange,
  type Service,
  type SwitchRule,
} from '../switch-common/index.ts';
import { AddressClasses, setKey, type SideLabels } from './classes.ts';
import { classEntryToJson, entryToJson, type AclEntry, type ClassEntry, type EntriesDocument } from './entries.ts';
import { CLOSING_ENTRIES } from './generation.ts';
import { classifierName, CLASSIFIER_TABLES, PIPELINE, type AclFieldName, type ClassifierName } from './p4info.ts';
import { exactTernary, fenceRangeTernaries, mergeTernaries, rangeTernaries, type Ternary } from './ternary.ts';

export type Match = Partial<Record<AclFieldName, Ternary>>;

/** The P4 port number of an interface: its trailing number (eth5 -> 5), as the lab and most NOS port maps number them. */
export function portNumber(name: string): number {
  const m = /(\d+)$/.exec(name);
  if (!m || Number(m[1]) >= 511) throw new UnsupportedError('p4', 'interface without a port number', `"${name}" (expected a name ending in 0-510, e.g. eth5)`);
  return Number(m[1]);
}

/** Source ports in binary (reply entries round them to one prefix, so fence-encoding them would not pay). */
function srcPortTernaries(ranges: PortRange[]): Ternary[] {
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
      for (const d of fenceRangeTernaries(s.dst)) {
        for (const sp of srcPortTernaries(s.src)) {
          const m: Match = { ip_proto: exactTernary(s.proto, 8) };
          if (d.mask !== 0n) m.l4_dst_port_fence = d;
          if (sp.mask !== 0n) m.l4_src_port = sp;
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

const ETHER: Record<4 | 6, Ternary> = { 4: exactTernary(ETHERTYPE_IPV4, 16), 6: exactTernary(ETHERTYPE_IPV6, 16) };

const hasFamily = (set: AddressSet, f: 4 | 6): boolean => set.any || (f === 4 ? set.v4 : set.v6).length > 0;

/** Source and destination labels of one switch. */
export interface Labels {
  src: SideLabels;
  dst: SideLabels;
}

/** Expands services to their protocol/port matches, once per distinct service list (bands repeat them). */
export class ServiceMatches {
  private readonly cache = new Map<string, Match[]>();
  of(services: Service[]): Match[] {
    const key = JSON.stringify(services);
    let hit = this.cache.get(key);
    if (!hit) this.cache.set(key, (hit = compactServices(services.flatMap(serviceMatches))));
    return hit;
  }
}

/** Whether a rule's sides share an address family: one that does not matches no packet. */
function sidesShareFamily(rule: SwitchRule): boolean {
  return ([4, 6] as const).some((f) => hasFamily(rule.src, f) && hasFamily(rule.dst, f));
}

/** The label and ether_type part of a band's matches: side matches x side matches, without services and ports. */
function bandBases(band: P4Band, labels: Labels): Match[] {
  const { rule } = band;
  if (!sidesShareFamily(rule)) return [];
  const out: Match[] = [];
  for (const s of labels.src.matchesOf(rule.src)) {
    for (const d of labels.dst.matchesOf(rule.dst)) {
      if (s.family && d.family && s.family !== d.family) continue;
      const family = s.family ?? d.family;
      // Both sides wildcards: only the ether_type tells IP from ARP.
      const ethers = family ? [ETHER[family]] : s.label || d.label ? [undefined] : [ETHER[4], ETHER[6]];
      for (const ether of ethers) {
        const base: Match = {};
        if (ether) base.ether_type = ether;
        if (s.label && s.label.mask !== 0n) base.src_label = s.label;
        if (d.label && d.label.mask !== 0n) base.dst_label = d.label;
        out.push(base);
      }
    }
  }
  return out;
}

/** The ACL matches of one band (without priority): side matches x side matches x services, on the given ingress ports. */
export function bandMatches(band: P4Band, labels: Labels, expand = new ServiceMatches()): Match[] {
  const bases = bandBases(band, labels);
  if (bases.length === 0) return [];
  const services = expand.of(band.rule.services);
  const out: Match[] = [];
  for (const base of bases) for (const svc of services) out.push({ ...base, ...svc });
  return onPorts(out, band.ports);
}

/** How many ACL entries bandMatches makes, without making them. */
export function bandMatchCount(band: P4Band, labels: Labels, expand: ServiceMatches): number {
  const bases = bandBases(band, labels).length;
  return bases === 0 ? 0 : bases * expand.of(band.rule.services).length * (band.ports?.length ?? 1);
}

function onPorts(matches: Match[], ports: Ternary[] | undefined): Match[] {
  return ports ? ports.flatMap((p) => matches.map((m) => ({ ingress_port: p, ...m }))) : matches;
}

/** One priority level of the ACL: a rule (sets as address sets) on a set of ingress ports (undefined: every port). */
export interface P4Band {
  origin: string;
  action: 'permit' | 'deny';
  rule: SwitchRule;
  ports?: Ternary[];
}

export interface P4Program {
  /** ACL entries. */
  entries: AclEntry[];
  /** Classifier entries. */
  classes: ClassEntry[];
  notes: string[];
  stats: Record<string, number>;
}

export interface P4Bands {
  bands: P4Band[];
  notes: string[];
  stats: Record<string, number>;
}

type BuildInput = Pick<CodegenInput, 'policy' | 'ir' | 'devicePlacement'> & { fabric?: Fabric };

/** The closing band of a port: every IP packet, both families. */
const allIp = (name: string, action: 'permit' | 'deny'): SwitchRule => ({ rule: -1, name, action, src: ANY_ADDRESS, dst: ANY_ADDRESS, services: [{ kind: 'any' }] });

/**
 * Builds the bands, top to bottom. Each exact port gets its own block keyed
 * on that port, holding only what its endpoints can send (their addresses as
 * sources) and the replies they send, closed by the default for them and a
 * drop of anything else (spoofed sources). The prefilter block follows,
 * unkeyed.
 */
export function buildBands(input: BuildInput, resolver = addressResolver(input.ir)): P4Bands {
  const { policy, ir, devicePlacement } = input;
  const exactPorts = devicePlacement.interfaces.filter((i) => i.role === 'unmanaged-endpoint').map((i) => i.name);
  const otherPorts = devicePlacement.interfaces.filter((i) => i.role !== 'unmanaged-endpoint').map((i) => i.name);
  const notes: string[] = [];
  const bands: P4Band[] = [];
  const band = (origin: string, action: 'permit' | 'deny', rule: SwitchRule, ports: Ternary[] | undefined): void => {
    bands.push({ origin, action, rule, ports });
  };

  let control: SwitchRule[] | undefined;
  let shadowed = 0;
  let exactRules = 0;
  for (const port of exactPorts) {
    const sources = input.fabric ? endpointSources(input.fabric, devicePlacement.device, port) : [];
    const list = deriveSwitchRules(policy, ir, { mode: 'exact', resolver, sources: sources.length ? sources : undefined, localIdentities: devicePlacement.localIdentities });
    control ??= list.control;
    shadowed = list.stats.shadowed;
    exactRules += list.forward.length;
    const ports = [exactTernary(portNumber(port), 9)];
    const label = `${port} exact`;
    for (const r of [...list.reverse, ...list.forward]) band(`${label}: ${r.rule >= 0 ? `rule ${r.rule} ` : ''}${r.name}`, r.action, r, ports);
    if (list.guard && list.defaultAction === 'permit') {
      band(`${label}: default permit`, 'permit', { rule: -1, name: 'default', action: 'permit', src: list.guard, dst: ANY_ADDRESS, services: [{ kind: 'any' }] }, ports);
    }
    // Closes the block: the default (or, with known sources, the spoof drop) for all IP entering the port.
    const closing = list.guard ? 'deny' : list.defaultAction;
    const name = list.guard ? 'other sources' : `default ${closing}`;
    band(`${label}: ${name}`, closing, allIp(name, closing), ports);
    notes.push(
      `exact on ${port}${list.guard ? ` for ${sources.length} endpoint address(es), other sources dropped` : ''}: stateless; replies of first-match-allowed flows pass by ${list.reverse.length} reverse rule(s) (TCP: ACK set, from the allowed service ports; UDP: from the allowed service ports back to the flow's sources; ICMP: echo replies), so a reply-shaped packet of a connection that was never opened passes too`,
    );
  }
  if (otherPorts.length || exactPorts.length === 0) {
    const pre = deriveSwitchRules(policy, ir, { mode: 'prefilter', resolver });
    control ??= pre.control;
    shadowed = pre.stats.shadowed;
    for (const r of [...pre.reverse, ...pre.forward]) band(`prefilter: ${r.rule >= 0 ? `rule ${r.rule} ` : ''}${r.name}`, r.action, r, undefined);
    notes.push(
      `prefilter${otherPorts.length ? ` on ${otherPorts.join(', ')}` : ''}: drops only what deny rules drop (${pre.forward.filter((r) => r.action === 'deny').length} of them); TCP segments with ACK, echo replies and UDP replies of allowed rules are passed for the hosts to enforce`,
    );
  }
  bands.unshift(...(control ?? []).map((r): P4Band => ({ origin: r.name, action: r.action, rule: r })));
  const stats: Record<string, number> = { exactPorts: exactPorts.length, policyRules: policy.rules.length, shadowedRules: shadowed, exactRules };
  return { bands, notes, stats };
}

/** Classifies the bands' address sets, one side at a time. */
export function classify(bands: P4Band[], device: string): { src: AddressClasses; dst: AddressClasses } {
  return {
    src: new AddressClasses(bands.map((b) => b.rule.src), device),
    dst: new AddressClasses(bands.map((b) => b.rule.dst), device),
  };
}

/** Numbers the bands' matches into priorities (bottom band = 1); a band without matches takes no priority. */
export function numberBands(bands: P4Band[], labels: Labels, expand = new ServiceMatches()): AclEntry[] {
  const perBand = bands.map((b) => ({ band: b, matches: bandMatches(b, labels, expand) })).filter((x) => x.matches.length > 0);
  const entries: AclEntry[] = [];
  let priority = perBand.length;
  for (const { band, matches } of perBand) {
    for (const match of matches) entries.push({ priority, match, action: band.action, origin: band.origin });
    priority--;
  }
  return entries;
}

/** Entries per table of one switch's program. */
export interface TableCounts {
  acl: number;
  lpm: Record<ClassifierName, number>;
}

/** One switch's program, classified and counted but not yet materialised: a refused switch never builds its entries. */
export interface P4Plan {
  bands: P4Band[];
  labels: { src: AddressClasses; dst: AddressClasses };
  counts: TableCounts;
  notes: string[];
  stats: Record<string, number>;
  expand: ServiceMatches;
}

/**
 * A floor on the ACL entries of the bands, from the bands alone: a band
 * whose sides share an address family takes at least one label match, so at
 * least its service matches times its ports. Per policy rule, and the part
 * of no single rule (replies, defaults, control traffic).
 */
export function aclFloor(bands: P4Band[], expand: ServiceMatches): { total: number; byRule: Map<number, number>; shared: number } {
  const byRule = new Map<number, number>();
  let total = 0;
  let shared = 0;
  for (const band of bands) {
    const { rule } = band;
    if (!sidesShareFamily(rule)) continue;
    const n = expand.of(rule.services).length * (band.ports?.length ?? 1);
    total += n;
    if (rule.rule < 0) shared += n;
    else byRule.set(rule.rule, (byRule.get(rule.rule) ?? 0) + n);
  }
  return { total, byRule, shared };
}

/**
 * Plans a switch's program. With the device, a policy whose bands alone
 * already need more ACL entries than the device holds (aclFloor) is refused
 * before its addresses are classified, the costly part of a plan.
 */
export function planProgram(input: BuildInput & { device?: Pick<Device, 'name' | 'capacity' | 'span'> }, resolver = addressResolver(input.ir)): P4Plan {
  const { bands, notes, stats } = buildBands(input, resolver);
  const expand = new ServiceMatches();
  if (input.device) checkAclFloor(input.device, input.policy, aclFloor(bands, expand));
  const labels = classify(bands, input.devicePlacement.device);
  const lpm = Object.fromEntries(CLASSIFIER_TABLES.map((t) => [t, 0])) as Record<ClassifierName, number>;
  for (const side of ['src', 'dst'] as const) for (const family of [4, 6] as const) lpm[classifierName(side, family)] += labels[side].lpm[family].length;
  const acl = bands.reduce((n, b) => n + bandMatchCount(b, labels, expand), 0);
  return { bands, labels, counts: { acl, lpm }, notes, stats, expand };
}

/** The plan's classifier entries and ACL entries. */
export function materialise(plan: P4Plan): P4Program {
  const { labels, counts } = plan;
  const entries = numberBands(plan.bands, labels, plan.expand);
  const classes: ClassEntry[] = [];
  for (const side of ['src', 'dst'] as const) {
    for (const family of [4, 6] as const) {
      for (const c of labels[side].lpm[family]) classes.push({ table: classifierName(side, family), prefix: c.prefix, label: c.label });
    }
  }
  const lpmStats = Object.fromEntries(CLASSIFIER_TABLES.map((t) => [`lpm.${t}`, counts.lpm[t]]));
  return {
    entries,
    classes,
    notes: plan.notes,
    stats: { entries: entries.length, aclEntries: entries.length, lpmEntries: classes.length, ...lpmStats, srcClasses: labels.src.count, dstClasses: labels.dst.count, srcLayered: labels.src.layered, dstLayered: labels.dst.layered, srcLayerBits: labels.src.layerBits, dstLayerBits: labels.dst.layerBits, ...plan.stats },
  };
}

/** The whole program of one switch: classifier entries and ACL entries. */
export function buildAclEntries(input: BuildInput, resolver = addressResolver(input.ir)): P4Program {
  return materialise(planProgram(input, resolver));
}

/** Entries per table of a built program. */
export function countsOf(program: Pick<P4Program, 'entries' | 'classes'>): TableCounts {
  const lpm = Object.fromEntries(CLASSIFIER_TABLES.map((t) => [t, 0])) as Record<ClassifierName, number>;
  for (const c of program.classes) lpm[c.table]++;
  return { acl: program.entries.length, lpm };
}

/**
 * What each policy rule (by index) costs a switch, so that a refusal can say
 * what to change: per rule its ACL entries (all its bands), and per
 * classifier table the prefixes of the address sets it is the first to name
 * on that side (a set several rules share is counted once). Classifier
 * entries are those of the sets' partition, not a sum over sets, so the
 * prefixes rank the sets rather than add up to the table.
 */
export interface RuleCosts {
  acl: Map<number, number>;
  /** ACL entries of no single rule: reverse entries for replies (merged across rules), defaults, control traffic. */
  aclShared: number;
  lpm: Record<ClassifierName, Map<number, number>>;
}

export function ruleCosts(plan: Pick<P4Plan, 'bands' | 'labels' | 'expand'>): RuleCosts {
  const acl = new Map<number, number>();
  const lpm = Object.fromEntries(CLASSIFIER_TABLES.map((t) => [t, new Map<number, number>()])) as RuleCosts['lpm'];
  let aclShared = 0;
  const seen = { src: new Set<string>(), dst: new Set<string>() };
  for (const band of plan.bands) {
    const { rule } = band;
    if (rule.rule < 0) {
      aclShared += bandMatchCount(band, plan.labels, plan.expand);
      continue;
    }
    acl.set(rule.rule, (acl.get(rule.rule) ?? 0) + bandMatchCount(band, plan.labels, plan.expand));
    for (const side of ['src', 'dst'] as const) {
      const set = rule[side];
      if (set.any || seen[side].has(setKey(set))) continue;
      seen[side].add(setKey(set));
      for (const family of [4, 6] as const) {
        const n = (family === 4 ? set.v4 : set.v6).length;
        const costs = lpm[classifierName(side, family)];
        if (n) costs.set(rule.rule, (costs.get(rule.rule) ?? 0) + n);
      }
    }
  }
  return { acl, aclShared, lpm };
}

/** How many of the costliest rules a refusal names. */
const NAMED_RULES = 3;

/** "rule 'web-to-db' (policy.yaml:31:11): 3,200 entries; ..." for the rules that cost a table most. */
function costliest(policy: CodegenInput['policy'], costs: Map<number, number>, unit: string): string {
  const top = [...costs].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, NAMED_RULES);
  return top
    .map(([index, n]) => {
      const rule = policy.rules[index]?.index === index ? policy.rules[index] : policy.rules.find((r) => r.index === index);
      return `rule '${rule?.name ?? index}' (${formatSpan(rule?.span)}): ${n.toLocaleString('en-US')} ${unit}`;
    })
    .join('; ');
}

/** The entries a device's table holds: the pipeline's size, or less when the inventory says so, and where that limit comes from. */
function tableLimit(device: Pick<Device, 'name' | 'capacity'>, table: string, pipelineSize: number, key: 'aclEntries' | 'lpmEntries'): { cap: number; source: string } {
  const inventoryCap = device.capacity?.[key];
  const cap = Math.min(pipelineSize, inventoryCap ?? Number.POSITIVE_INFINITY);
  return { cap, source: inventoryCap !== undefined && inventoryCap < pipelineSize ? `capacity.${key} of ${device.name}` : `the size of table ${table} in p4/weft_acl.p4` };
}

const ACL_HINT = 'merge or remove rules, use fewer port ranges, or enforce on hosts; raise capacity.aclEntries only if the switch really has more entries';

function checkAclFloor(device: Pick<Device, 'name' | 'capacity' | 'span'>, policy: CodegenInput['policy'], floor: ReturnType<typeof aclFloor>): void {
  const { cap, source } = tableLimit(device, 'weft_acl', PIPELINE.size, 'aclEntries');
  const need = floor.total + CLOSING_ENTRIES;
  if (need <= cap) return;
  let most = floor.byRule.size ? `; costliest: ${costliest(policy, floor.byRule, 'entries at least')}` : '';
  if (floor.shared) most += `; at least ${floor.shared.toLocaleString('en-US')} entries for replies, defaults and control traffic`;
  throw new InputError([
    {
      code: CAPACITY_EXCEEDED,
      severity: 'error',
      message: `${device.name}: the policy needs at least ${need} entries in p4 table weft_acl (one per service and port of each rule, before its addresses are classified), more than ${cap} (${source})${most}`,
      span: device.span,
      hint: ACL_HINT,
    },
  ]);
}

/**
 * Refuses a program when one generation of it does not fit the device (any
 * table: the ACL with its closing entries, each classifier), naming each
 * table, the numbers and, with `costsOf`, the rules that cost that table most.
 * Returns a note per table that fits one generation but not two side by
 * side: a change there is not hitless (made in place with all IP dropped
 * meanwhile).
 */
export function checkCapacity(input: Pick<CodegenInput, 'device' | 'policy'>, counts: TableCounts, costsOf?: () => RuleCosts): string[] {
  const { device, policy } = input;
  // Worked out only for a refusal: it walks every band again.
  let costs: RuleCosts | undefined;
  const diagnostics: Diagnostic[] = [];
  const notes: string[] = [];
  const check = (table: string, count: number, extra: number, pipelineSize: number, key: 'aclEntries' | 'lpmEntries', hint: string, costOf: (c: RuleCosts) => Map<number, number>, unit: string): void => {
    const { cap, source } = tableLimit(device, table, pipelineSize, key);
    if (count + extra > cap) {
      const why = extra ? ` (${count} for the policy, ${extra} to drop all IP while a change too big for two generations is made in place)` : '';
      let most = '';
      if (costsOf) {
        costs ??= costsOf();
        const perRule = costOf(costs);
        if (perRule.size) most = `; costliest: ${costliest(policy, perRule, unit)}`;
        if (key === 'aclEntries' && costs.aclShared) most += `; ${costs.aclShared.toLocaleString('en-US')} entries for replies, defaults and control traffic`;
      }
      diagnostics.push({ code: CAPACITY_EXCEEDED, severity: 'error', message: `${device.name}: the policy needs ${count + extra} entries in p4 table ${table}${why}, more than ${cap} (${source})${most}`, span: device.span, hint });
    } else if (2 * count > cap) {
      notes.push(`${table}: ${count} entries per policy generation, room for ${cap} (${source}), not for two: a change on this switch is not hitless, it is made in place with all IP through the switch dropped meanwhile`);
    }
  };
  check('weft_acl', counts.acl, CLOSING_ENTRIES, PIPELINE.size, 'aclEntries', ACL_HINT, (c) => c.acl, 'entries');
  for (const t of CLASSIFIER_TABLES) {
    const unit = `${t.endsWith('v4') ? 'IPv4' : 'IPv6'} prefixes in its ${t.includes('_src_') ? 'source' : 'destination'} set`;
    check(t, counts.lpm[t], 0, PIPELINE.classifiers[t].size, 'lpmEntries', 'use groups with fewer, larger prefixes (fewer except holes and single addresses), or enforce on hosts; raise capacity.lpmEntries only if the switch really has more LPM entries', (c) => c.lpm[t], unit);
  }
  if (diagnostics.length) throw new InputError(diagnostics);
  return notes;
}

const compareBig = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

/** entries.json: classifier INSERTs first (by table, then prefix), then ACL INSERTs by priority (highest first), then by match. */
export function entriesDocument(program: Pick<P4Program, 'entries' | 'classes'>, deviceId: number): EntriesDocument {
  const order = new Map<ClassifierName, number>(CLASSIFIER_TABLES.map((t, i) => [t, i]));
  const classes = [...program.classes].sort((a, b) => order.get(a.table)! - order.get(b.table)! || compareBig(a.prefix.addr, b.prefix.addr) || a.prefix.len - b.prefix.len);
  const acl = program.entries.map((e) => ({ type: 'INSERT' as const, entity: { tableEntry: entryToJson(e) } }));
  const keyOf = (u: (typeof acl)[number]): string => JSON.stringify(u.entity.tableEntry.match);
  acl.sort((a, b) => (b.entity.tableEntry.priority ?? 0) - (a.entity.tableEntry.priority ?? 0) || (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  return { deviceId: String(deviceId), updates: [...classes.map((c) => ({ type: 'INSERT' as const, entity: { tableEntry: classEntryToJson(c) } })), ...acl] };
}
