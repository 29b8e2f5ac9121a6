// Seeded, deterministic generators of policies, fabrics, flows and packet
// sequences. Every differential test (IR and every target against the
// reference evaluator) draws its inputs from here, so a failure is always
// reproducible from a seed.

import { createHash } from 'node:crypto';
import type { SourceSpan } from '../diagnostics.ts';
import { cidrRange, FAMILY_BITS, type Cidr, type Family, type IpAddr } from '../net/ip.ts';
import type { Action, GroupDef, PeerRef, Policy, PortMatch, Rule, Section } from '../policy/model.ts';
import type { Device, Endpoint, Fabric, Link } from '../../inventory/model.ts';
import type { Flow } from '../flow.ts';

export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in lo..hi (inclusive). */
  int(lo: number, hi: number): number;
  pick<T>(arr: readonly T[]): T;
  chance(p: number): boolean;
  /** Uniform bigint in lo..hi (inclusive). */
  bigint(lo: bigint, hi: bigint): bigint;
}

/** sfc32 seeded through splitmix32: fast, small state, good enough statistics. */
export function makeRng(seed: number): Rng {
  let s = seed >>> 0;
  const split = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  const u32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) u32();
  const next = (): number => u32() / 4294967296;
  const rng: Rng = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (arr) => {
      if (arr.length === 0) throw new Error('pick from an empty list');
      return arr[Math.floor(next() * arr.length)];
    },
    chance: (p) => next() < p,
    bigint: (lo, hi) => {
      const span = hi - lo + 1n;
      let r = 0n;
      const words = Math.ceil(span.toString(2).length / 32) + 1;
      for (let i = 0; i < words; i++) r = (r << 32n) | BigInt(u32());
      return lo + (r % span);
    },
  };
  return rng;
}

export interface ScenarioOptions {
  rules?: number; // default 12..40
  groups?: number; // default 6..14
  endpoints?: number; // default 20..60
  hosts?: number; // default 2..5
  switches?: number; // default 1..3
  /** Include IPv6 addresses and prefixes (default true). */
  ipv6?: boolean;
  defaultAction?: Action;
}

export interface Scenario {
  policy: Policy;
  fabric: Fabric;
}

const POLICY_FILE = 'generated/policy.yaml';
const FABRIC_FILE = 'generated/fabric.yaml';

// Small address universes, so that endpoints, CIDRs and excepts overlap a lot.
const V4_BASE = 0x0a000000n; // 10.0.0.0
const V6_BASE = 0xfd00n << 112n; // fd00::

const LABELS = {
  app: ['web', 'api', 'db', 'cache', 'ops'],
  env: ['prod', 'dev'],
  tier: ['front', 'back'],
} as const;

const PORT_CHOICES: readonly [number, number][] = [
  [22, 22],
  [53, 53],
  [80, 80],
  [443, 443],
  [5432, 5432],
  [8000, 8099],
  [8050, 8060],
  [0, 1023],
  [1024, 65535],
  [0, 0],
  [65535, 65535],
];

function span(file: string, line: number, col = 1): SourceSpan {
  return { file, line, col };
}

function v4(rng: Rng): bigint {
  return V4_BASE | (BigInt(rng.int(0, 3)) << 8n) | BigInt(rng.int(1, 254));
}

function v6(rng: Rng): bigint {
  return V6_BASE | (BigInt(rng.int(0, 3)) << 16n) | BigInt(rng.int(1, 0xff));
}

function prefixOf(family: Family, addr: bigint, len: number): Cidr {
  const bits = FAMILY_BITS[family];
  const host = (1n << BigInt(bits - len)) - 1n;
  return { family, addr: addr & ~host, len };
}

function randomCidr(rng: Rng, family: Family): Cidr {
  if (family === 4) {
    const r = rng.next();
    if (r < 0.03) return { family, addr: 0n, len: 0 };
    if (r < 0.06) return prefixOf(4, rng.bigint(0n, 0xffffffffn), rng.int(1, 32));
    return prefixOf(4, v4(rng), rng.pick([16, 20, 22, 23, 24, 24, 25, 26, 27, 28, 29, 30, 31, 32]));
  }
  const r = rng.next();
  if (r < 0.03) return { family, addr: 0n, len: 0 };
  if (r < 0.06) return prefixOf(6, V6_BASE, 16);
  return prefixOf(6, v6(rng), rng.pick([96, 104, 108, 110, 111, 112, 116, 120, 124, 126, 127, 128]));
}

