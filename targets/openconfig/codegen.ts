// OpenConfig codegen: the policy as ordered openconfig-acl entries (the lowest
// matching sequence-id wins), one ACL_IPV4 and one ACL_IPV6 acl-set per mode,
// bound on ingress of the ports the placement gives this switch (uplinks stay
// unbound: their traffic was checked at its source).
//
//   control   (every ACL_IPV6 set, first): IPv6 neighbour discovery always
//             passes, as on the P4 target; without it an endpoint behind an
//             exact port cannot resolve its peers.
//   exact     (ports facing unmanaged endpoints): reply entries first (reversed
//             allow cells: TCP with ACK set, UDP from the service port, ICMP
//             echo replies), then every rule in order narrowed to the
//             unmanaged endpoints' own sources, then the default action for
//             them and a drop for every other (spoofed) source.
//   prefilter (host-facing ports): reply entries first (any TCP segment with
//             ACK, any echo reply, and while a deny can match UDP, UDP from
//             the service ports of allow rules back to their sources), then
//             deny rules, cheapest first while they fit capacity.aclEntries,
//             plus the allow rules a kept deny overlaps (so first-match order
//             still protects them), then a catch-all ACCEPT. It only ever
//             drops packets the stateful reference denies: replies of allowed
//             connections pass.
//
// Entries are written through entries.ts: on a device with
// openconfig-defined-sets (capabilities.definedSets, the default) an entry
// over several prefixes or port ranges names a prefix-set or port-set, so the
// configuration is O(rules + prefixes); elsewhere it is expanded. The device
// cost is the expansion either way, and that is what capacity.aclEntries
// bounds. Sizes are counted before entries are written: a rule over two large
// selector groups is a cross product of prefixes, and an exact set that does
// not fit is an error naming the count rather than a long wait.

import { DiagnosticBag, UnsupportedError } from '../../orchestrator/diagnostics.ts';
import { type Cidr, type Family } from '../../orchestrator/net/ip.ts';
import { IPPROTO, type Policy, type PortMatch, type Rule } from '../../orchestrator/policy/model.ts';
import type { Fabric } from '../../inventory/model.ts';
import type { Ir } from '../../orchestrator/ir/model.ts';
import type { DevicePlacement } from '../../orchestrator/placement/model.ts';
import { CAPACITY_EXCEEDED, type CodegenInput, type EnforcementMode } from '../contract.ts';
import {
  addressResolver,
  type AddressResolver,
  decidingRules,
  deriveSwitchRules,
  exactReplyRules,
  FULL_PORTS,
  mergeRanges,
  ND_TYPES,
  prefixesOf,
  servicesOf,
  servicesOverlap,
  setsOverlap,
  type AddressSet,
  type SwitchRule,
} from '../switch-common/index.ts';
import {
  ICMPV4_CODES,
  ICMPV4_TYPES,
  ICMPV6_CODES,
  ICMPV6_TYPES,
  type AclConfig,
  type AclInterface,
  type AclSet,
  type AclType,
  type PortRange,
} from './model.ts';
import { ANY_SIDE, EntryList, SetBook, templateCost, type Fields, type Side, type Template } from './entries.ts';

export const DEFAULT_ACL_CAPACITY = 1024;

/** One header match of a rule's ports: fields plus a destination port range (any when absent). */
interface PortFields {
  fields: Fields;
  dstPort?: PortRange;
}

export interface AclPlan {
  config: AclConfig;
  notes: string[];
  stats: Record<string, number>;
}

/**
 * The mode of a switch port: exact facing unmanaged endpoints,
 * prefilter facing hosts; uplinks carry traffic already checked at its
 * source and stay unbound.
 */
export function portMode(role: DevicePlacement['interfaces'][number]['role']): EnforcementMode | undefined {
  switch (role) {
    case 'unmanaged-endpoint':
      return 'exact';
    case 'host':
    case 'endpoint':
      return 'prefilter';
    case 'uplink':
      return undefined;
    default: {
      const never: never = role;
      throw new Error(`unhandled port role ${JSON.stringify(never)}`);
    }
  }
}

export function setName(mode: EnforcementMode, type: AclType): string {
  return `weft-${mode}-${type === 'ACL_IPV4' ? 'ipv4' : 'ipv6'}`;
}

function rulePorts(rule: Rule): PortMatch[] {
  return rule.ports.length > 0 ? rule.ports : [{ protocol: 'any', span: rule.span }];
}

function fullRange(lo: number, hi: number): boolean {
  return lo === 0 && hi === 65535;
}

