// A host's share of the IR: the identities and cells its own endpoints need,
// turned into map entries. Pure data in, pure data out; the result is what
// maps.json lists and what the loader writes.
//
// What a host keeps, and why the verdicts do not change:
// - Local identities L: identities of this host's endpoint addresses.
// - Cells with src in L become egress entries (local = src, remote = dst);
//   cells with dst in L become ingress entries (local = dst, remote = src).
//   A flow from or to a local address is judged on exactly these cells.
// - Identities that are neither in L nor a remote of a kept cell are
//   "irrelevant": lookups with them can only miss, so their LPM entries are
//   rewritten to identity 0 (which no cell uses). An entry whose rewritten
//   identity equals that of its closest enclosing entry is then dropped: every
//   address it covered resolves to the enclosing entry, same identity. A
//   virtual /0 with identity 0 encloses everything, so irrelevant top-level
//   prefixes disappear too.
// - Each local address gets its own host prefix carrying the local flag.

import { InputError } from '../../orchestrator/diagnostics.ts';
import { MAP } from './abi.ts';
import { FAMILY_BITS, formatCidr, formatIp, parseIp, type Cidr, type Family, type IpAddr } from '../../orchestrator/net/ip.ts';
import type { Ir } from '../../orchestrator/ir/model.ts';
import { concreteShareCells } from '../../orchestrator/ir/share.ts';
import type { Device, Fabric } from '../../inventory/model.ts';

export interface IdEntry {
  prefix: Cidr;
  id: number;
  local: boolean;
}

export type Direction = 'egress' | 'ingress';

export interface PolicyEntry {
  dir: Direction;
  proto: number; // IR proto
  local: number;
  remote: number;
  port: number; // port-key prefix value
  portLen: number; // 0..16
  rule: number;
  verdict: 'allow' | 'deny';
  log: boolean;
}

export interface FailsafeEntry {
  address: IpAddr;
  proto: number;
  port: number;
}

export interface MapSizes {
  id4: number;
  id6: number;
  policy: number;
  ct: number;
  stats: number;
  failsafe: number;
}

export interface HostShare {
  device: string;
  policyName: string;
  policyDigest: string;
  defaultAction: 'allow' | 'deny';
  rules: { index: number; name: string; action: 'allow' | 'deny' }[];
  localAddresses: IpAddr[];
  localIdentities: number[];
  id4: IdEntry[];
  id6: IdEntry[];
  policy: PolicyEntry[];
  failsafe: FailsafeEntry[];
  /** max_entries of every sized map (both slots). */
  maxEntries: MapSizes;
  statsStride: number;
}

/** Entries one slot of a map may hold on a host unless the fabric says otherwise (capacity.aclEntries). */
export const HOST_DEFAULT_SLOT_LIMIT = 1_000_000;
const CT_PER_ENDPOINT = 4096;
const CT_MIN = 65_536;
const CT_MAX = 1_048_576;
const FAILSAFE_MAX = 16;

/** The endpoints whose traffic a device enforces: its own, or its host's for a DPU/SmartNIC. */
export function localEndpointsOf(fabric: Fabric, device: Device): Fabric['endpoints'] {
  return fabric.endpoints.filter(
    (e) => e.host !== undefined && (e.host === device.name || (device.attachedTo !== undefined && e.host === device.attachedTo)),
  );
}

/** The minimal list of 16-bit prefixes covering lo..hi exactly. */
export function portPrefixes(lo: number, hi: number): { value: number; len: number }[] {
  const out: { value: number; len: number }[] = [];
  let cur = lo;
  while (cur <= hi) {
    let size = 0;
    while (size < 16) {
      const block = 1 << (size + 1);
      if (cur % block !== 0 || cur + block - 1 > hi) break;
      size++;
    }
    out.push({ value: cur, len: 16 - size });
    cur += 1 << size;
  }
  return out;
}

