// The ordered rule list a priority-ordered switch ACL is built from, shared
// by the P4 and OpenConfig targets. First match wins in the policy and the
// highest priority wins in a TCAM, so each policy rule becomes one band of
// entries in policy order. What is dropped, and why it is safe:
//   - rules that decide no flow (fully shadowed; analysis/facts.ts): every
//     flow they match is decided by an earlier rule;
//   - verdict-neutral rules: a rule whose action equals the fallback (the
//     policy default in exact mode, permit in prefilter mode) and that no
//     later kept rule of the other action overlaps: without it, its flows
//     reach later rules of the same action or the fallback, same verdict.
//     This covers trailing default-action rules and, in prefilter mode,
//     every allow rule after the last deny rule.
// The stateless reply approximation of both switch targets (README, "Replies
// on switches"), defined once here: allow rules yield reverse permits for
// replies. At exact ports (exactReplyRules) only for the flows whose first
// match is an allow and whose destination is behind the port: TCP replies
// with ACK set from the allowed service ports to any address, UDP replies
// from the allowed service ports back to the flow's sources, echo replies
// back to them; in a prefilter (deriveSwitchRules) UDP replies from the
// service port, plus any TCP segment with ACK set and any echo reply (a
// prefilter may pass more than the policy). All of them only ever permit,
// so a reply-shaped packet of a connection never opened can pass: verify
// counts it as an approximation.

import { IPPROTO, type Policy, type PortMatch, type Rule } from '../../orchestrator/policy/model.ts';
import type { Ir } from '../../orchestrator/ir/model.ts';
import { winningRules } from '../../orchestrator/analysis/facts.ts';
import { ANY_REMOTE, concreteCells, forEachConcreteRemote, type Segments, type ShareCell } from '../../orchestrator/ir/share.ts';
import type { IpAddr } from '../../orchestrator/net/ip.ts';
import type { EnforcementMode } from '../contract.ts';
import { addressResolver, ANY_ADDRESS, type AddressResolver, type AddressSet } from './addresses.ts';

export interface PortRange {
  lo: number;
  hi: number;
}

/** What a switch entry matches above L3. */
export type Service =
  | { kind: 'any' }
  | { kind: 'ports'; proto: 6 | 17; dst: PortRange[]; src: PortRange[]; tcpAck: boolean }
  | { kind: 'icmp'; proto: 1 | 58; type?: number; code?: number };

export const TCP_FLAG_ACK = 0x10;
export const TCP_FLAG_SYN = 0x02;
export const FULL_PORTS: PortRange[] = [{ lo: 0, hi: 65535 }];

export interface SwitchRule {
  /** Policy rule index this band comes from. */
  rule: number;
  name: string;
  action: 'permit' | 'deny';
  src: AddressSet;
  dst: AddressSet;
  services: Service[];
}

export interface SwitchRuleList {
  /** Control traffic that must always pass (IPv6 neighbour discovery): permits, placed first. */
  control: SwitchRule[];
  /** Replies carried past the forward rules: only permits, placed above them. */
  reverse: SwitchRule[];
  /** The policy's rules that still matter, in policy order. */
  forward: SwitchRule[];
  /** Verdict for IP traffic no rule matches. */
  defaultAction: 'permit' | 'deny';
  /** With `sources`: the legitimate sources; IP from anywhere else is denied after the default. */
  guard?: AddressSet;
  stats: { policyRules: number; shadowed: number; neutral: number };
}

/** Merges overlapping or adjacent ranges. */
export function mergeRanges(ranges: PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a.lo - b.lo);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.lo <= last.hi + 1) last.hi = Math.max(last.hi, r.hi);
    else out.push({ ...r });
  }
  return out;
}

const servicesCache = new WeakMap<PortMatch[], Service[]>();

/** A rule's `ports` list as services: ranges of one protocol merged, `any` absorbing the rest (shared per list: do not change it). */
export function servicesOf(ports: PortMatch[]): Service[] {
  let hit = servicesCache.get(ports);
  if (!hit) servicesCache.set(ports, (hit = servicesOfList(ports)));
  return hit;
}