/**
 * A port match in one family: `fields` (a union of entries) matches exactly
 * the flows of the match that the openconfig model can name; when `complete`
 * is false the rest are ICMP messages outside the model (icmpInModel), and
 * `cover` is a wider single entry that contains the whole match.
 */
interface Expressed {
  fields: PortFields[];
  complete: boolean;
  cover: PortFields;
  /** The remainder lies in the other family's ICMP (no container can name it). */
  crossFamily: boolean;
  why: string;
}

function express(pm: PortMatch, family: Family): Expressed {
  const done = (f: Fields, dstPort?: PortRange): Expressed => {
    const pf: PortFields = dstPort ? { fields: f, dstPort } : { fields: f };
    return { fields: [pf], complete: true, cover: pf, crossFamily: false, why: '' };
  };
  switch (pm.protocol) {
    case 'any':
      return done({});
    case 'tcp':
    case 'udp':
      return done({ protocol: IPPROTO[pm.protocol] }, fullRange(pm.lo, pm.hi) ? undefined : { lo: pm.lo, hi: pm.hi });
    case 'icmp':
    case 'icmpv6': {
      const protocol = IPPROTO[pm.protocol];
      if (pm.type === undefined && pm.code === undefined) return done({ protocol });
      const what = `${pm.protocol} type ${pm.type ?? 'any'} code ${pm.code ?? 'any'} in IPv${family}`;
      const native = pm.protocol === 'icmp' ? family === 4 : family === 6;
      if (!native) {
        return { fields: [], complete: false, cover: { fields: { protocol } }, crossFamily: true, why: `${what}: the ACL_IPV${family} icmp container names ${family === 4 ? 'ICMPv4' : 'ICMPv6'} only` };
      }
      const types = family === 4 ? ICMPV4_TYPES : ICMPV6_TYPES;
      const codes = family === 4 ? ICMPV4_CODES : ICMPV6_CODES;
      const partial = (fields: Fields[], cover: Fields, why: string): Expressed => ({
        fields: fields.map((f) => ({ fields: f })),
        complete: false,
        cover: { fields: cover },
        crossFamily: false,
        why: `${what}: ${why}`,
      });
      if (pm.type === undefined) {
        const code = pm.code as number;
        const fields = Object.keys(types)
          .map(Number)
          .filter((t) => codes[`${t}/${code}`] !== undefined)
          .map((t) => ({ protocol, icmp: { type: t, code } }));
        return partial(fields, { protocol }, `a code without a type is named per type, and only types with an identity for code ${code}`);
      }
      if (types[pm.type] === undefined) return partial([], { protocol }, `no openconfig-icmpv${family}-types identity for type ${pm.type}`);
      if (pm.code === undefined) return done({ protocol, icmp: { type: pm.type } });
      if (codes[`${pm.type}/${pm.code}`] === undefined) {
        return partial([], { protocol, icmp: { type: pm.type } }, `no openconfig-icmpv${family}-types identity for code ${pm.code}`);
      }
      return done({ protocol, icmp: { type: pm.type, code: pm.code } });
    }
    default: {
      const never: never = pm;
      throw new Error(`unhandled port match ${JSON.stringify(never)}`);
    }
  }
}

/**
 * The entries for a match the model cannot name completely. Prefilter: an
 * allow widens, a deny keeps only what it can name (never drop more). Exact:
 * an allow keeps what it can name and a cross-family deny widens to its
 * protocol, so the unnameable ICMP messages are dropped (fail closed); a deny
 * that would have to widen over nameable messages cannot be exact.
 */
function incompleteFields(ex: Expressed, rule: Rule, mode: EnforcementMode, notes: Set<string>): PortFields[] {
  if (mode === 'prefilter') {
    if (rule.action === 'allow') {
      notes.add(`prefilter: rule ${rule.name}: ${ex.why}; the allow is widened`);
      return [ex.cover];
    }
    notes.add(`prefilter: rule ${rule.name}: ${ex.why}; the rest of the deny is left to the hosts`);
    return ex.fields;
  }
  if (rule.action === 'allow') {
    notes.add(`exact: rule ${rule.name}: ${ex.why}; those messages are dropped (fail closed)`);
    return ex.fields;
  }
  if (ex.crossFamily) {
    notes.add(`exact: rule ${rule.name}: ${ex.why}; the deny covers the whole protocol (fail closed)`);
    return [ex.cover];
  }
  throw new UnsupportedError('openconfig', 'icmp match', `rule ${rule.name}: ${ex.why} (an exact deny cannot be widened; name a type and code openconfig has an identity for)`);
}

