// The openconfig-acl configuration Weft writes and the gNMI agent accepts:
// a typed model, the RFC 7951 JSON reader (strict: every problem is reported
// with its path) and writer. Targets openconfig-acl 1.3.x with
// openconfig-packet-match 2.3.0 (icmpv4/icmpv6 containers, detail-mode and
// explicit-tcp-flags, prefix-set and port-set references),
// openconfig-packet-match-types port-num-range and openconfig-defined-sets
// 1.1.0 (ipv4/ipv6 prefix-sets and port-sets). The vendored models in
// yang/openconfig/ are what yanglint checks the writer's output against.
//
// An entry may name a defined set instead of an address or a port range;
// resolveDefinedSets turns such a configuration back into plain entries (one
// per combination of set members), which is what a device programs into its
// TCAM and what the interpreter and the lab datapath evaluate.
//
// One reader serves the codegen round-trip, the artefact interpreter and the
// agent's Set validation, so all three agree on what a config means.

import { formatCidr, parseCidr, type Cidr, type Family } from '../../orchestrator/net/ip.ts';

export const ACL_MODULE = 'openconfig-acl';
export const PKT_TYPES_MODULE = 'openconfig-packet-match-types';
export const ICMPV4_TYPES_MODULE = 'openconfig-icmpv4-types';
export const ICMPV6_TYPES_MODULE = 'openconfig-icmpv6-types';
export const DEFINED_SETS_MODULE = 'openconfig-defined-sets';

export type AclType = 'ACL_IPV4' | 'ACL_IPV6';
export type ForwardingAction = 'ACCEPT' | 'DROP' | 'REJECT';
export type TcpFlag = 'TCP_SYN' | 'TCP_FIN' | 'TCP_RST' | 'TCP_PSH' | 'TCP_ACK' | 'TCP_URG' | 'TCP_ECE' | 'TCP_CWR';

/** Bit of each flag in the TCP header's flags byte. */
export const TCP_FLAG_BITS: Record<TcpFlag, number> = {
  TCP_FIN: 0x01,
  TCP_SYN: 0x02,
  TCP_RST: 0x04,
  TCP_PSH: 0x08,
  TCP_ACK: 0x10,
  TCP_URG: 0x20,
  TCP_ECE: 0x40,
  TCP_CWR: 0x80,
};

export interface PortRange {
  lo: number;
  hi: number;
}

export interface AclEntry {
  seq: number;
  description?: string;
  src?: Cidr;
  dst?: Cidr;
  protocol?: number;
  srcPort?: PortRange;
  dstPort?: PortRange;
  /** EXPLICIT detail mode: ALL = every flag set, ANY = at least one. */
  tcpFlags?: { match: 'ALL' | 'ANY'; flags: TcpFlag[] };
  icmp?: { type?: number; code?: number };
  /** Names of defined sets matched instead of src/dst/srcPort/dstPort (never both on one side). */
  srcSet?: string;
  dstSet?: string;
  srcPortSet?: string;
  dstPortSet?: string;
  action: ForwardingAction;
  log: boolean;
}

/** An openconfig-defined-sets ipv4-prefix-set or ipv6-prefix-set. */
export interface PrefixSet {
  name: string;
  family: Family;
  prefixes: Cidr[];
}

/** An openconfig-defined-sets port-set. */
export interface PortSet {
  name: string;
  ports: PortRange[];
}

export interface DefinedSets {
  prefixSets: PrefixSet[];
  portSets: PortSet[];
}

export interface AclSet {
  name: string;
  type: AclType;
  description?: string;
  /** Sorted by sequence-id: the lowest matching one wins. */
  entries: AclEntry[];
}

export interface AclSetRef {
  setName: string;
  type: AclType;
}

export interface AclInterface {
  id: string;
  /** interface-ref/config/interface: the device interface the binding applies to. */
  iface: string;
  ingress: AclSetRef[];
}

export interface AclConfig {
  sets: AclSet[];
  interfaces: AclInterface[];
  /** The /defined-sets tree the entries reference; absent when none does. */
  definedSets?: DefinedSets;
}

export function familyOf(type: AclType): Family {
  return type === 'ACL_IPV4' ? 4 : 6;
}

// Identities of openconfig-packet-match-types for IP protocols.
const IP_PROTOCOL_IDS: Record<string, number> = {
  IP_ICMP: 1,
  IP_IGMP: 2,
  IP_TCP: 6,
  IP_UDP: 17,
  IP_RSVP: 46,
  IP_GRE: 47,
  IP_AUTH: 51,
  IP_PIM: 103,
  IP_L2TP: 115,
};