function servicesOfList(ports: PortMatch[]): Service[] {
  if (ports.length === 0 || ports.some((p) => p.protocol === 'any')) return [{ kind: 'any' }];
  const ranges: Record<6 | 17, PortRange[]> = { 6: [], 17: [] };
  const icmp = new Map<string, Service>();
  for (const p of ports) {
    switch (p.protocol) {
      case 'tcp':
      case 'udp':
        ranges[IPPROTO[p.protocol]].push({ lo: p.lo, hi: p.hi });
        break;
      case 'icmp':
      case 'icmpv6': {
        const s: Service = { kind: 'icmp', proto: IPPROTO[p.protocol], type: p.type, code: p.code };
        icmp.set(`${s.proto}/${s.type ?? '*'}/${s.code ?? '*'}`, s);
        break;
      }
      case 'any':
        break;
      default: {
        const never: never = p;
        return never;
      }
    }
  }
  const out: Service[] = [];
  for (const proto of [6, 17] as const) {
    if (ranges[proto].length) out.push({ kind: 'ports', proto, dst: mergeRanges(ranges[proto]), src: FULL_PORTS, tcpAck: false });
  }
  // An ICMP match with a wildcard type covers every type/code entry of that protocol.
  for (const [, s] of [...icmp].sort(([a], [b]) => a.localeCompare(b))) {
    if (s.kind !== 'icmp') continue;
    const wildType = icmp.get(`${s.proto}/*/*`);
    const wildCode = s.type === undefined ? undefined : icmp.get(`${s.proto}/${s.type}/*`);
    if ((wildType && wildType !== s) || (wildCode && wildCode !== s)) continue;
    out.push(s);
  }
  return out;
}

/** The smallest aligned power-of-two block holding a range: one prefix (one TCAM entry). */
export function roundOut(r: PortRange): PortRange {
  const size = (r.lo ^ r.hi).toString(2).length * (r.lo === r.hi ? 0 : 1);
  const lo = (r.lo >> size) << size;
  return { lo, hi: lo + (1 << size) - 1 };
}

/**
 * Prefilter UDP reply services of an allow rule's flows: the service port
 * range, now the reply's source port, rounded out to one prefix (a
 * prefilter may pass more, and this keeps one entry per address pair).
 */
function reverseServices(services: Service[], proto: 17): Service[] {
  const out: Service[] = [];
  for (const s of services) {
    if (s.kind === 'any') out.push({ kind: 'ports', proto, dst: FULL_PORTS, src: FULL_PORTS, tcpAck: false });
    else if (s.kind === 'ports' && s.proto === proto) out.push({ kind: 'ports', proto, dst: FULL_PORTS, src: mergeRanges(s.dst.map(roundOut)), tcpAck: false });
  }
  return out;
}

const ECHO: Record<1 | 58, { request: number; reply: number }> = { 1: { request: 8, reply: 0 }, 58: { request: 128, reply: 129 } };

const ANY_V6: AddressSet = { any: false, v4: [], v6: ANY_ADDRESS.v6 };

/** IPv6 neighbour discovery (ICMPv6 133-137): a switch ACL never blocks it. */
export const ND_TYPES = [133, 134, 135, 136, 137] as const;

export const CONTROL_RULES: SwitchRule[] = [
  {
    rule: -1,
    name: 'neighbour discovery',
    action: 'permit',
    src: ANY_V6,
    dst: ANY_V6,
    services: ND_TYPES.map((type) => ({ kind: 'icmp', proto: 58, type })),
  },
];

/** Prefilter only: established TCP and echo replies pass; the hosts behind enforce them exactly. */
const PREFILTER_REPLIES: SwitchRule[] = [
  {
    rule: -1,
    name: 'tcp segments with ack',
    action: 'permit',
    src: ANY_ADDRESS,
    dst: ANY_ADDRESS,
    services: [{ kind: 'ports', proto: 6, dst: FULL_PORTS, src: FULL_PORTS, tcpAck: true }],
  },
  {
    rule: -1,
    name: 'echo replies',
    action: 'permit',
    src: ANY_ADDRESS,
    dst: ANY_ADDRESS,
    services: [
      { kind: 'icmp', proto: 1, type: 0 },
      { kind: 'icmp', proto: 58, type: 129 },
    ],
  },
];