function contains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || outer.len > inner.len) return false;
  const shift = BigInt(FAMILY_BITS[outer.family] - outer.len);
  return outer.len === 0 || inner.addr >> shift === outer.addr >> shift;
}

/** Longest-prefix resolution over the IR's table (the IR guarantees a /0 per family). */
export function resolveIdentity(ir: Ir, addr: IpAddr): number {
  let best = -1;
  let id = 0;
  for (const e of ir.lpm) {
    if (e.prefix.family !== addr.family || e.prefix.len <= best) continue;
    if (contains(e.prefix, { family: addr.family, addr: addr.value, len: FAMILY_BITS[addr.family] })) {
      best = e.prefix.len;
      id = e.id;
    }
  }
  return id;
}

function pruneFamily(ir: Ir, family: Family, rewrite: (id: number) => number): IdEntry[] {
  const entries = ir.lpm
    .filter((e) => e.prefix.family === family)
    .map((e) => ({ prefix: e.prefix, id: rewrite(e.id) }))
    .sort((a, b) => (a.prefix.addr < b.prefix.addr ? -1 : a.prefix.addr > b.prefix.addr ? 1 : a.prefix.len - b.prefix.len));
  const kept: IdEntry[] = [];
  const stack: { prefix: Cidr; id: number }[] = [];
  for (const e of entries) {
    while (stack.length > 0 && !contains(stack[stack.length - 1].prefix, e.prefix)) stack.pop();
    const parentId = stack.length > 0 ? stack[stack.length - 1].id : 0;
    if (e.id !== parentId) kept.push({ prefix: e.prefix, id: e.id, local: false });
    stack.push(e);
  }
  return kept;
}

export interface ShareOptions {
  /** Per-slot entry limit (default: device capacity.aclEntries or HOST_DEFAULT_SLOT_LIMIT). */
  slotLimit?: number;
}

/** Headroom so that a policy change of moderate size still fits the loaded maps (a delta, not a reload). */
function slotCapacity(n: number): number {
  return n + Math.ceil(n / 4) + 16;
}