// ICMP type identities (openconfig-icmpv4-types / -icmpv6-types 0.1.0).
export const ICMPV4_TYPES: Record<number, string> = {
  0: 'ECHO_REPLY',
  3: 'DST_UNREACHABLE',
  5: 'REDIRECT',
  8: 'ECHO',
  9: 'ROUTER_ADVERTISEMENT',
  10: 'ROUTER_SELECTION',
  11: 'TIME_EXCEEDED',
  12: 'PARAM_PROBLEM',
  13: 'TIMESTAMP',
  14: 'TIMESTAMP_REPLY',
  40: 'PHOTURIS',
  42: 'EXT_ECHO_REQUEST',
  43: 'EXT_ECHO_REPLY',
};
export const ICMPV6_TYPES: Record<number, string> = {
  1: 'DESTINATION_UNREACHABLE',
  2: 'PACKET_TOO_BIG',
  3: 'TIME_EXCEEDED',
  4: 'PARAMETER_PROBLEM',
  128: 'ECHO_REQUEST',
  129: 'ECHO_REPLY',
  130: 'MULTICAST_LISTENER_QUERY',
  131: 'MULTICAST_LISTENER_REPORT',
  132: 'MULTICAST_LISTENER_DONE',
  133: 'ROUTER_SOLICITATION',
  134: 'ROUTER_ADVERTISEMENT',
  135: 'NEIGHBOR_SOLICITATION',
  136: 'NEIGHBOR_ADVERTISEMENT',
  137: 'REDIRECT',
};
// Code identities are per type in these modules; Weft names the ones it can.
const DST_UNREACHABLE_V4 = [
  'NET', 'HOST', 'PROTOCOL', 'PORT', 'CANNOT_FRAGMENT', 'SRC_ROUTE_FAILED', 'DST_NET_UNKNOWN',
  'DST_HOST_UNKNOWN', 'SRC_HOST_ISOLATED', 'DST_NET_ADMIN_PROHIBITED', 'DST_HOST_ADMIN_PROHIBITED',
  'NET_UNREACHABLE_FOR_TOS', 'HOST_UNREACHABLE_FOR_TOS', 'ADMIN_PROHIBITED', 'HOST_PRECEDENCE_VIOLATION',
  'PRECEDENCE_CUTOFF',
];
export const ICMPV4_CODES: Record<string, string> = {
  '0/0': 'ECHO_REPLY_NONE',
  '8/0': 'ECHO_NO_CODE',
  '11/0': 'TIME_EXCEEDED_IN_TRANSIT',
  '11/1': 'TIME_EXCEEDED_FRAGMENT_REASSEMBLY_IN_TRANSIT',
  '13/0': 'TIMESTAMP_NO_CODE',
  '14/0': 'TIMESTAMP_REPLY_NO_CODE',
  ...Object.fromEntries(DST_UNREACHABLE_V4.map((n, i) => [`3/${i}`, `DST_UNREACHABLE_${n}`])),
};
const DST_UNREACHABLE_V6 = [
  'NO_ROUTE_TO_DST', 'DST_ADMIN_PROHIBITED', 'BEYOND_SCOPE_OF_SRC', 'ADDR', 'PORT', 'SRC_ADDR_FAILED_POLICY',
  'REJECT_ROUTE_TO_DST', 'ERR_IN_SRC_ROUTING_HDR', 'HDRS_TOO_LONG',
];
const PARAM_PROBLEM_V6 = [
  'ERR_HDR_FIELD', 'UNRECOGNIZED_NET_HDR_TYPE', 'UNRECOGNIZED_IPV6_OPT', 'INCOMPLETE_HDR_CHAIN', 'SR_UPPER_HDR_ERR',
  'UNRECOGNIZED_NEXT_HDR_TYPE', 'EXT_HDR_TOO_BIG', 'EXT_HDR_CHAIN_TOO_LONG', 'TOO_MANY_EXT_HDRS', 'TOO_MANY_OPTS',
  'OPT_TOO_BIG',
];
export const ICMPV6_CODES: Record<string, string> = {
  '2/0': 'PACKET_TOO_BIG_NO_CODE',
  '3/0': 'TIME_EXCEEDED_HOP_LIMIT',
  '3/1': 'TIME_EXCEEDED_FRAGMENT_REASSEMBLY',
  '128/0': 'ECHO_REQUEST_NO_CODE',
  '129/0': 'ECHO_REPLY_NO_CODE',
  '130/0': 'MULTICAST_LISTENER_QUERY_NO_CODE',
  '131/0': 'MULTICAST_LISTENER_REPORT_NO_CODE',
  '132/0': 'MULTICAST_LISTENER_DONE_NO_CODE',
  '133/0': 'ROUTER_SOLICITATION_NO_CODE',
  '134/0': 'ROUTER_ADVERTISEMENT_NO_CODE',
  '135/0': 'NEIGHBOR_SOLICITATION_NO_CODE',
  '136/0': 'NEIGHBOR_ADVERTISEMENT_NO_CODE',
  '137/0': 'REDIRECT_NO_CODE',
  ...Object.fromEntries(DST_UNREACHABLE_V6.map((n, i) => [`1/${i}`, `DST_UNREACHABLE_${n}`])),
  ...Object.fromEntries(PARAM_PROBLEM_V6.map((n, i) => [`4/${i}`, `PARAM_PROBLEM_${n}`])),
};

/**
 * Whether an ICMP message can be named by the icmpv4/icmpv6 containers: the
 * protocol is the set family's own ICMP and its type and code have
 * identities. Outside this, exact sets fail closed (see codegen.ts).
 */
export function icmpInModel(family: Family, proto: number, type: number, code: number): boolean {
  if (proto !== (family === 4 ? 1 : 58)) return false;
  return (family === 4 ? ICMPV4_CODES : ICMPV6_CODES)[`${type}/${code}`] !== undefined;
}

function invert<K extends string | number>(m: Record<K, string>): Map<string, string> {
  return new Map(Object.entries(m).map(([k, v]) => [v as string, k]));
}
const ICMPV4_TYPE_BY_NAME = invert(ICMPV4_TYPES);
const ICMPV6_TYPE_BY_NAME = invert(ICMPV6_TYPES);
const ICMPV4_CODE_BY_NAME = invert(ICMPV4_CODES);
const ICMPV6_CODE_BY_NAME = invert(ICMPV6_CODES);

/** A configuration problem, located by its data-tree path. */
export interface ConfigProblem {
  path: string;
  message: string;
}

export class AclConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map((p) => `${p.path}: ${p.message}`).join('; '));
    this.name = 'AclConfigError';
  }
}