function addressList(book: AddressResolver, ids: Set<number> | undefined, family: Family): Side {
  if (ids === undefined) return ANY_SIDE;
  return book.cover(family, ids);
}

/**
 * One rule's entries in one family, not yet written out, so sizes are known
 * before anything is materialised (a rule over two large selector groups can
 * need millions of device entries).
 */
interface Block {
  rule: Rule;
  family: Family;
  templates: Template[];
}

function blockSize(b: Block): number {
  return b.templates.reduce((n, t) => n + templateCost(t), 0);
}

/** Port matches with the same header fields become one template over their destination ranges. */
function groupPorts(list: PortFields[]): { fields: Fields; dstPorts?: PortRange[] }[] {
  const groups = new Map<string, { fields: Fields; ranges: PortRange[]; any: boolean }>();
  for (const pf of list) {
    const key = JSON.stringify(pf.fields);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { fields: pf.fields, ranges: [], any: false }));
    if (pf.dstPort) g.ranges.push(pf.dstPort);
    else g.any = true;
  }
  return [...groups.values()].map((g) => (g.any ? { fields: g.fields } : { fields: g.fields, dstPorts: mergeRanges(g.ranges) }));
}

/** A readable stem for the prefix-set of a rule side: its group names. */
function peerStem(peers: Rule['from']): string {
  return peers.map((p) => (p.kind === 'group' ? p.name : 'any')).join('+');
}

/**
 * A rule's source identities narrowed to the sources behind this switch's
 * bound ports, one set object per distinct source set, so the resolver's
 * covers are computed once per set and family. Each intersection walks the
 * smaller side: the work follows the switch's own sources, not every identity.
 */
class LocalSources {
  private readonly narrowed = new WeakMap<Set<number>, Set<number>>();
  /** Shared by every rule with no local source: most rules at a switch. */
  private static readonly NONE: Set<number> = new Set();

  constructor(readonly ids: Set<number>) {}

  of(from: Set<number> | undefined): Set<number> {
    if (from === undefined) return this.ids;
    let hit = this.narrowed.get(from);
    if (!hit) {
      hit = new Set<number>();
      const [small, big] = from.size <= this.ids.size ? [from, this.ids] : [this.ids, from];
      for (const id of small) if (big.has(id)) hit.add(id);
      if (hit.size === 0) hit = LocalSources.NONE;
      this.narrowed.set(from, hit);
    }
    return hit;
  }
}

function ruleBlock(
  book: AddressResolver,
  rule: Rule,
  family: Family,
  mode: EnforcementMode,
  sources: LocalSources,
  notes: Set<string>,
): Block | undefined {
  const from = book.identitiesOf(rule.from);
  // Narrowing to the sources behind the bound ports (see buildSet) is required
  // for exact allows (anti-spoofing) and would be unsafe for prefilter allows
  // (a later deny must not catch what an earlier allow protected); a deny may
  // take whichever of the two needs fewer entries. With no local source, an
  // exact allow or a deny needs no entries at all.
  const mine = rule.action === 'deny' || mode === 'exact' ? sources.of(from) : undefined;
  if (mine?.size === 0) return undefined;
  let srcs: Side;
  let local = false;
  if (mine === undefined) srcs = addressList(book, from, family);
  else if (rule.action === 'allow') {
    local = true;
    srcs = addressList(book, mine, family);
  } else {
    const whole = addressList(book, from, family);
    const here = addressList(book, mine, family);
    local = here.length <= whole.length;
    srcs = whole.length < here.length ? whole : here;
  }
  if (srcs.length === 0) return undefined;
  const dsts = addressList(book, book.identitiesOf(rule.to), family);
  if (dsts.length === 0) return undefined;
  const fields: PortFields[] = [];
  for (const pm of rulePorts(rule)) {
    const ex = express(pm, family);
    fields.push(...(ex.complete ? ex.fields : incompleteFields(ex, rule, mode, notes)));
  }
  if (fields.length === 0) return undefined;
  const templates = groupPorts(fields).map(
    (g): Template => ({
      description: `rule ${rule.name}`,
      srcs,
      dsts,
      fields: g.fields,
      ...(g.dstPorts ? { dstPorts: g.dstPorts } : {}),
      action: rule.action === 'allow' ? 'ACCEPT' : 'DROP',
      log: rule.log,
      names: { src: `${peerStem(rule.from)}${local ? '-local' : ''}`, dst: peerStem(rule.to), dstPorts: `${rule.name}-dst` },
    }),
  );
  return { rule, family, templates };
}