/** A prefix inside `outer` (or, sometimes, anywhere: excepts need not nest). */
function innerCidr(rng: Rng, outer: Cidr): Cidr {
  const bits = FAMILY_BITS[outer.family];
  if (rng.chance(0.1) || outer.len === bits) return randomCidr(rng, outer.family);
  const { lo, hi } = cidrRange(outer);
  const len = rng.int(outer.len + 1, Math.min(bits, outer.len + 12));
  return prefixOf(outer.family, rng.bigint(lo, hi), len);
}

function digestOf(value: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Map ? [...v] : v)))
    .digest('hex');
}

function generateFabric(rng: Rng, opts: ScenarioOptions): Fabric {
  const ipv6 = opts.ipv6 ?? true;
  const hostCount = opts.hosts ?? rng.int(2, 5);
  const switchCount = opts.switches ?? rng.int(1, 3);
  const endpointCount = opts.endpoints ?? rng.int(20, 60);
  let line = 1;
  const devices: Device[] = [];
  const links: Link[] = [];
  for (let i = 1; i <= switchCount; i++) {
    const pipeline = i % 2 === 1 ? 'p4' : 'openconfig';
    devices.push({
      name: `leaf${i}`,
      kind: 'switch',
      pipeline,
      mgmt:
        pipeline === 'p4'
          ? { address: `172.20.20.${10 + i}`, p4runtime: { port: 9559, deviceId: i } }
          : { address: `172.20.20.${10 + i}`, gnmi: { port: 57400 } },
      capacity: { aclEntries: 1024 },
      labels: {},
      span: span(FABRIC_FILE, line++),
    });
  }
  const nextPort = new Map<string, number>();
  const takePort = (sw: string): string => {
    const n = (nextPort.get(sw) ?? 0) + 1;
    nextPort.set(sw, n);
    return `eth${n}`;
  };
  for (let i = 1; i <= hostCount; i++) {
    const name = `host${i}`;
    devices.push({
      name,
      kind: 'host',
      mgmt: { address: `172.20.20.${100 + i}`, ssh: { user: 'root', port: 22 } },
      labels: {},
      span: span(FABRIC_FILE, line++),
    });
    const sw = `leaf${1 + ((i - 1) % switchCount)}`;
    links.push({ a: { device: name, port: 'eth1' }, b: { device: sw, port: takePort(sw) }, span: span(FABRIC_FILE, line++) });
  }
  if (hostCount > 0 && rng.chance(0.5)) {
    devices.push({
      name: 'dpu1',
      kind: 'dpu',
      profile: rng.pick(['nfp', 'bluefield', 'generic'] as const),
      attachedTo: 'host1',
      mgmt: { address: '172.20.20.200', ssh: { user: 'root', port: 22 } },
      labels: {},
      span: span(FABRIC_FILE, line++),
    });
  }
  const used = new Set<string>();
  const fresh = (gen: () => bigint, family: Family): IpAddr | undefined => {
    for (let tries = 0; tries < 50; tries++) {
      const value = gen();
      const key = `${family}:${value}`;
      if (!used.has(key)) {
        used.add(key);
        return { family, value };
      }
    }
    return undefined;
  };
  const endpoints: Endpoint[] = [];
  for (let i = 0; i < endpointCount; i++) {
    const addresses: IpAddr[] = [];
    const a4 = rng.chance(ipv6 ? 0.85 : 1) ? fresh(() => v4(rng), 4) : undefined;
    if (a4) addresses.push(a4);
    if (ipv6 && (addresses.length === 0 || rng.chance(0.35))) {
      const a6 = fresh(() => v6(rng), 6);
      if (a6) addresses.push(a6);
    }
    if (rng.chance(0.05)) {
      const extra = fresh(() => v4(rng), 4);
      if (extra) addresses.push(extra);
    }
    const labels: Record<string, string> = {};
    if (rng.chance(0.95)) labels.app = rng.pick(LABELS.app);
    if (rng.chance(0.8)) labels.env = rng.pick(LABELS.env);
    if (rng.chance(0.6)) labels.tier = rng.pick(LABELS.tier);
    const managed = hostCount > 0 && rng.chance(0.7);
    const ep: Endpoint = {
      name: `ep-${i}`,
      addresses,
      labels,
      span: span(FABRIC_FILE, line++),
    };
    if (managed) {
      ep.host = `host${rng.int(1, hostCount)}`;
    } else {
      const sw = `leaf${rng.int(1, switchCount)}`;
      ep.attach = { device: sw, port: takePort(sw) };
    }
    endpoints.push(ep);
  }
  const fabric: Fabric = { file: FABRIC_FILE, name: 'generated', devices, links, endpoints, digest: '' };
  fabric.digest = digestOf({ devices, links, endpoints });
  return fabric;
}