/** Drops a module prefix ("openconfig-acl:ACL_IPV4" -> "ACL_IPV4"). */
export function stripPrefix(s: string): string {
  const i = s.indexOf(':');
  return i < 0 ? s : s.slice(i + 1);
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads a member with or without a module prefix. */
function member(o: Obj, name: string): unknown {
  if (name in o) return o[name];
  for (const k of Object.keys(o)) if (stripPrefix(k) === name) return o[k];
  return undefined;
}

class Reader {
  readonly problems: ConfigProblem[] = [];
  fail(path: string, message: string): void {
    this.problems.push({ path, message });
  }
  /** Checks that `o` has only the allowed members; returns it typed, or undefined. */
  obj(v: unknown, path: string, allowed: string[]): Obj | undefined {
    if (v === undefined) return undefined;
    if (!isObj(v)) {
      this.fail(path, `expected an object, found ${JSON.stringify(v)}`);
      return undefined;
    }
    for (const k of Object.keys(v)) {
      if (!allowed.includes(stripPrefix(k))) this.fail(`${path}/${k}`, `unknown member (valid: ${allowed.join(', ')})`);
    }
    return v;
  }
  list(v: unknown, path: string): unknown[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      this.fail(path, 'expected a JSON array (a YANG list)');
      return [];
    }
    return v;
  }
  str(v: unknown, path: string): string | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      this.fail(path, `expected a string, found ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }
  uint(v: unknown, path: string, max: number): number | undefined {
    if (v === undefined) return undefined;
    // RFC 7951: uint8/16/32 are JSON numbers; 64-bit ones are strings.
    const n = typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > max) {
      this.fail(path, `expected an integer 0..${max}, found ${JSON.stringify(v)}`);
      return undefined;
    }
    return n;
  }
  identity(v: unknown, path: string, valid: readonly string[]): string | undefined {
    const s = this.str(v, path);
    if (s === undefined) return undefined;
    const bare = stripPrefix(s);
    if (!valid.includes(bare)) {
      this.fail(path, `"${s}" is not one of ${valid.join(', ')}`);
      return undefined;
    }
    return bare;
  }
}

function parsePort(r: Reader, v: unknown, path: string): PortRange | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') {
    const n = r.uint(v, path, 65535);
    return n === undefined ? undefined : { lo: n, hi: n };
  }
  if (typeof v === 'string') {
    if (v === 'ANY') return undefined;
    const m = /^([0-9]{1,5})\.\.([0-9]{1,5})$/.exec(v);
    if (m) {
      const lo = Number(m[1]);
      const hi = Number(m[2]);
      if (lo <= hi && hi <= 65535) return { lo, hi };
    } else if (/^[0-9]{1,5}$/.test(v) && Number(v) <= 65535) {
      return { lo: Number(v), hi: Number(v) };
    }
  }
  r.fail(path, `expected a port 0..65535, a range "lo..hi" or ANY, found ${JSON.stringify(v)}`);
  return undefined;
}

function parseProtocol(r: Reader, v: unknown, path: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return r.uint(v, path, 255);
  if (typeof v === 'string') {
    const n = IP_PROTOCOL_IDS[stripPrefix(v)];
    if (n !== undefined) return n;
  }
  r.fail(path, `expected an IP protocol number or one of ${Object.keys(IP_PROTOCOL_IDS).join(', ')}, found ${JSON.stringify(v)}`);
  return undefined;
}

function parsePrefix(r: Reader, v: unknown, path: string, family: Family): Cidr | undefined {
  const s = r.str(v, path);
  if (s === undefined) return undefined;
  const p = parseCidr(s);
  if (!p.ok) {
    r.fail(path, p.reason);
    return undefined;
  }
  if (p.cidr.family !== family) {
    r.fail(path, `"${s}" is an IPv${p.cidr.family} prefix, expected IPv${family}`);
    return undefined;
  }
  return p.cidr;
}

function parseIcmp(r: Reader, v: unknown, path: string, family: Family): AclEntry['icmp'] {
  const c = r.obj(v, path, ['config']);
  if (!c) return undefined;
  const cfg = r.obj(member(c, 'config'), `${path}/config`, ['type', 'code']);
  if (!cfg) return undefined;
  const types = family === 4 ? ICMPV4_TYPE_BY_NAME : ICMPV6_TYPE_BY_NAME;
  const codes = family === 4 ? ICMPV4_CODE_BY_NAME : ICMPV6_CODE_BY_NAME;
  const out: { type?: number; code?: number } = {};
  const t = r.str(member(cfg, 'type'), `${path}/config/type`);
  if (t !== undefined) {
    const n = types.get(stripPrefix(t));
    if (n === undefined) r.fail(`${path}/config/type`, `unknown ICMPv${family} type identity "${t}"`);
    else out.type = Number(n);
  }
  const c2 = r.str(member(cfg, 'code'), `${path}/config/code`);
  if (c2 !== undefined) {
    const tc = codes.get(stripPrefix(c2));
    if (tc === undefined) r.fail(`${path}/config/code`, `unknown ICMPv${family} code identity "${c2}"`);
    else {
      const [ty, co] = tc.split('/').map(Number);
      if (out.type !== undefined && out.type !== ty) r.fail(`${path}/config/code`, `code "${c2}" belongs to type ${ty}, not ${out.type}`);
      out.type = ty;
      out.code = co;
    }
  }
  return out;
}

/** Set names an acl entry may reference: prefix-sets per family and port-sets. */
interface SetNames {
  4: Set<string>;
  6: Set<string>;
  ports: Set<string>;
}

function setNamesOf(d: DefinedSets | undefined): SetNames {
  return {
    4: new Set(d?.prefixSets.filter((p) => p.family === 4).map((p) => p.name)),
    6: new Set(d?.prefixSets.filter((p) => p.family === 6).map((p) => p.name)),
    ports: new Set(d?.portSets.map((p) => p.name)),
  };
}

/** A leafref to a defined set: the name must exist in the given list. */
function parseSetRef(r: Reader, v: unknown, path: string, known: Set<string>, what: string): string | undefined {
  const name = r.str(v, path);
  if (name === undefined) return undefined;
  if (!known.has(name)) {
    r.fail(path, `references unknown ${what} "${name}" (defined: ${[...known].join(', ') || 'none'})`);
    return undefined;
  }
  return name;
}

function parseEntry(r: Reader, v: unknown, path: string, type: AclType, names: SetNames): AclEntry | undefined {
  const e = r.obj(v, path, ['sequence-id', 'config', 'ipv4', 'ipv6', 'transport', 'actions', 'state', 'l2', 'mpls', 'input-interface']);
  if (!e) return undefined;
  const start = r.problems.length;
  const seq = r.uint(member(e, 'sequence-id'), `${path}/sequence-id`, 0xffffffff);
  if (seq === undefined) r.fail(`${path}/sequence-id`, 'missing list key sequence-id');
  const cfg = r.obj(member(e, 'config'), `${path}/config`, ['sequence-id', 'description']) ?? {};
  const cseq = r.uint(member(cfg, 'sequence-id'), `${path}/config/sequence-id`, 0xffffffff);
  if (cseq !== undefined && cseq !== seq) r.fail(`${path}/config/sequence-id`, `${cseq} differs from the list key ${seq}`);
  for (const unsupported of ['l2', 'mpls', 'input-interface']) {
    if (member(e, unsupported) !== undefined) r.fail(`${path}/${unsupported}`, `${unsupported} matches are not supported by this target`);
  }
  const family = familyOf(type);
  const own = family === 4 ? 'ipv4' : 'ipv6';
  const other = family === 4 ? 'ipv6' : 'ipv4';
  if (member(e, other) !== undefined) r.fail(`${path}/${other}`, `${other} match in an ${type} acl-set (use an ${family === 4 ? 'ACL_IPV6' : 'ACL_IPV4'} set)`);
  const entry: AclEntry = { seq: seq ?? 0, action: 'DROP', log: false };
  const desc = r.str(member(cfg, 'description'), `${path}/config/description`);
  if (desc !== undefined) entry.description = desc;
  const ip = r.obj(member(e, own), `${path}/${own}`, ['config', 'state', family === 4 ? 'icmpv4' : 'icmpv6']);
  if (ip) {
    const ipc = r.obj(member(ip, 'config'), `${path}/${own}/config`, [
      'source-address', 'destination-address', 'protocol', 'source-address-prefix-set', 'destination-address-prefix-set',
    ]);
    if (ipc) {
      const src = parsePrefix(r, member(ipc, 'source-address'), `${path}/${own}/config/source-address`, family);
      const dst = parsePrefix(r, member(ipc, 'destination-address'), `${path}/${own}/config/destination-address`, family);
      const proto = parseProtocol(r, member(ipc, 'protocol'), `${path}/${own}/config/protocol`);
      const what = `${own}-prefix-set`;
      const srcSet = parseSetRef(r, member(ipc, 'source-address-prefix-set'), `${path}/${own}/config/source-address-prefix-set`, names[family], what);
      const dstSet = parseSetRef(r, member(ipc, 'destination-address-prefix-set'), `${path}/${own}/config/destination-address-prefix-set`, names[family], what);
      if (src && srcSet) r.fail(`${path}/${own}/config`, 'source-address and source-address-prefix-set together (match one or the other)');
      if (dst && dstSet) r.fail(`${path}/${own}/config`, 'destination-address and destination-address-prefix-set together (match one or the other)');
      if (src) entry.src = src;
      if (dst) entry.dst = dst;
      if (srcSet) entry.srcSet = srcSet;
      if (dstSet) entry.dstSet = dstSet;
      if (proto !== undefined) entry.protocol = proto;
    }
    const icmpName = family === 4 ? 'icmpv4' : 'icmpv6';
    const icmp = parseIcmp(r, member(ip, icmpName), `${path}/${own}/${icmpName}`, family);
    if (icmp) {
      const want = family === 4 ? 1 : 58;
      if (entry.protocol !== want) r.fail(`${path}/${own}/${icmpName}`, `${icmpName} match needs protocol ${want}`);
      entry.icmp = icmp;
    }
  }
  const tr = r.obj(member(e, 'transport'), `${path}/transport`, ['config', 'state']);
  const trc = tr && r.obj(member(tr, 'config'), `${path}/transport/config`, [
    'source-port', 'destination-port', 'source-port-set', 'destination-port-set', 'detail-mode', 'explicit-detail-match-mode', 'explicit-tcp-flags',
  ]);
  if (trc) {
    const sp = parsePort(r, member(trc, 'source-port'), `${path}/transport/config/source-port`);
    const dp = parsePort(r, member(trc, 'destination-port'), `${path}/transport/config/destination-port`);
    const sps = parseSetRef(r, member(trc, 'source-port-set'), `${path}/transport/config/source-port-set`, names.ports, 'port-set');
    const dps = parseSetRef(r, member(trc, 'destination-port-set'), `${path}/transport/config/destination-port-set`, names.ports, 'port-set');
    if ((sp || dp || sps || dps) && entry.protocol !== 6 && entry.protocol !== 17) {
      r.fail(`${path}/transport/config`, 'port matches need protocol 6 (tcp) or 17 (udp)');
    }
    if (sp && sps) r.fail(`${path}/transport/config`, 'source-port and source-port-set together (match one or the other)');
    if (dp && dps) r.fail(`${path}/transport/config`, 'destination-port and destination-port-set together (match one or the other)');
    if (sp) entry.srcPort = sp;
    if (dp) entry.dstPort = dp;
    if (sps) entry.srcPortSet = sps;
    if (dps) entry.dstPortSet = dps;
    const mode = r.identity(member(trc, 'detail-mode'), `${path}/transport/config/detail-mode`, ['EXPLICIT']);
    const flagsRaw = member(trc, 'explicit-tcp-flags');
    if (flagsRaw !== undefined || member(trc, 'explicit-detail-match-mode') !== undefined) {
      if (mode !== 'EXPLICIT') r.fail(`${path}/transport/config/detail-mode`, 'explicit-tcp-flags need detail-mode EXPLICIT');
      const match = (r.identity(member(trc, 'explicit-detail-match-mode'), `${path}/transport/config/explicit-detail-match-mode`, ['ANY', 'ALL']) ?? 'ANY') as 'ANY' | 'ALL';
      const flags: TcpFlag[] = [];
      for (const [i, f] of r.list(flagsRaw, `${path}/transport/config/explicit-tcp-flags`).entries()) {
        const fl = r.identity(f, `${path}/transport/config/explicit-tcp-flags[${i}]`, Object.keys(TCP_FLAG_BITS));
        if (fl) flags.push(fl as TcpFlag);
      }
      if (entry.protocol !== 6) r.fail(`${path}/transport/config/explicit-tcp-flags`, 'tcp flag matches need protocol 6 (tcp)');
      if (flags.length > 0) entry.tcpFlags = { match, flags };
    }
  }
  const act = r.obj(member(e, 'actions'), `${path}/actions`, ['config', 'state']);
  const actc = act && r.obj(member(act, 'config'), `${path}/actions/config`, ['forwarding-action', 'log-action']);
  const fwd = actc && r.identity(member(actc, 'forwarding-action'), `${path}/actions/config/forwarding-action`, ['ACCEPT', 'DROP', 'REJECT']);
  if (!fwd) {
    if (!actc || member(actc, 'forwarding-action') === undefined) r.fail(`${path}/actions/config/forwarding-action`, 'missing (mandatory: ACCEPT, DROP or REJECT)');
  } else entry.action = fwd as ForwardingAction;
  const log = actc && r.identity(member(actc, 'log-action'), `${path}/actions/config/log-action`, ['LOG_SYSLOG', 'LOG_NONE']);
  entry.log = log === 'LOG_SYSLOG';
  return r.problems.length === start ? entry : undefined;
}

/** Reads the content of /defined-sets (with or without its module-qualified wrapper). Only prefix-sets and port-sets. */
export function parseDefinedSets(tree: unknown): DefinedSets {
  const r = new Reader();
  const out = readDefinedSets(r, tree);
  if (r.problems.length > 0) throw new AclConfigError(r.problems);
  return out;
}

function readDefinedSets(r: Reader, tree: unknown): DefinedSets {
  let root = tree;
  if (isObj(root) && Object.keys(root).length === 1 && stripPrefix(Object.keys(root)[0]) === 'defined-sets') root = member(root, 'defined-sets');
  const top = r.obj(root ?? {}, '/defined-sets', ['ipv4-prefix-sets', 'ipv6-prefix-sets', 'port-sets']) ?? {};
  const out: DefinedSets = { prefixSets: [], portSets: [] };
  /** One keyed list of sets: name checks shared by the three kinds, members read by `read`. */
  const eachSet = (container: string, list: string, leaves: string[], read: (name: string, cfg: Obj, path: string) => void): void => {
    const c = r.obj(member(top, container), `/defined-sets/${container}`, [list]) ?? {};
    const seen = new Set<string>();
    for (const [i, raw] of r.list(member(c, list), `/defined-sets/${container}/${list}`).entries()) {
      const s = r.obj(raw, `/defined-sets/${container}/${list}[${i}]`, ['name', 'config', 'state']);
      if (!s) continue;
      const name = r.str(member(s, 'name'), `/defined-sets/${container}/${list}[${i}]/name`);
      if (name === undefined) {
        r.fail(`/defined-sets/${container}/${list}[${i}]/name`, 'missing list key name');
        continue;
      }
      const sp = `/defined-sets/${container}/${list}[name=${name}]`;
      if (seen.has(name)) r.fail(sp, `duplicate ${list}`);
      seen.add(name);
      const cfg = r.obj(member(s, 'config'), `${sp}/config`, ['name', 'description', ...leaves, ...leaves.map((l) => `exclude-${l}`)]) ?? {};
      const cname = r.str(member(cfg, 'name'), `${sp}/config/name`);
      if (cname !== undefined && cname !== name) r.fail(`${sp}/config/name`, `"${cname}" differs from the list key "${name}"`);
      for (const l of leaves) {
        if (member(cfg, `exclude-${l}`) !== undefined) r.fail(`${sp}/config/exclude-${l}`, `exclude-${l} is not supported by this target (list only the wanted ${l}es)`);
      }
      r.str(member(cfg, 'description'), `${sp}/config/description`);
      read(name, cfg, sp);
    }
  };
  for (const family of [4, 6] as const) {
    eachSet(`ipv${family}-prefix-sets`, `ipv${family}-prefix-set`, ['prefix'], (name, cfg, sp) => {
      const prefixes = r
        .list(member(cfg, 'prefix'), `${sp}/config/prefix`)
        .flatMap((p, j) => parsePrefix(r, p, `${sp}/config/prefix[${j}]`, family) ?? []);
      out.prefixSets.push({ name, family, prefixes });
    });
  }
  eachSet('port-sets', 'port-set', ['port'], (name, cfg, sp) => {
    const ports = r.list(member(cfg, 'port'), `${sp}/config/port`).flatMap((p, j) => {
      // Inside a set "ANY" would make the set every port: allowed, written as the full range.
      if (p === 'ANY') return [{ lo: 0, hi: 65535 }];
      return parsePort(r, p, `${sp}/config/port[${j}]`) ?? [];
    });
    out.portSets.push({ name, ports });
  });
  return out;
}

/**
 * Reads a whole RFC 7951 document: "openconfig-acl:acl" and, when entries
 * reference sets, "openconfig-defined-sets:defined-sets" beside it.
 */
export function parseAclDocument(doc: unknown, knownInterfaces?: readonly string[]): AclConfig {
  const r = new Reader();
  const top = r.obj(doc, '', ['acl', 'defined-sets']) ?? {};
  const ds = member(top, 'defined-sets');
  const definedSets = ds === undefined ? undefined : readDefinedSets(r, ds);
  if (r.problems.length > 0) throw new AclConfigError(r.problems);
  return parseAclConfig(member(top, 'acl') ?? {}, knownInterfaces, definedSets);
}

/**
 * Reads the content of /acl (with or without the "openconfig-acl:acl"
 * wrapper). `knownInterfaces`, when given, is the device's interface list:
 * a binding to any other interface is a problem. `definedSets` is the
 * /defined-sets tree the entries' set references resolve in (none: an entry
 * naming a set is a problem).
 */
export function parseAclConfig(tree: unknown, knownInterfaces?: readonly string[], definedSets?: DefinedSets): AclConfig {
  const r = new Reader();
  const names = setNamesOf(definedSets);
  let root = tree;
  if (isObj(root) && Object.keys(root).length === 1 && stripPrefix(Object.keys(root)[0]) === 'acl') root = member(root, 'acl');
  const top = r.obj(root ?? {}, '/acl', ['acl-sets', 'interfaces', 'config', 'state']) ?? {};
  const setsC = r.obj(member(top, 'acl-sets'), '/acl/acl-sets', ['acl-set']) ?? {};
  const sets: AclSet[] = [];
  const setKeys = new Set<string>();
  for (const [i, raw] of r.list(member(setsC, 'acl-set'), '/acl/acl-sets/acl-set').entries()) {
    const s = r.obj(raw, `/acl/acl-sets/acl-set[${i}]`, ['name', 'type', 'config', 'acl-entries', 'state']);
    if (!s) continue;
    const name = r.str(member(s, 'name'), `/acl/acl-sets/acl-set[${i}]/name`);
    const type = r.identity(member(s, 'type'), `/acl/acl-sets/acl-set[${i}]/type`, ['ACL_IPV4', 'ACL_IPV6']) as AclType | undefined;
    if (name === undefined || type === undefined) {
      if (name === undefined) r.fail(`/acl/acl-sets/acl-set[${i}]/name`, 'missing list key name');
      if (member(s, 'type') === undefined) r.fail(`/acl/acl-sets/acl-set[${i}]/type`, 'missing list key type (ACL_IPV4 or ACL_IPV6)');
      continue;
    }
    const sp = `/acl/acl-sets/acl-set[name=${name}][type=${type}]`;
    if (setKeys.has(`${name}|${type}`)) r.fail(sp, 'duplicate acl-set');
    setKeys.add(`${name}|${type}`);
    const cfg = r.obj(member(s, 'config'), `${sp}/config`, ['name', 'type', 'description']) ?? {};
    const cname = r.str(member(cfg, 'name'), `${sp}/config/name`);
    if (cname !== undefined && cname !== name) r.fail(`${sp}/config/name`, `"${cname}" differs from the list key "${name}"`);
    const ctype = r.identity(member(cfg, 'type'), `${sp}/config/type`, ['ACL_IPV4', 'ACL_IPV6']);
    if (ctype !== undefined && ctype !== type) r.fail(`${sp}/config/type`, `${ctype} differs from the list key ${type}`);
    const set: AclSet = { name, type, entries: [] };
    const desc = r.str(member(cfg, 'description'), `${sp}/config/description`);
    if (desc !== undefined) set.description = desc;
    const ents = r.obj(member(s, 'acl-entries'), `${sp}/acl-entries`, ['acl-entry']) ?? {};
    const seqs = new Set<number>();
    for (const [j, re] of r.list(member(ents, 'acl-entry'), `${sp}/acl-entries/acl-entry`).entries()) {
      const key = isObj(re) ? member(re, 'sequence-id') : undefined;
      const ep = `${sp}/acl-entries/acl-entry[sequence-id=${key ?? `#${j}`}]`;
      const entry = parseEntry(r, re, ep, type, names);
      if (!entry) continue;
      if (seqs.has(entry.seq)) r.fail(ep, `sequence-id ${entry.seq} is used twice in this acl-set`);
      seqs.add(entry.seq);
      set.entries.push(entry);
    }
    set.entries.sort((a, b) => a.seq - b.seq);
    sets.push(set);
  }
  const ifsC = r.obj(member(top, 'interfaces'), '/acl/interfaces', ['interface']) ?? {};
  const interfaces: AclInterface[] = [];
  const ifIds = new Set<string>();
  for (const [i, raw] of r.list(member(ifsC, 'interface'), '/acl/interfaces/interface').entries()) {
    const it = r.obj(raw, `/acl/interfaces/interface[${i}]`, ['id', 'config', 'interface-ref', 'ingress-acl-sets', 'egress-acl-sets', 'state']);
    if (!it) continue;
    const id = r.str(member(it, 'id'), `/acl/interfaces/interface[${i}]/id`);
    if (id === undefined) {
      r.fail(`/acl/interfaces/interface[${i}]/id`, 'missing list key id');
      continue;
    }
    const ip = `/acl/interfaces/interface[id=${id}]`;
    if (ifIds.has(id)) r.fail(ip, 'duplicate interface');
    ifIds.add(id);
    const cfg = r.obj(member(it, 'config'), `${ip}/config`, ['id']) ?? {};
    const cid = r.str(member(cfg, 'id'), `${ip}/config/id`);
    if (cid !== undefined && cid !== id) r.fail(`${ip}/config/id`, `"${cid}" differs from the list key "${id}"`);
    const ref = r.obj(member(it, 'interface-ref'), `${ip}/interface-ref`, ['config', 'state']) ?? {};
    const refc = r.obj(member(ref, 'config'), `${ip}/interface-ref/config`, ['interface', 'subinterface']) ?? {};
    const iface = r.str(member(refc, 'interface'), `${ip}/interface-ref/config/interface`) ?? id;
    if (member(refc, 'subinterface') !== undefined) r.fail(`${ip}/interface-ref/config/subinterface`, 'subinterface bindings are not supported by this target');
    if (knownInterfaces && !knownInterfaces.includes(iface)) {
      r.fail(`${ip}/interface-ref/config/interface`, `unknown interface "${iface}" (valid: ${knownInterfaces.join(', ') || 'none'})`);
    }
    if (member(it, 'egress-acl-sets') !== undefined) r.fail(`${ip}/egress-acl-sets`, 'egress acl-set bindings are not supported by this target (bind on ingress)');
    const ing = r.obj(member(it, 'ingress-acl-sets'), `${ip}/ingress-acl-sets`, ['ingress-acl-set']) ?? {};
    const refs: AclSetRef[] = [];
    for (const [j, rawRef] of r.list(member(ing, 'ingress-acl-set'), `${ip}/ingress-acl-sets/ingress-acl-set`).entries()) {
      const b = r.obj(rawRef, `${ip}/ingress-acl-sets/ingress-acl-set[${j}]`, ['set-name', 'type', 'config', 'acl-entries', 'state']);
      if (!b) continue;
      const setName = r.str(member(b, 'set-name'), `${ip}/ingress-acl-sets/ingress-acl-set[${j}]/set-name`);
      const type = r.identity(member(b, 'type'), `${ip}/ingress-acl-sets/ingress-acl-set[${j}]/type`, ['ACL_IPV4', 'ACL_IPV6']) as AclType | undefined;
      if (setName === undefined || type === undefined) {
        r.fail(`${ip}/ingress-acl-sets/ingress-acl-set[${j}]`, 'missing list key set-name or type');
        continue;
      }
      const bp = `${ip}/ingress-acl-sets/ingress-acl-set[set-name=${setName}][type=${type}]`;
      const bc = r.obj(member(b, 'config'), `${bp}/config`, ['set-name', 'type']) ?? {};
      const cn = r.str(member(bc, 'set-name'), `${bp}/config/set-name`);
      if (cn !== undefined && cn !== setName) r.fail(`${bp}/config/set-name`, `"${cn}" differs from the list key "${setName}"`);
      if (!setKeys.has(`${setName}|${type}`)) r.fail(bp, `references unknown acl-set "${setName}" of type ${type}`);
      if (refs.some((x) => x.type === type)) r.fail(bp, `a second ${type} acl-set on one interface (one per type)`);
      refs.push({ setName, type });
    }
    interfaces.push({ id, iface, ingress: refs });
  }
  if (r.problems.length > 0) throw new AclConfigError(r.problems);
  return definedSets ? { sets, interfaces, definedSets } : { sets, interfaces };
}

function formatPort(p: PortRange): number | string {
  return p.lo === p.hi ? p.lo : `${p.lo}..${p.hi}`;
}

function entryJson(e: AclEntry, type: AclType): Obj {
  const family = familyOf(type);
  const out: Obj = { 'sequence-id': e.seq, config: { 'sequence-id': e.seq, ...(e.description ? { description: e.description } : {}) } };
  const ipc: Obj = {};
  if (e.src) ipc['source-address'] = formatCidr(e.src);
  if (e.srcSet) ipc['source-address-prefix-set'] = e.srcSet;
  if (e.dst) ipc['destination-address'] = formatCidr(e.dst);
  if (e.dstSet) ipc['destination-address-prefix-set'] = e.dstSet;
  if (e.protocol !== undefined) ipc.protocol = e.protocol;
  const ip: Obj = {};
  if (Object.keys(ipc).length > 0) ip.config = ipc;
  if (e.icmp) {
    const cfg: Obj = {};
    const types = family === 4 ? ICMPV4_TYPES : ICMPV6_TYPES;
    const codes = family === 4 ? ICMPV4_CODES : ICMPV6_CODES;
    const mod = family === 4 ? ICMPV4_TYPES_MODULE : ICMPV6_TYPES_MODULE;
    if (e.icmp.type !== undefined) cfg.type = `${mod}:${types[e.icmp.type]}`;
    if (e.icmp.code !== undefined) cfg.code = `${mod}:${codes[`${e.icmp.type}/${e.icmp.code}`]}`;
    ip[family === 4 ? 'icmpv4' : 'icmpv6'] = { config: cfg };
  }
  if (Object.keys(ip).length > 0) out[family === 4 ? 'ipv4' : 'ipv6'] = ip;
  const tc: Obj = {};
  if (e.srcPort) tc['source-port'] = formatPort(e.srcPort);
  if (e.srcPortSet) tc['source-port-set'] = e.srcPortSet;
  if (e.dstPort) tc['destination-port'] = formatPort(e.dstPort);
  if (e.dstPortSet) tc['destination-port-set'] = e.dstPortSet;
  if (e.tcpFlags) {
    tc['detail-mode'] = 'EXPLICIT';
    tc['explicit-detail-match-mode'] = e.tcpFlags.match;
    tc['explicit-tcp-flags'] = e.tcpFlags.flags.map((f) => `${PKT_TYPES_MODULE}:${f}`);
  }
  if (Object.keys(tc).length > 0) out.transport = { config: tc };
  out.actions = {
    config: {
      'forwarding-action': `${ACL_MODULE}:${e.action}`,
      'log-action': `${ACL_MODULE}:${e.log ? 'LOG_SYSLOG' : 'LOG_NONE'}`,
    },
  };
  return out;
}

export function aclSetJson(s: AclSet): Obj {
  const type = `${ACL_MODULE}:${s.type}`;
  return {
    name: s.name,
    type,
    config: { name: s.name, type, ...(s.description ? { description: s.description } : {}) },
    'acl-entries': { 'acl-entry': s.entries.map((e) => entryJson(e, s.type)) },
  };
}

export function aclInterfaceJson(i: AclInterface): Obj {
  return {
    id: i.id,
    config: { id: i.id },
    'interface-ref': { config: { interface: i.iface } },
    'ingress-acl-sets': {
      'ingress-acl-set': i.ingress.map((r) => ({
        'set-name': r.setName,
        type: `${ACL_MODULE}:${r.type}`,
        config: { 'set-name': r.setName, type: `${ACL_MODULE}:${r.type}` },
      })),
    },
  };
}

/** The content of /acl in RFC 7951 form (members of the openconfig-acl module). */
export function aclContentJson(c: AclConfig): Obj {
  return {
    'acl-sets': { 'acl-set': c.sets.map(aclSetJson) },
    interfaces: { interface: c.interfaces.map(aclInterfaceJson) },
  };
}

/** The content of /defined-sets in RFC 7951 form (members of the openconfig-defined-sets module). */
export function definedSetsContentJson(d: DefinedSets): Obj {
  const prefixSets = (family: Family): Obj => ({
    [`ipv${family}-prefix-set`]: d.prefixSets
      .filter((p) => p.family === family)
      .map((p) => ({ name: p.name, config: { name: p.name, prefix: p.prefixes.map(formatCidr) } })),
  });
  return {
    'ipv4-prefix-sets': prefixSets(4),
    'ipv6-prefix-sets': prefixSets(6),
    'port-sets': { 'port-set': d.portSets.map((p) => ({ name: p.name, config: { name: p.name, port: p.ports.map(formatPort) } })) },
  };
}

/** A whole RFC 7951 document: the module-qualified top-level containers. */
export function aclDocumentJson(c: AclConfig): Obj {
  return {
    [`${ACL_MODULE}:acl`]: aclContentJson(c),
    ...(c.definedSets ? { [`${DEFINED_SETS_MODULE}:defined-sets`]: definedSetsContentJson(c.definedSets) } : {}),
  };
}

/**
 * The configuration with every set reference replaced by its members: an
 * entry naming sets becomes one entry per (source, destination, source port,
 * destination port) combination, all with the entry's sequence-id, in the
 * entry's place. This is the TCAM a device programs (its hardware cost) and
 * what the interpreter and the lab datapath evaluate. An entry whose set is
 * empty matches nothing and disappears.
 */
export function resolveDefinedSets(c: AclConfig): AclConfig {
  const d = c.definedSets;
  if (!d) return c;
  const prefixes = new Map(d.prefixSets.map((p) => [`${p.family}|${p.name}`, p.prefixes]));
  const ports = new Map(d.portSets.map((p) => [p.name, p.ports]));
  const lookup = <T>(m: Map<string, T[]>, key: string): T[] => {
    const v = m.get(key);
    if (!v) throw new Error(`unresolved defined set ${key}`);
    return v;
  };
  const expand = (e: AclEntry, family: Family): AclEntry[] => {
    const { srcSet, dstSet, srcPortSet, dstPortSet, ...plain } = e;
    const srcs: (Cidr | undefined)[] = srcSet ? lookup(prefixes, `${family}|${srcSet}`) : [e.src];
    const dsts: (Cidr | undefined)[] = dstSet ? lookup(prefixes, `${family}|${dstSet}`) : [e.dst];
    const sps: (PortRange | undefined)[] = srcPortSet ? lookup(ports, srcPortSet) : [e.srcPort];
    const dps: (PortRange | undefined)[] = dstPortSet ? lookup(ports, dstPortSet) : [e.dstPort];
    const out: AclEntry[] = [];
    for (const src of srcs) {
      for (const dst of dsts) {
        for (const srcPort of sps) {
          for (const dstPort of dps) {
            const x: AclEntry = { ...plain };
            if (src) x.src = src;
            if (dst) x.dst = dst;
            if (srcPort) x.srcPort = srcPort;
            if (dstPort) x.dstPort = dstPort;
            out.push(x);
          }
        }
      }
    }
    return out;
  };
  return {
    sets: c.sets.map((s) => ({ ...s, entries: s.entries.flatMap((e) => expand(e, familyOf(s.type))) })),
    interfaces: c.interfaces,
  };
}

/** Entries a device programs for this configuration (its TCAM cost): set references counted as their expansion. */
export function expandedEntryCount(c: AclConfig): number {
  return resolveDefinedSets(c).sets.reduce((n, s) => n + s.entries.length, 0);
}