export function computeShare(ir: Ir, fabric: Fabric, device: Device, opts: ShareOptions = {}): HostShare {
  const endpoints = localEndpointsOf(fabric, device);
  const localAddresses: IpAddr[] = [];
  for (const e of endpoints) for (const a of e.addresses) {
    if (!localAddresses.some((x) => x.family === a.family && x.value === a.value)) localAddresses.push(a);
  }
  const localIdOf = new Map<string, number>();
  const L = new Set<number>();
  for (const a of localAddresses) {
    const id = resolveIdentity(ir, a);
    localIdOf.set(`${a.family}|${a.value}`, id);
    L.add(id);
  }

  const relevant = new Set<number>(L);
  const policy: PolicyEntry[] = [];
  // The datapath keys on the exact remote identity: wildcard cells spelled out.
  for (const dir of ['egress', 'ingress'] as const) {
    for (const c of concreteShareCells(ir, L, dir)) {
      const r = ir.rules[c.rule];
      relevant.add(c.remote);
      // Object literals, not spreads: this loop makes hundreds of thousands of entries.
      for (const p of portPrefixes(c.lo, c.hi)) {
        policy.push({ dir, proto: c.proto, local: c.local, remote: c.remote, port: p.value, portLen: p.len, rule: c.rule, verdict: r.action, log: r.log });
      }
    }
  }

  const rewrite = (id: number): number => (relevant.has(id) ? id : 0);
  const byFamily = (family: Family): IdEntry[] => {
    const kept = pruneFamily(ir, family, rewrite);
    const bits = FAMILY_BITS[family];
    for (const a of localAddresses) {
      if (a.family !== family) continue;
      const id = rewrite(localIdOf.get(`${a.family}|${a.value}`) ?? 0);
      const at = kept.findIndex((e) => e.prefix.len === bits && e.prefix.addr === a.value);
      const entry: IdEntry = { prefix: { family, addr: a.value, len: bits }, id, local: true };
      if (at >= 0) kept[at] = entry;
      else kept.push(entry);
    }
    return kept.sort((x, y) => (x.prefix.addr < y.prefix.addr ? -1 : x.prefix.addr > y.prefix.addr ? 1 : x.prefix.len - y.prefix.len));
  };
  const id4 = byFamily(4);
  const id6 = byFamily(6);

  const failsafe: FailsafeEntry[] = [];
  const mgmt = device.mgmt.address ? parseIp(device.mgmt.address) : undefined;
  if (mgmt) failsafe.push({ address: mgmt, proto: 6, port: device.mgmt.ssh?.port ?? 22 });

  const limit = opts.slotLimit ?? device.capacity?.aclEntries ?? HOST_DEFAULT_SLOT_LIMIT;
  const over = (
    [
      ['address table (IPv4)', id4.length],
      ['address table (IPv6)', id6.length],
      ['policy table', policy.length],
    ] as const
  ).filter(([, n]) => n > limit);
  if (over.length > 0) {
    throw new InputError(
      over.map(([what, n]) => ({
        code: 'host-capacity',
        severity: 'error' as const,
        message: `${device.name}: its share of the policy needs ${n.toLocaleString('en')} entries in the ${what}, over the limit of ${limit.toLocaleString('en')} per generation (${policy.length.toLocaleString('en')} policy entries for ${L.size} local identities, ${endpoints.length} local endpoints)`,
        span: device.span,
        hint: 'raise capacity.aclEntries for this host, or split wide port ranges and broad groups that multiply cells',
      })),
    );
  }

  // Room for added rules too, so that a policy growing a little stays a delta.
  const statsStride = slotCapacity(ir.rules.length + 1);
  const ct = Math.min(CT_MAX, Math.max(CT_MIN, endpoints.length * CT_PER_ENDPOINT));
  return {
    device: device.name,
    policyName: ir.policyName,
    policyDigest: ir.policyDigest,
    defaultAction: ir.defaultAction,
    rules: ir.rules.map((r) => ({ index: r.index, name: r.name, action: r.action })),
    localAddresses,
    localIdentities: [...L].sort((a, b) => a - b),
    id4,
    id6,
    policy,
    failsafe,
    maxEntries: {
      id4: 2 * slotCapacity(id4.length),
      id6: 2 * slotCapacity(id6.length),
      policy: 2 * slotCapacity(policy.length),
      ct,
      stats: 2 * statsStride,
      failsafe: FAILSAFE_MAX,
    },
    statsStride,
  };
}

// ---- maps.json ------------------------------------------------------------

export const MAPS_FORMAT = 'weft.host.maps/v1';

export interface IdJson {
  prefix: string;
  id: number;
  local: boolean;
}
export interface FailsafeJson {
  address: string;
  proto: number;
  port: number;
}
interface Sized<T> {
  maxEntries: number;
  entries: T[];
}

/** maps.json: every map by its kernel name (abi.ts), with its size and every entry of one slot. */
export interface MapsJson {
  format: typeof MAPS_FORMAT;
  device: string;
  policy: { name: string; digest: string };
  defaultAction: 'allow' | 'deny';
  rules: HostShare['rules'];
  localAddresses: string[];
  localIdentities: number[];
  statsStride: number;
  maps: Record<typeof MAP.id4 | typeof MAP.id6, Sized<IdJson>> &
    Record<typeof MAP.policy, Sized<PolicyEntry>> &
    Record<typeof MAP.ct | typeof MAP.stats, Sized<never>> &
    Record<typeof MAP.failsafe, Sized<FailsafeJson>>;
}