function generateGroup(rng: Rng, name: string, ipv6: boolean, line: number): GroupDef {
  const kind = rng.next();
  const g: GroupDef = { name, cidrs: [], except: [], span: span(POLICY_FILE, line, 5) };
  const withSelector = kind < 0.5 || kind >= 0.8;
  const withCidrs = kind >= 0.5;
  if (withSelector) {
    const sel: Record<string, string> = {};
    const keys = Object.keys(LABELS) as (keyof typeof LABELS)[];
    const n = rng.chance(0.1) ? 0 : rng.int(1, 2);
    for (let i = 0; i < n; i++) {
      const k = rng.pick(keys);
      sel[k] = rng.chance(0.05) ? 'nomatch' : rng.pick(LABELS[k]);
    }
    g.selector = sel;
  }
  if (withCidrs) {
    const n = rng.int(1, 3);
    for (let i = 0; i < n; i++) {
      const family: Family = ipv6 && rng.chance(0.3) ? 6 : 4;
      g.cidrs.push(randomCidr(rng, family));
    }
    const e = rng.chance(0.5) ? rng.int(1, 3) : 0;
    for (let i = 0; i < e; i++) g.except.push(innerCidr(rng, rng.pick(g.cidrs)));
  }
  return g;
}

function generatePorts(rng: Rng, line: number): PortMatch[] {
  if (rng.chance(0.1)) return [];
  const n = rng.int(1, 3);
  const out: PortMatch[] = [];
  for (let i = 0; i < n; i++) {
    const s = span(POLICY_FILE, line, 10 + i);
    const r = rng.next();
    if (r < 0.6) {
      const protocol = rng.chance(0.7) ? 'tcp' : 'udp';
      let lo: number;
      let hi: number;
      if (rng.chance(0.7)) [lo, hi] = rng.pick(PORT_CHOICES);
      else {
        lo = rng.int(0, 65535);
        hi = rng.chance(0.5) ? lo : Math.min(65535, lo + rng.int(0, 2000));
      }
      out.push({ protocol, lo, hi, span: s });
    } else if (r < 0.9) {
      const protocol = rng.chance(0.6) ? 'icmp' : 'icmpv6';
      const types = protocol === 'icmp' ? [0, 3, 8, 11] : [1, 128, 129, 135];
      const m: PortMatch = { protocol, span: s };
      const shape = rng.next();
      if (shape < 0.45) m.type = rng.pick(types);
      else if (shape < 0.75) {
        m.type = rng.pick(types);
        m.code = rng.int(0, 2);
      } else if (shape < 0.85) m.code = rng.int(0, 1);
      out.push(m);
    } else {
      out.push({ protocol: 'any', span: s });
    }
  }
  return out;
}