export interface DeriveOptions {
  mode: EnforcementMode;
  /** Reuse one resolver across devices of the same compile. */
  resolver?: AddressResolver;
  /**
   * Exact mode at a port facing unmanaged endpoints: their addresses. Only
   * traffic from them can legitimately enter the port, so forward rules keep
   * only these sources, reverse rules only replies from them, and anything
   * else entering the port is spoofed (dropped by `guard`).
   */
  sources?: IpAddr[];
  /**
   * Exact mode without `sources`: the identities behind the port, whose
   * replies it carries (exactReplyRules). With `sources`, theirs.
   */
  localIdentities?: Iterable<number>;
}

/**
 * The policy's rules that decide at least one flow (the first match for some
 * cell), in policy order: every other rule is shadowed or empty and needs no
 * entries on any switch.
 */
export function decidingRules(policy: Policy, ir: Ir): Rule[] {
  const won = winningRules(ir);
  return policy.rules.filter((r) => won.has(r.index));
}

export function deriveSwitchRules(policy: Policy, ir: Ir, opts: DeriveOptions): SwitchRuleList {
  const resolver = opts.resolver ?? addressResolver(ir);
  const deciding = decidingRules(policy, ir);
  const defaultAction = policy.defaultAction === 'allow' ? 'permit' : 'deny';
  const sources = opts.mode === 'exact' ? opts.sources : undefined;
  const srcOf = (peers: Rule['from']): AddressSet => (sources ? resolver.hostsIn(sources, resolver.identitiesOf(peers)) : resolver.resolve(peers));
  const toSwitch = (r: Rule): SwitchRule => ({
    rule: r.index,
    name: r.name,
    action: r.action === 'allow' ? 'permit' : 'deny',
    src: srcOf(r.from),
    dst: resolver.resolve(r.to),
    services: servicesOf(r.ports),
  });
  const sourceIds = sources ? new Set(sources.map((a) => resolver.identityOfAddress(a))) : undefined;
  const reaches = (peers: Rule['from']): boolean => {
    if (!sourceIds) return true;
    const ids = resolver.identitiesOf(peers);
    if (!ids) return true;
    for (const id of sourceIds) if (ids.has(id)) return true;
    return false;
  };
  const live = deciding.filter((r) => reaches(r.from));
  // The verdict a flow gets when no entry decides it: the policy default in
  // exact mode; permit in prefilter mode (it only drops what it must).
  const fallback = opts.mode === 'exact' ? policy.defaultAction : 'allow';
  const kept = pruneNeutral(live, fallback, resolver, sourceIds);
  const forward = kept.map((r) => toSwitch(r));

  // Exact: replies of the first-match-allowed flows towards the port's
  // endpoints. Prefilter: established TCP and echo replies already pass; UDP
  // replies of every allow rule that decides flows (including those cut
  // above) need their own permits only where a deny could catch them.
  const reverse: SwitchRule[] = [];
  if (opts.mode === 'exact') {
    const local = sourceIds ?? opts.localIdentities ?? [];
    reverse.push(...exactReplyRules(ir, local, resolver, sources));
  } else {
    reverse.push(...PREFILTER_REPLIES);
    const hasUdpDeny = forward.some((r) => r.action === 'deny' && r.services.some((s) => s.kind === 'any' || (s.kind === 'ports' && s.proto === 17)));
    for (const r of hasUdpDeny ? deciding : []) {
      if (r.action !== 'allow') continue;
      const services = reverseServices(servicesOf(r.ports), 17);
      if (services.length) reverse.push({ rule: r.index, name: `${r.name} (reply)`, action: 'permit', src: resolver.resolve(r.to), dst: resolver.resolve(r.from), services });
    }
  }
  return {
    control: CONTROL_RULES,
    guard: sources ? resolver.hostsIn(sources, undefined) : undefined,
    reverse,
    forward,
    defaultAction,
    stats: { policyRules: policy.rules.length, shadowed: policy.rules.length - live.length, neutral: live.length - kept.length },
  };
}