function writeBlock(out: EntryList, b: Block): void {
  for (const t of b.templates) out.add(t);
}

/**
 * Reply templates from switch-common's reverse rules (the stateless reply
 * approximation, targets/switch-common/rules.ts), written in this set's
 * family: exactReplyRules at exact ports, the prefilter reverse rules of
 * deriveSwitchRules in a prefilter. An echo reply the family's icmp container
 * cannot name (the other family's ICMP) is left out at an exact port (fail
 * closed) and passes as its whole protocol in a prefilter (which may pass more).
 */
function reverseTemplates(policy: Policy, reverse: SwitchRule[], family: Family, mode: EnforcementMode): Template[] {
  const out: Template[] = [];
  for (const r of reverse) {
    const srcs = sideOf(r.src, family);
    const dsts = sideOf(r.dst, family);
    if (srcs.length === 0 || dsts.length === 0) continue;
    const ruleName = r.rule >= 0 ? policy.rules[r.rule].name : undefined;
    // Exact reply rules are named "reply of <rules>"; verify tells reply entries by that prefix.
    const description = ruleName !== undefined ? `reply of ${ruleName}` : r.name.startsWith('reply of ') ? r.name : `reply: ${r.name}`;
    for (const s of r.services) {
      let fields: Fields;
      let ports: { srcPorts?: PortRange[]; dstPorts?: PortRange[] } = {};
      switch (s.kind) {
        case 'any':
          fields = {};
          break;
        case 'ports':
          fields = s.tcpAck ? { protocol: s.proto, tcpFlags: { match: 'ALL', flags: ['TCP_ACK'] } } : { protocol: s.proto };
          ports = { ...portsOrAny('srcPorts', s.src), ...portsOrAny('dstPorts', s.dst) };
          break;
        case 'icmp': {
          const native = s.proto === (family === 4 ? 1 : 58);
          const types = family === 4 ? ICMPV4_TYPES : ICMPV6_TYPES;
          const codes = family === 4 ? ICMPV4_CODES : ICMPV6_CODES;
          const named = native && (s.type === undefined || types[s.type] !== undefined) && (s.code === undefined || codes[`${s.type}/${s.code}`] !== undefined);
          if (!named && mode === 'exact') continue;
          fields = named ? { protocol: s.proto, ...(s.type === undefined ? {} : { icmp: { type: s.type, ...(s.code === undefined ? {} : { code: s.code }) } }) } : { protocol: s.proto };
          break;
        }
        default: {
          const never: never = s;
          throw new Error(`unhandled service ${JSON.stringify(never)}`);
        }
      }
      const stem = ruleName ?? r.name.replace(/^reply of /, '');
      out.push({ description, srcs, dsts, fields, ...ports, action: 'ACCEPT', names: { src: `reply-${stem}-src`, dst: `reply-${stem}-dst`, srcPorts: `reply-${stem}` } });
    }
  }
  return out;
}

/** One family's prefixes of an address set ([undefined] for any address). */
function sideOf(set: AddressSet, family: Family): Side {
  return set.any ? ANY_SIDE : prefixesOf(set, family);
}

/** Port ranges of a template side; none when they cover every port. */
function portsOrAny(key: 'srcPorts' | 'dstPorts', ranges: PortRange[]): { srcPorts?: PortRange[]; dstPorts?: PortRange[] } {
  return ranges.length === 1 && fullRange(ranges[0].lo, ranges[0].hi) ? {} : { [key]: ranges };
}

/** Identities of the endpoints on hosts (or behind their DPUs) attached to this switch's host ports. */
function hostSideIdentities(input: CodegenInput, plan: PolicyPlan): Set<number> {
  const { fabric, device, devicePlacement } = input;
  const hostPorts = new Set(devicePlacement.interfaces.filter((i) => i.role === 'host').map((i) => i.name));
  const out = new Set<number>();
  const take = (host: string): void => {
    for (const id of plan.identitiesOnHost(host)) out.add(id);
  };
  for (const l of fabric.links) {
    for (const [me, peer] of [[l.a, l.b], [l.b, l.a]]) {
      if (me.device !== device.name || !hostPorts.has(me.port)) continue;
      take(peer.device);
      const attachedTo = plan.attachedTo(peer.device);
      if (attachedTo !== undefined) take(attachedTo);
    }
  }
  return out;
}