function generatePolicy(rng: Rng, fabric: Fabric, opts: ScenarioOptions): Policy {
  const ipv6 = opts.ipv6 ?? true;
  const groupCount = opts.groups ?? rng.int(6, 14);
  const ruleCount = opts.rules ?? rng.int(12, 40);
  let line = 5;
  const groups = new Map<string, GroupDef>();
  for (let i = 0; i < groupCount; i++) {
    const name = `g${i}`;
    groups.set(name, generateGroup(rng, name, ipv6, line++));
  }
  const names = [...groups.keys()];
  const sectionCount = rng.chance(0.5) ? rng.int(1, 3) : 0;
  const sections: Section[] = [];
  const rules: Rule[] = [];
  const peers = (): PeerRef[] => {
    if (names.length === 0 || rng.chance(0.12)) return [{ kind: 'any' }];
    const n = rng.chance(0.75) ? 1 : 2;
    const out: PeerRef[] = [];
    for (let i = 0; i < n; i++) out.push({ kind: 'group', name: rng.pick(names), span: span(POLICY_FILE, line, 7) });
    return out;
  };
  for (let s = 0; s < Math.max(1, sectionCount); s++) {
    const sectionName = sectionCount === 0 ? '' : `section-${s}`;
    if (sectionCount > 0) sections.push({ name: sectionName, span: span(POLICY_FILE, line++, 5) });
    const share = sectionCount === 0 ? ruleCount : Math.ceil(ruleCount / sectionCount);
    for (let i = 0; i < share && rules.length < ruleCount; i++) {
      line++;
      const index = rules.length;
      rules.push({
        index,
        name: `rule-${index}`,
        section: sectionName,
        from: peers(),
        to: peers(),
        ports: generatePorts(rng, line),
        action: rng.chance(0.55) ? 'allow' : 'deny',
        log: rng.chance(0.2),
        span: span(POLICY_FILE, line, 9),
      });
    }
  }
  const defaultAction = opts.defaultAction ?? (rng.chance(0.7) ? 'deny' : 'allow');
  const policy: Policy = {
    file: POLICY_FILE,
    name: 'generated',
    defaultAction,
    groups,
    sections,
    rules,
    digest: '',
  };
  policy.digest = digestOf({ defaultAction, groups, sections, rules, fabric: fabric.digest });
  return policy;
}

/** A random policy and fabric, rich in overlaps, holes, ranges, ICMP and IPv6. */
export function generateScenario(rng: Rng, opts: ScenarioOptions = {}): Scenario {
  const fabric = generateFabric(rng, opts);
  const policy = generatePolicy(rng, fabric, opts);
  return { policy, fabric };
}

/** Addresses worth probing: endpoint addresses, CIDR and except edges and their neighbours. */
function interestingAddresses(policy: Policy, fabric: Fabric): Record<Family, bigint[]> {
  const out: Record<Family, Set<bigint>> = { 4: new Set(), 6: new Set() };
  for (const ep of fabric.endpoints) for (const a of ep.addresses) out[a.family].add(a.value);
  const max: Record<Family, bigint> = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n };
  const add = (f: Family, v: bigint): void => {
    if (v >= 0n && v <= max[f]) out[f].add(v);
  };
  for (const g of policy.groups.values()) {
    for (const c of [...g.cidrs, ...g.except]) {
      const { lo, hi } = cidrRange(c);
      add(c.family, lo);
      add(c.family, hi);
      add(c.family, lo - 1n);
      add(c.family, hi + 1n);
    }
  }
  for (const f of [4, 6] as const) {
    add(f, 0n);
    add(f, max[f]);
  }
  return { 4: [...out[4]], 6: [...out[6]] };
}

function groupAddressPool(policy: Policy, fabric: Fabric, name: string): IpAddr[] {
  const g = policy.groups.get(name);
  if (!g) return [];
  const out: IpAddr[] = [];
  if (g.selector) {
    const sel = Object.entries(g.selector);
    for (const ep of fabric.endpoints) {
      if (sel.every(([k, v]) => ep.labels[k] === v)) out.push(...ep.addresses);
    }
  }
  return out;
}

interface FlowSource {
  rng: Rng;
  policy: Policy;
  fabric: Fabric;
  interesting: Record<Family, bigint[]>;
  ports: number[];
  icmpKeys: { type: number; code: number }[];
  /** Addresses of the endpoints each group selects, filled on first use. */
  pools: Map<string, IpAddr[]>;
}

function addressNear(src: FlowSource, family: Family): bigint {
  const { rng } = src;
  const pool = src.interesting[family];
  const r = rng.next();
  if (r < 0.6 && pool.length > 0) return rng.pick(pool);
  if (r < 0.85) return family === 4 ? v4(rng) : v6(rng);
  if (r < 0.95) return family === 4 ? V4_BASE | BigInt(rng.int(0, 0xffff)) : V6_BASE | rng.bigint(0n, 0xfffffn);
  return rng.bigint(0n, (1n << BigInt(FAMILY_BITS[family])) - 1n);
}