/** Whether two services can match the same packet. */
export function servicesOverlap(a: Service, b: Service): boolean {
  if (a.kind === 'any' || b.kind === 'any') return true;
  if (a.kind === 'ports' && b.kind === 'ports') {
    if (a.proto !== b.proto) return false;
    const hit = (x: PortRange[], y: PortRange[]) => x.some((r) => y.some((q) => r.lo <= q.hi && q.lo <= r.hi));
    return hit(a.dst, b.dst) && hit(a.src, b.src);
  }
  if (a.kind === 'icmp' && b.kind === 'icmp') {
    const eq = (x: number | undefined, y: number | undefined) => x === undefined || y === undefined || x === y;
    return a.proto === b.proto && eq(a.type, b.type) && eq(a.code, b.code);
  }
  return false;
}

/** Whether two identity sets share an identity (undefined: every address). */
export function setsOverlap(a: Set<number> | undefined, b: Set<number> | undefined): boolean {
  if (!a || !b) return (a?.size ?? 1) > 0 && (b?.size ?? 1) > 0;
  const [small, big] = a.size <= b.size ? [a, b] : [b, a];
  for (const x of small) if (big.has(x)) return true;
  return false;
}

/** Overlap checks allowed per derivation; past it, remaining rules are kept as they are (always safe). */
const PRUNE_BUDGET = 5_000_000;

function pruneNeutral(live: Rule[], fallback: Rule['action'], resolver: AddressResolver, sourceIds: Set<number> | undefined): Rule[] {
  interface Shape {
    rule: Rule;
    src: Set<number> | undefined;
    dst: Set<number> | undefined;
    services: Service[];
  }
  const restrict = (ids: Set<number> | undefined): Set<number> | undefined => (!sourceIds ? ids : !ids ? sourceIds : new Set([...ids].filter((i) => sourceIds.has(i))));
  const shape = (r: Rule): Shape => ({ rule: r, src: restrict(resolver.identitiesOf(r.from)), dst: resolver.identitiesOf(r.to), services: servicesOf(r.ports) });
  const keptRev: Rule[] = [];
  const deciders: Shape[] = [];
  // Deciders by source identity: only those can overlap a rule with a
  // specific source (setsOverlap needs a shared identity or a wildcard).
  const bySource = new Map<number, Shape[]>();
  const anySource: Shape[] = [];
  let budget = PRUNE_BUDGET;
  const overlapsDecider = (me: Shape, d: Shape): boolean =>
    setsOverlap(me.src, d.src) && setsOverlap(me.dst, d.dst) && me.services.some((s) => d.services.some((t) => servicesOverlap(s, t)));
  for (let i = live.length - 1; i >= 0; i--) {
    const r = live[i];
    if (r.action !== fallback) {
      keptRev.push(r);
      const d = shape(r);
      deciders.push(d);
      if (!d.src) anySource.push(d);
      else
        for (const id of d.src) {
          const l = bySource.get(id);
          if (l) l.push(d);
          else bySource.set(id, [d]);
        }
      continue;
    }
    if (budget <= 0) {
      keptRev.push(r);
      continue;
    }
    // The budget counts what an unindexed walk would cost, so what is kept does not depend on the index.
    budget -= deciders.length;
    const me = shape(r);
    let overlaps: boolean;
    if (!me.src) overlaps = deciders.some((d) => overlapsDecider(me, d));
    else {
      overlaps = anySource.some((d) => overlapsDecider(me, d));
      for (const id of me.src) {
        if (overlaps) break;
        overlaps = (bySource.get(id) ?? []).some((d) => overlapsDecider(me, d));
      }
    }
    if (overlaps) keptRev.push(r);
  }
  return keptRev.reverse();
}