/**
 * What every switch of one compile shares, built once per IR: the rules that
 * decide a flow, the prefilter reply templates (they do not depend on the
 * switch), and each allow rule indexed by source identity for the prefilter's
 * overlap checks. A switch's own work then follows the rules and prefixes it
 * writes, not the policy's identities.
 */
interface PolicyPlan {
  policy: Policy;
  fabric: Fabric;
  /** Identities of the endpoints on one host (indexed once per compile, on first use). */
  identitiesOnHost(host: string): Set<number>;
  /** The host a device (a DPU) is attached to. */
  attachedTo(device: string): string | undefined;
  rules: Rule[];
  prefilterReplies: Record<Family, Template[]>;
  /**
   * Positions (in `rules`) of the allow rules before the deny at position
   * `j` that overlap it, ascending: what first-match order needs kept ahead
   * of it. The same at every switch, so computed once per deny and compile.
   */
  overlappingAllows(j: number): number[];
}

const policyPlans = new WeakMap<Ir, PolicyPlan>();

function policyPlan(policy: Policy, fabric: Fabric, ir: Ir, book: AddressResolver): PolicyPlan {
  const hit = policyPlans.get(ir);
  if (hit && hit.policy === policy && hit.fabric === fabric) return hit;
  let onHost: Map<string, Set<number>> | undefined;
  const identitiesOnHost = (host: string): Set<number> => {
    if (!onHost) {
      onHost = new Map();
      for (const e of fabric.endpoints) {
        if (e.host === undefined) continue;
        let ids = onHost.get(e.host);
        if (!ids) onHost.set(e.host, (ids = new Set()));
        for (const a of e.addresses) ids.add(book.identityOfAddress(a));
      }
    }
    return onHost.get(host) ?? new Set();
  };
  const attached = new Map(fabric.devices.flatMap((d) => (d.attachedTo ? [[d.name, d.attachedTo] as const] : [])));
  const rules = decidingRules(policy, ir);
  const reverse = deriveSwitchRules(policy, ir, { mode: 'prefilter', resolver: book }).reverse;
  const peers = rules.map((r) => ({ from: book.identitiesOf(r.from), to: book.identitiesOf(r.to), services: servicesOf(r.ports) }));
  const overlaps = (i: number, j: number): boolean => {
    const a = peers[i];
    const d = peers[j];
    return a.services.some((p) => d.services.some((q) => servicesOverlap(p, q))) && setsOverlap(a.from, d.from) && setsOverlap(a.to, d.to);
  };
  // Allows by source identity, so a deny only checks the allows that can
  // share a source with it (overlaps() needs that), not every earlier rule.
  const allows: number[] = [];
  const allowsFrom = new Map<number, number[]>();
  rules.forEach((r, i) => {
    if (r.action !== 'allow') return;
    allows.push(i);
    for (const id of peers[i].from ?? []) {
      const l = allowsFrom.get(id);
      if (l) l.push(i);
      else allowsFrom.set(id, [i]);
    }
  });
  const anyFrom = allows.filter((i) => peers[i].from === undefined);
  const earlierAllows = (j: number): number[] => {
    const from = peers[j].from;
    if (from === undefined) return allows.filter((i) => i < j);
    const out = new Set(anyFrom.filter((i) => i < j));
    for (const id of from) for (const i of allowsFrom.get(id) ?? []) if (i < j) out.add(i);
    return [...out].sort((a, b) => a - b);
  };
  const overlapping = new Map<number, number[]>();
  const plan: PolicyPlan = {
    policy,
    fabric,
    identitiesOnHost,
    attachedTo: (device) => attached.get(device),
    rules,
    prefilterReplies: { 4: reverseTemplates(policy, reverse, 4, 'prefilter'), 6: reverseTemplates(policy, reverse, 6, 'prefilter') },
    overlappingAllows: (j) => {
      let hit = overlapping.get(j);
      if (!hit) overlapping.set(j, (hit = earlierAllows(j).filter((i) => overlaps(i, j))));
      return hit;
    },
  };
  policyPlans.set(ir, plan);
  return plan;
}

/**
 * The prefilter's rules: deny rules, cheapest first, while they fit the
 * budget together with the allow rules that must stay ahead of them (an
 * earlier allow that overlaps a kept deny). A deny left out only means the
 * hosts drop those flows instead; the result stays in policy order.
 */