function addressFromPeer(src: FlowSource, peer: PeerRef, family: Family): bigint {
  const { rng } = src;
  if (peer.kind === 'group') {
    const g = src.policy.groups.get(peer.name);
    const candidates: (() => bigint | undefined)[] = [];
    let pool = src.pools.get(peer.name);
    if (!pool) {
      pool = groupAddressPool(src.policy, src.fabric, peer.name);
      src.pools.set(peer.name, pool);
    }
    const eps = pool.filter((a) => a.family === family);
    if (eps.length > 0) candidates.push(() => rng.pick(eps).value);
    const cidrs = g ? g.cidrs.filter((c) => c.family === family) : [];
    if (cidrs.length > 0) {
      candidates.push(() => {
        const { lo, hi } = cidrRange(rng.pick(cidrs));
        return rng.chance(0.3) ? rng.pick([lo, hi]) : rng.bigint(lo, hi);
      });
    }
    const excepts = g ? g.except.filter((c) => c.family === family) : [];
    if (excepts.length > 0) {
      candidates.push(() => {
        const { lo, hi } = cidrRange(rng.pick(excepts));
        return rng.pick([lo, hi, lo - 1n, hi + 1n].filter((v) => v >= 0n && v < 1n << BigInt(FAMILY_BITS[family])));
      });
    }
    if (candidates.length > 0) {
      const v = rng.pick(candidates)();
      if (v !== undefined) return v;
    }
  }
  return addressNear(src, family);
}

function portFor(src: FlowSource, m: PortMatch | undefined): { proto: number; key: number; type?: number; code?: number } {
  const { rng } = src;
  if (m && (m.protocol === 'tcp' || m.protocol === 'udp')) {
    const proto = m.protocol === 'tcp' ? 6 : 17;
    const choices = [m.lo, m.hi, m.lo - 1, m.hi + 1, rng.int(m.lo, m.hi)].filter((p) => p >= 0 && p <= 65535);
    return { proto, key: rng.pick(choices) };
  }
  if (m && (m.protocol === 'icmp' || m.protocol === 'icmpv6')) {
    const proto = m.protocol === 'icmp' ? 1 : 58;
    const type = m.type !== undefined ? (rng.chance(0.8) ? m.type : Math.max(0, Math.min(255, m.type + rng.pick([-1, 1])))) : rng.int(0, 255);
    const code = m.code !== undefined ? (rng.chance(0.8) ? m.code : Math.max(0, Math.min(255, m.code + rng.pick([-1, 1])))) : rng.pick([0, 0, 1, rng.int(0, 255)]);
    return { proto, key: 0, type, code };
  }
  const proto = rng.pick([6, 6, 17, 17, 1, 58, 0, 47, 132]);
  if (proto === 6 || proto === 17) return { proto, key: src.ports.length > 0 && rng.chance(0.7) ? rng.pick(src.ports) : rng.int(0, 65535) };
  if (proto === 1 || proto === 58) {
    const k = src.icmpKeys.length > 0 && rng.chance(0.7) ? rng.pick(src.icmpKeys) : { type: rng.int(0, 255), code: rng.int(0, 3) };
    return { proto, key: 0, type: k.type, code: k.code };
  }
  return { proto, key: 0 };
}

function makeFlow(family: Family, s: bigint, d: bigint, p: { proto: number; key: number; type?: number; code?: number }, rng: Rng): Flow {
  const f: Flow = {
    src: { family, value: s },
    dst: { family, value: d },
    proto: p.proto,
    sport: 0,
    dport: 0,
  };
  if (p.proto === 6 || p.proto === 17) {
    f.sport = rng.chance(0.8) ? rng.int(1024, 65535) : rng.int(0, 65535);
    f.dport = p.key;
  } else if (p.proto === 1 || p.proto === 58) {
    f.icmpType = p.type ?? 0;
    f.icmpCode = p.code ?? 0;
    f.icmpId = rng.int(0, 65535);
  }
  return f;
}