/** A reply destination standing for every address: TCP replies (they carry ACK) go to any peer. */
export const ANY_PEER = -1;

/** Merged replies of one (source identity, protocol, port range): the destinations and the rules they answer. */
export interface ReplyRange {
  from: number;
  proto: number;
  lo: number;
  hi: number;
  to: Set<number>;
  rules: Set<string>;
}

/** Reply ranges regrouped by (protocol, port range, destinations), so sources share rules, as switch rules. */
export function replyRulesOf(byRange: Iterable<ReplyRange>, resolver: AddressResolver, sources?: IpAddr[]): SwitchRule[] {
  const groups = new Map<string, { from: Set<number>; proto: number; lo: number; hi: number; to: Set<number>; rules: Set<string> }>();
  for (const g of byRange) {
    const key = `${g.proto}|${g.lo}|${g.hi}|${[...g.to].sort((a, b) => a - b).join(',')}`;
    let h = groups.get(key);
    if (!h) groups.set(key, (h = { from: new Set(), proto: g.proto, lo: g.lo, hi: g.hi, to: g.to, rules: new Set() }));
    h.from.add(g.from);
    for (const n of g.rules) h.rules.add(n);
  }
  const setOf = (ids: Set<number>): AddressSet => ({ any: false, v4: resolver.cover(4, ids), v6: resolver.cover(6, ids) });
  return [...groups.values()].map((g): SwitchRule => {
    const names = [...g.rules].sort();
    const service: Service =
      g.proto === 6 || g.proto === 17
        ? { kind: 'ports', proto: g.proto, dst: FULL_PORTS, src: [{ lo: g.lo, hi: g.hi }], tcpAck: g.proto === 6 }
        : { kind: 'icmp', proto: g.proto as 1 | 58, type: ECHO[g.proto as 1 | 58].reply, code: 0 };
    return {
      rule: -1,
      name: `reply of ${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''}`,
      action: 'permit',
      src: sources ? resolver.hostsIn(sources, g.from) : setOf(g.from),
      dst: g.to.has(ANY_PEER) ? ANY_ADDRESS : setOf(g.to),
      services: [service],
    };
  });
}

/**
 * Exact-port reverse rules narrowed to first-match-allowed flows: for every
 * allow cell whose destination is one of `localIdentities` (the switch's
 * ingress share), the reply from that destination back to the cell's remote
 * side. Cells split ports at every rule's boundary, so adjacent allowed
 * ranges are merged, and sources with the same (protocol, ports,
 * destinations) share one rule. TCP replies carry ACK, which no
 * connection's first packet has: they may go to any address (as an ACL
 * "established" match does) and stay few. A reply never answers a flow an
 * earlier deny catches. With `sources` (the addresses behind the port), a
 * reply's source is narrowed to those of them in its identities.
 */