function prefilterRules(plan: PolicyPlan, cost: (r: Rule) => number, budget: number): { keep: Rule[]; left: Rule[] } {
  const { rules } = plan;
  const denies = rules.flatMap((r, i) => (r.action === 'deny' ? [{ r, i, c: cost(r) }] : [])).sort((x, y) => x.c - y.c || x.i - y.i);
  const kept = new Set<number>();
  const left: Rule[] = [];
  let used = 0;
  for (const d of denies) {
    // A deny with no entries here (no local source, say) needs nothing kept.
    if (d.c === 0) continue;
    const needed: number[] = [];
    let extra = d.c;
    for (const i of plan.overlappingAllows(d.i)) {
      if (extra + used > budget) break;
      if (kept.has(i)) continue;
      needed.push(i);
      extra += cost(rules[i]);
    }
    if (used + extra > budget) {
      left.push(d.r);
      continue;
    }
    used += extra;
    kept.add(d.i);
    for (const i of needed) kept.add(i);
  }
  return { keep: rules.filter((_, i) => kept.has(i)), left };
}

function setOf(input: CodegenInput, mode: EnforcementMode, type: AclType, entries: AclSet['entries']): AclSet {
  return {
    name: setName(mode, type),
    type,
    // No policy digest: a switch whose entries an edit did not change keeps
    // the same configuration, so a rollout leaves it alone.
    description: `weft ${mode} policy ${input.ir.policyName}`,
    entries,
  };
}

/**
 * Refuses a switch over capacity before its entries are materialised, naming
 * the numbers and the rules (or reply and control entries) that cost most.
 */
function capacityError(device: CodegenInput['device'], what: string, total: number, capacity: number, byOrigin: Map<string, number>): never {
  const top = [...byOrigin].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 3);
  const largest = top.map(([d, n]) => `${d}: ${n}`).join(', ');
  const bag = new DiagnosticBag();
  bag.error(
    CAPACITY_EXCEEDED,
    `compile ${device.name}: ${total} openconfig acl entries exceed capacity.aclEntries ${capacity} (${what}; largest: ${largest}${byOrigin.size > 3 ? `, and ${byOrigin.size - 3} more` : ''})`,
    device.span,
    `raise capacity.aclEntries to at least ${total} if the switch has room, or narrow the rules placed on it`,
  );
  bag.throwIfErrors();
  throw new Error('unreachable: the bag holds an error');
}

/** IPv6 neighbour discovery, permitted ahead of everything else in every ACL_IPV6 set. */
const CONTROL_TEMPLATES: Template[] = ND_TYPES.map((type) => ({
  description: `control: neighbour discovery (${ICMPV6_TYPES[type].toLowerCase()})`,
  fields: { protocol: 58, icmp: { type } },
  action: 'ACCEPT',
}));

/** Device entries by what they come from (a rule, its replies, control), to name what fills a switch. */
function costByOrigin(templates: Template[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of templates) out.set(t.description, (out.get(t.description) ?? 0) + templateCost(t));
  return out;
}

/** Address pairs one UDP reply template of a prefilter may take before it widens a side to any. */
const PREFILTER_REPLY_PAIRS = 64;

/**
 * Prefilter reply templates, written ahead of the denies (a reply of an
 * allowed connection must never be dropped, and a deny can match it): the
 * reverse rules fitted to the room. Where a UDP reply's address pairs are
 * many, a side is widened to any; with `pairs` 0 every UDP reply passes from
 * the allowed service ports with any address (a prefilter may pass more).
 */
function prefilterReplyTemplates(templates: Template[], notes: Set<string>, pairs = PREFILTER_REPLY_PAIRS): Template[] {
  const udp = templates.filter((t) => t.fields?.protocol === 17);
  const out = templates.filter((t) => t.fields?.protocol !== 17);
  if (pairs === 0) {
    const anyPort = udp.some((t) => t.srcPorts === undefined);
    const all = anyPort ? [] : mergeRanges(udp.flatMap((t) => t.srcPorts ?? []));
    if (udp.length) {
      notes.add('prefilter: udp replies of allow rules are passed from their service ports with any address, to fit capacity.aclEntries');
      out.push({ description: 'reply: udp from allowed service ports', fields: { protocol: 17 }, ...portsOrAny('srcPorts', anyPort ? FULL_PORTS : all), action: 'ACCEPT', names: { srcPorts: 'reply-udp' } });
    }
    return out;
  }
  for (const t of udp) {
    const from = t.srcs ?? ANY_SIDE;
    const to = t.dsts ?? ANY_SIDE;
    const choices: [Side, Side][] = [
      [from, to],
      [from, ANY_SIDE],
      [ANY_SIDE, to],
      [ANY_SIDE, ANY_SIDE],
    ];
    const [srcs, dsts] = choices.find(([a, b]) => a.length * b.length <= pairs) ?? choices[3];
    if (srcs !== from || dsts !== to) notes.add(`prefilter: ${t.description} (udp) passes with ${srcs === from ? 'any destination' : dsts === to ? 'any source' : 'any address'} (${from.length} x ${to.length} prefix pairs)`);
    out.push({ ...t, srcs, dsts });
  }
  return out;
}