function flowSource(rng: Rng, policy: Policy, fabric: Fabric): FlowSource {
  const ports = new Set<number>();
  const icmpKeys: { type: number; code: number }[] = [];
  for (const r of policy.rules) {
    for (const m of r.ports) {
      if (m.protocol === 'tcp' || m.protocol === 'udp') {
        for (const p of [m.lo, m.hi, m.lo - 1, m.hi + 1]) if (p >= 0 && p <= 65535) ports.add(p);
      } else if (m.protocol === 'icmp' || m.protocol === 'icmpv6') {
        icmpKeys.push({ type: m.type ?? 0, code: m.code ?? 0 });
      }
    }
  }
  return { rng, policy, fabric, interesting: interestingAddresses(policy, fabric), ports: [...ports], icmpKeys, pools: new Map() };
}

/**
 * Random and boundary flows: half aimed at a rule (addresses from its groups,
 * ports at the edges of its ranges), the rest around CIDR/except edges,
 * endpoint addresses and random addresses of both families.
 */
export function generateFlows(rng: Rng, policy: Policy, fabric: Fabric, count: number): Flow[] {
  const src = flowSource(rng, policy, fabric);
  const flows: Flow[] = [];
  for (let i = 0; i < count; i++) {
    const family: Family = rng.chance(0.7) ? 4 : 6;
    if (policy.rules.length > 0 && rng.chance(0.5)) {
      const rule = rng.pick(policy.rules);
      const s = addressFromPeer(src, rng.pick(rule.from), family);
      const d = addressFromPeer(src, rng.pick(rule.to), family);
      const m = rule.ports.length > 0 ? rng.pick(rule.ports) : undefined;
      flows.push(makeFlow(family, s, d, portFor(src, m), rng));
    } else {
      const s = addressNear(src, family);
      const d = addressNear(src, family);
      flows.push(makeFlow(family, s, d, portFor(src, undefined), rng));
    }
  }
  return flows;
}

function reverse(f: Flow): Flow {
  const r: Flow = { src: f.dst, dst: f.src, proto: f.proto, sport: f.dport, dport: f.sport };
  return r;
}

/**
 * Request/reply packet sequences for stateful checks: TCP/UDP exchanges, ICMP
 * echo request/reply pairs, and replies nobody asked for (unsolicited, wrong
 * echo id, wrong ports). Each sequence uses its own source port or echo id,
 * so sequences can run one after another through one connection table.
 */
export function generatePacketSequences(rng: Rng, policy: Policy, fabric: Fabric, count: number): Flow[][] {
  const base = generateFlows(rng, policy, fabric, count);
  const out: Flow[][] = [];
  for (let i = 0; i < count; i++) {
    const f = base[i];
    const uniq = 1024 + (i % 64000);
    const seq: Flow[] = [];
    if (f.proto === 6 || f.proto === 17) {
      const req: Flow = { ...f, sport: uniq };
      const rep = reverse(req);
      const shape = rng.next();
      if (shape < 0.6) seq.push(req, rep, req, rep);
      else if (shape < 0.75) seq.push(rep); // unsolicited reply
      else if (shape < 0.9) seq.push(req, { ...rep, sport: rep.sport === 65535 ? 0 : rep.sport + 1 });
      else seq.push(rep, req, rep);
    } else if (f.proto === 1 || f.proto === 58) {
      const echoReq = f.proto === 1 ? 8 : 128;
      const echoRep = f.proto === 1 ? 0 : 129;
      const req: Flow = { ...f, icmpType: rng.chance(0.8) ? echoReq : f.icmpType, icmpCode: 0, icmpId: uniq };
      const rep: Flow = { src: f.dst, dst: f.src, proto: f.proto, sport: 0, dport: 0, icmpType: echoRep, icmpCode: 0, icmpId: uniq };
      const shape = rng.next();
      if (shape < 0.6) seq.push(req, rep, rep);
      else if (shape < 0.75) seq.push(rep); // unsolicited echo reply
      else if (shape < 0.9) seq.push(req, { ...rep, icmpId: (uniq + 1) & 0xffff });
      else seq.push(req, { ...rep, icmpType: f.proto === 1 ? 3 : 1 });
    } else {
      seq.push(f, reverse(f));
    }
    out.push(seq);
  }
  return out;
}