export function shareToJson(s: HostShare): MapsJson {
  const ids = (es: IdEntry[]): IdJson[] => es.map((e) => ({ prefix: formatCidr(e.prefix), id: e.id, local: e.local }));
  return {
    format: MAPS_FORMAT,
    device: s.device,
    policy: { name: s.policyName, digest: s.policyDigest },
    defaultAction: s.defaultAction,
    rules: s.rules,
    localAddresses: s.localAddresses.map((a) => formatIp(a.family, a.value)),
    localIdentities: s.localIdentities,
    statsStride: s.statsStride,
    maps: {
      [MAP.id4]: { maxEntries: s.maxEntries.id4, entries: ids(s.id4) },
      [MAP.id6]: { maxEntries: s.maxEntries.id6, entries: ids(s.id6) },
      [MAP.policy]: { maxEntries: s.maxEntries.policy, entries: s.policy },
      [MAP.ct]: { maxEntries: s.maxEntries.ct, entries: [] },
      [MAP.stats]: { maxEntries: s.maxEntries.stats, entries: [] },
      [MAP.failsafe]: {
        maxEntries: s.maxEntries.failsafe,
        entries: s.failsafe.map((f) => ({ address: formatIp(f.address.family, f.address.value), proto: f.proto, port: f.port })),
      },
    },
  };
}

export function parsePrefix(text: string, where = 'maps.json'): Cidr {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  const len = slash < 0 ? undefined : Number(text.slice(slash + 1));
  if (!ip || len === undefined || !Number.isInteger(len)) throw new Error(`${where}: bad prefix "${text}"`);
  return { family: ip.family, addr: ip.value, len };
}

function parseAddr(t: string, where: string): IpAddr {
  const a = parseIp(t);
  if (!a) throw new Error(`${where}: bad address "${t}"`);
  return a;
}

/** Checks the format; the agent works on this raw form (parsing 100k prefixes it would not touch costs time). */
export function checkMapsJson(j: MapsJson, where = 'maps.json'): MapsJson {
  if (j.format !== MAPS_FORMAT) throw new Error(`${where}: format "${String(j.format)}" is not ${MAPS_FORMAT} (recompile the bundle with this weft)`);
  for (const name of [MAP.id4, MAP.id6, MAP.policy, MAP.ct, MAP.stats, MAP.failsafe]) {
    if (!j.maps?.[name]) throw new Error(`${where}: no entry for map ${name} (recompile the bundle with this weft)`);
  }
  return j;
}

export function failsafeFromJson(j: MapsJson, where = 'maps.json'): FailsafeEntry[] {
  return j.maps[MAP.failsafe].entries.map((f) => ({ address: parseAddr(f.address, where), proto: f.proto, port: f.port }));
}

export function sizesFromJson(j: MapsJson): MapSizes {
  const m = j.maps;
  return {
    id4: m[MAP.id4].maxEntries,
    id6: m[MAP.id6].maxEntries,
    policy: m[MAP.policy].maxEntries,
    ct: m[MAP.ct].maxEntries,
    stats: m[MAP.stats].maxEntries,
    failsafe: m[MAP.failsafe].maxEntries,
  };
}

export function shareFromJson(raw: MapsJson, where = 'maps.json'): HostShare {
  const j = checkMapsJson(raw, where);
  const ids = (es: IdJson[]): IdEntry[] => es.map((e) => ({ prefix: parsePrefix(e.prefix, where), id: e.id, local: e.local }));
  const m = j.maps;
  return {
    device: j.device,
    policyName: j.policy.name,
    policyDigest: j.policy.digest,
    defaultAction: j.defaultAction,
    rules: j.rules,
    localAddresses: j.localAddresses.map((a) => parseAddr(a, where)),
    localIdentities: j.localIdentities,
    id4: ids(m[MAP.id4].entries),
    id6: ids(m[MAP.id6].entries),
    policy: m[MAP.policy].entries,
    failsafe: failsafeFromJson(j, where),
    maxEntries: sizesFromJson(j),
    statsStride: j.statsStride,
  };
}