export function exactReplyRules(ir: Ir, localIdentities: Iterable<number>, resolver: AddressResolver, sources?: IpAddr[]): SwitchRule[] {
  interface Range {
    lo: number;
    hi: number;
    rule: string;
  }
  /** The replies of one (local, protocol, remote), or of one local's TCP to any peer. */
  interface Span {
    from: number;
    proto: number;
    to: number;
    ranges: Range[];
  }
  /** The reply an allow cell asks for (an ICMP cell: its echo request only), or undefined. */
  const replyOf = (cell: ShareCell): (Range & { proto: number }) | undefined => {
    const rule = ir.rules[cell.rule];
    if (rule.action !== 'allow') return undefined;
    const proto = cell.proto;
    let { lo, hi } = cell;
    if (proto === 1 || proto === 58) {
      const echo = ECHO[proto].request << 8;
      if (lo > echo || hi < echo) return undefined;
      lo = hi = echo;
    } else if (proto !== 6 && proto !== 17) return undefined;
    return { proto, lo, hi, rule: rule.name };
  };
  // Spans in the order a remote-by-remote walk of the cells (sorted by
  // protocol, then port) first meets them. Remotes decided by the same rules
  // share their cell lists (forEachConcreteRemote), so their replies are
  // worked out once per local and list, and their spans share them; the many
  // remotes without cells of their own all share the local's wildcard ones.
  interface Replies {
    /** Protocols in the order the cells (by protocol, then port) meet them, with their ranges. */
    protos: number[];
    ranges: Range[][];
    /** Whether the TCP ranges are in this local's TCP span already. */
    inTcp: boolean;
  }
  const spans: Span[] = [];
  let local: number | undefined;
  let tcp: Span | undefined;
  /** This local's replies by the remote's own cell list (undefined: none), and the last one asked: runs of remotes share one. */
  let replies = new Map<Segments | undefined, Replies>();
  let lastOwn: Segments | undefined;
  let last: Replies | undefined;
  const repliesOf = (from: number, own: Segments | undefined, wild: Segments | undefined): Replies => {
    let x = replies.get(own);
    if (x) return x;
    x = { protos: [], ranges: [], inTcp: false };
    for (const cell of concreteCells(from, ANY_REMOTE, own, wild)) {
      const r = replyOf(cell);
      if (!r) continue;
      if (x.protos[x.protos.length - 1] !== r.proto) {
        x.protos.push(r.proto);
        x.ranges.push([]);
      }
      x.ranges[x.ranges.length - 1].push({ lo: r.lo, hi: r.hi, rule: r.rule });
    }
    replies.set(own, x);
    return x;
  };
  forEachConcreteRemote(ir, localIdentities, 'ingress', (from, remote, own, wild) => {
    if (from !== local) {
      local = from;
      tcp = undefined;
      replies = new Map();
      last = undefined;
    }
    const x = last && own === lastOwn ? last : repliesOf(from, own, wild);
    lastOwn = own;
    last = x;
    for (let k = 0; k < x.protos.length; k++) {
      if (x.protos[k] !== 6) spans.push({ from, proto: x.protos[k], to: remote, ranges: x.ranges[k] });
      else if (!x.inTcp) {
        // TCP replies go to any peer: each list's ranges count once per local.
        if (!tcp) spans.push((tcp = { from, proto: 6, to: ANY_PEER, ranges: [] }));
        tcp.ranges.push(...x.ranges[k]);
        x.inTcp = true;
      }
    }
  });
  // Merged (reply source, proto, port range) -> reply destinations, then
  // regrouped by (proto, port range, destinations) so sources share rules.
  const byRange = new Map<string, ReplyRange>();
  const merge = (ranges: Range[]): { lo: number; hi: number; rules: Set<string> }[] => {
    const merged: { lo: number; hi: number; rules: Set<string> }[] = [];
    for (const r of [...ranges].sort((x, y) => x.lo - y.lo)) {
      const last = merged[merged.length - 1];
      if (last && r.lo <= last.hi + 1) {
        last.hi = Math.max(last.hi, r.hi);
        last.rules.add(r.rule);
      } else merged.push({ lo: r.lo, hi: r.hi, rules: new Set([r.rule]) });
    }
    return merged;
  };
  const rangeGroups = (s: Span) =>
    merge(s.ranges).map((m) => {
      const key = `${s.from}|${s.proto}|${m.lo}|${m.hi}`;
      let g = byRange.get(key);
      if (!g) byRange.set(key, (g = { from: s.from, proto: s.proto, lo: m.lo, hi: m.hi, to: new Set(), rules: new Set() }));
      for (const n of m.rules) g.rules.add(n);
      return g;
    });
  // Spans sharing their ranges (one local's, one protocol's) land in the same groups: found once.
  const groupsOf = new Map<Range[], ReturnType<typeof rangeGroups>>();
  for (const s of spans) {
    let gs = groupsOf.get(s.ranges);
    if (!gs) groupsOf.set(s.ranges, (gs = rangeGroups(s)));
    for (const g of gs) g.to.add(s.to);
  }
  return replyRulesOf(byRange.values(), resolver, sources);
}