/** The whole acl configuration of one switch, with notes and sizes. Throws InputError over capacity. */
export function planAcl(input: CodegenInput): AclPlan {
  const { policy, ir, device, devicePlacement } = input;
  const book = addressResolver(ir);
  const plan = policyPlan(policy, input.fabric, ir, book);
  const notes = new Set<string>();
  // Rules that win no cell are never a first match: they need no entries.
  const rules = plan.rules;
  const shadowed = policy.rules.length - rules.length;
  if (shadowed > 0) notes.add(`${shadowed} rule(s) never decide a flow (shadowed or empty groups): no entries`);
  const capacity = device.capacity?.aclEntries ?? DEFAULT_ACL_CAPACITY;

  const ports = devicePlacement.interfaces.flatMap((i) => {
    const mode = portMode(i.role);
    return mode ? [{ name: i.name, mode }] : [];
  });
  const modes = new Set(ports.map((p) => p.mode));
  const types: AclType[] = ['ACL_IPV4', 'ACL_IPV6'];
  const familyOf = (t: AclType): Family => (t === 'ACL_IPV4' ? 4 : 6);
  // The acl-sets in order; their entries are materialised only once the total fits.
  const lists: { mode: EnforcementMode; type: AclType; list: EntryList }[] = [];
  const usedSoFar = (): number => lists.reduce((n, l) => n + l.list.cost, 0);
  // One book for the whole device: sets with the same members are shared across acl-sets.
  const setBook = device.capabilities?.definedSets === false ? undefined : new SetBook();
  const newList = (family: Family): EntryList => new EntryList(family, setBook);
  let replies = 0;

  if (modes.has('exact')) {
    // Exact: the unmanaged endpoints' identities are the only sources; the
    // rest is dropped as spoofed.
    const local = new LocalSources(new Set(devicePlacement.localIdentities));
    const exactReverse = exactReplyRules(ir, devicePlacement.localIdentities, book);
    // Planned as templates and counted before anything is written: a refusal costs no entries and no set names.
    const exact = types.map((type) => {
      const family = familyOf(type);
      const reply = reverseTemplates(policy, exactReverse, family, 'exact');
      replies += reply.reduce((n, t) => n + templateCost(t), 0);
      const head = [...(family === 6 ? CONTROL_TEMPLATES : []), ...reply];
      const body = rules.flatMap((r) => ruleBlock(book, r, family, 'exact', local, notes)?.templates ?? []);
      if (ir.defaultAction === 'allow') body.push({ description: 'default allow', srcs: book.cover(family, local.ids), action: 'ACCEPT', names: { src: 'local' } });
      body.push({ description: ir.defaultAction === 'allow' ? 'drop spoofed sources' : 'default deny', action: 'DROP' });
      return { type, family, head, body };
    });
    const planned = exact.flatMap((x) => [...x.head, ...x.body]);
    const size = planned.reduce((n, t) => n + templateCost(t), 0);
    if (size > capacity) capacityError(device, 'exact acl-sets alone', size, capacity, costByOrigin(planned));
    // Both families' heads first, then their rules: sets are named in that order.
    const written = exact.map(({ type, family, head }) => {
      const list = newList(family);
      for (const t of head) list.add(t);
      lists.push({ mode: 'exact', type, list });
      return list;
    });
    exact.forEach(({ body }, k) => {
      for (const t of body) written[k].add(t);
    });
    notes.add('exact ports admit only source addresses of the endpoints behind this switch\'s unmanaged ports (anti-spoofing); the policy decides the rest');
    notes.add(
      'exact ports are stateless: replies pass by reverse entries (TCP: ACK set; UDP: source port; ICMP: echo reply), ' +
        'so a reply-shaped packet of a connection that was never opened passes too',
    );
    if (ir.defaultAction === 'allow') notes.add('exact ports: replies of flows allowed only by the default action get no reverse entries');
  }

  if (modes.has('prefilter')) {
    // Prefilter: denies narrowed to the sources behind the host ports when
    // that is smaller (dropping less is always allowed).
    const sources = new LocalSources(hostSideIdentities(input, plan));
    const blocks = new Map<number, Block[]>();
    const blocksOf = (r: Rule): Block[] => {
      let b = blocks.get(r.index);
      if (!b) blocks.set(r.index, (b = types.flatMap((t) => ruleBlock(book, r, familyOf(t), 'prefilter', sources, notes) ?? [])));
      return b;
    };
    const cost = (r: Rule): number => blocksOf(r).reduce((n, b) => n + blockSize(b), 0);
    // Control and reply entries first; where they would take more than half
    // the room, UDP replies lose their addresses (a prefilter may pass more).
    const headsOf = (pairs?: number): { templates: Record<Family, Template[]>; cost: number; notes: Set<string> } => {
      const why = new Set<string>();
      const templates = { 4: prefilterReplyTemplates(plan.prefilterReplies[4], why, pairs), 6: prefilterReplyTemplates(plan.prefilterReplies[6], why, pairs) };
      const cost = ND_TYPES.length + [...templates[4], ...templates[6]].reduce((n, t) => n + templateCost(t), 0);
      return { templates, cost, notes: why };
    };
    const room = capacity - usedSoFar();
    let heads = headsOf();
    if (heads.cost > room / 2) heads = headsOf(0);
    for (const n of heads.notes) notes.add(n);
    const { keep, left } = prefilterRules(plan, cost, room - heads.cost - types.length);
    if (left.length > 0) {
      notes.add(
        `prefilter: ${left.length} deny rule(s) left to the hosts to fit capacity.aclEntries ${capacity} ` +
          `(${left.slice(0, 3).map((r) => `${r.name}: ${cost(r)} entries`).join(', ')}${left.length > 3 ? ', ...' : ''})`,
      );
    }
    const prefilter = types.map((type) => {
      const family = familyOf(type);
      const list = newList(family);
      for (const t of family === 6 ? CONTROL_TEMPLATES : []) list.add(t);
      for (const t of heads.templates[family]) list.add(t);
      lists.push({ mode: 'prefilter', type, list });
      return { family, list };
    });
    for (const { family, list } of prefilter) {
      for (const r of keep) for (const b of blocksOf(r)) if (b.family === family) writeBlock(list, b);
      list.add({ description: 'prefilter: pass the rest to the hosts', action: 'ACCEPT' });
    }
  }

  const interfaces: AclInterface[] = ports.map((p) => ({
    id: p.name,
    iface: p.name,
    ingress: types.map((type) => ({ setName: setName(p.mode, type), type })),
  }));
  if (interfaces.length === 0) notes.add('no host or unmanaged-endpoint ports (uplinks only): no acl-set is bound, traffic is checked at its source');

  // Device entries (the expansion, what capacity bounds) per family, counted before any entry is materialised.
  const count = (t: AclType): number => lists.reduce((n, l) => n + (l.type === t ? l.list.cost : 0), 0);
  const total = count('ACL_IPV4') + count('ACL_IPV6');
  if (total > capacity) capacityError(device, `ipv4 ${count('ACL_IPV4')}, ipv6 ${count('ACL_IPV6')}`, total, capacity, costByOrigin(lists.flatMap((l) => l.list.templates)));
  const sets = lists.map((l) => setOf(input, l.mode, l.type, l.list.entries));
  const definedSets = setBook && setBook.defined.prefixSets.length + setBook.defined.portSets.length > 0 ? setBook.defined : undefined;
  if (setBook) {
    notes.add(
      definedSets
        ? `acl entries reference openconfig-defined-sets (${definedSets.prefixSets.length} prefix-sets, ${definedSets.portSets.length} port-sets); the device expands them to ${total} entries`
        : 'no entry needed a defined set: every match is one prefix or port range',
    );
  } else notes.add('capabilities.definedSets is false: acl entries are expanded (one per prefix and port combination)');
  return {
    config: { sets, interfaces, ...(definedSets ? { definedSets } : {}) },
    notes: [...notes],
    stats: {
      entries: total,
      ipv4Entries: count('ACL_IPV4'),
      ipv6Entries: count('ACL_IPV6'),
      configEntries: sets.reduce((n, s) => n + s.entries.length, 0),
      prefixSets: definedSets?.prefixSets.length ?? 0,
      portSets: definedSets?.portSets.length ?? 0,
      replyEntries: replies,
      aclSets: sets.length,
      boundInterfaces: interfaces.length,
      capacity,
    },
  };
}
