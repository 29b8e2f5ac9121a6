// A host's share of the IR: the identities and cells its own endpoints need,
// turned into map entries. Pure data in, pure data out; the result is what
// the bundle carries (maps.json and the record files, below) and what the
// loader writes.
//
// What a host keeps, and why the verdicts do not change:
// - Local identities L: identities of this host's endpoint addresses.
// - Policy entries come from shareCells (orchestrator/ir/share.ts) for L, in
//   both directions: egress (local = source) and ingress (local =
//   destination). A flow from or to a local address is judged on exactly
//   these cells. A cell whose remote is ANY_REMOTE (0) answers for every
//   remote without a specific cell at that (local, proto, port): the
//   datapath looks up the specific remote first, then 0.
// - Identities that are neither in L nor the remote of a specific cell are
//   "irrelevant": a specific lookup with them can only miss, so their LPM
//   entries are rewritten to identity 0 = ANY_REMOTE, and their flows are
//   judged by the wildcard cells or the default action, as the contract says.
// - Remote identities with exactly the same cells on this host form a class
//   (remote-classes.ts): their entries are rewritten to the class's identity
//   and the policy table holds its cells once. No lookup tells them apart.
// - An identity whose every ingress cell, every ANY_REMOTE ingress cell and
//   the default deny is flagged denyIngress on its address entries: the XDP
//   early stage drops its packets without the policy lookup. An entry whose rewritten
//   identity equals that of its closest enclosing entry is then dropped: every
//   address it covered resolves to the enclosing entry, same identity. A
//   virtual /0 with identity 0 encloses everything, so irrelevant top-level
//   prefixes disappear too.
// - Each local address gets its own host prefix carrying the local flag.

import { InputError } from '../../orchestrator/diagnostics.ts';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { ID4_KEY, ID6_KEY, ID_VALUE, MAP, POLICY_KEY, POLICY_VALUE } from './abi.ts';
import { decodeIdRecord, decodePolicyRecord, encodeIdRecords, encodePolicyRecords } from './encode.ts';
import { blockDigests, changedRange, checkRecordsHeader, decodeRecords, RECORDS_HEADER, recordKey, recordValue, type RecordTable } from './records.ts';
import { cidrRange, FAMILY_BITS, formatIp, parseIp, type Cidr, type Family, type IpAddr } from '../../orchestrator/net/ip.ts';
import type { Ir, IrProto, LpmEntry } from '../../orchestrator/ir/model.ts';
import { IrLookup } from '../../orchestrator/ir/lookup.ts';
import { irReach } from '../../orchestrator/ir/reach.ts';
import type { SourceSpan } from '../../orchestrator/diagnostics.ts';
import { AlikeRemotes, ANY_REMOTE, forEachSegmentCell, forEachShareRow, type ShareCell, type ShareDirection } from '../../orchestrator/ir/share.ts';
import type { Device, Fabric } from '../../inventory/model.ts';
import { CAPACITY_EXCEEDED } from '../contract.ts';
import { remoteClasses, ShareRows } from './remote-classes.ts';

export interface IdEntry {
  prefix: Cidr;
  id: number;
  local: boolean;
  /** Every cell and the default deny every flow from this identity to this host (the XDP early stage). */
  denyIngress: boolean;
}

export type Direction = ShareDirection;

export interface PolicyEntry {
  dir: Direction;
  proto: number; // IR proto
  local: number;
  remote: number;
  port: number; // port-key prefix value
  portLen: number; // 0..16
  /** Position of the deciding rule in the share's `rules` (its hit counter), not its policy index. */
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

export interface HostRule {
  index: number;
  name: string;
  action: 'allow' | 'deny';
  section: string;
  log: boolean;
}

/** Where a rule is written in the policy: what flow logs show beside its name. */
export interface RuleSource {
  index: number;
  span: SourceSpan;
}

export interface HostShare {
  device: string;
  policyName: string;
  defaultAction: 'allow' | 'deny';
  /**
   * The rules this host's cells name, in first-match order: a cell's `rule`
   * is a position in this list, `index` the rule's place in the policy.
   * Section, log and the source position are for status and flow logs.
   */
  rules: HostRule[];
  ruleSources: RuleSource[];
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

/** Endpoints by the host they sit on, built once per fabric: a fabric of many hosts asks once per device. */
const endpointsByHost = new WeakMap<Fabric, Map<string, Fabric['endpoints']>>();

/** The endpoints whose traffic a device enforces: its own, or its host's for a DPU/SmartNIC. */
export function localEndpointsOf(fabric: Fabric, device: Device): Fabric['endpoints'] {
  let byHost = endpointsByHost.get(fabric);
  if (!byHost) {
    byHost = new Map();
    for (const e of fabric.endpoints) {
      if (e.host === undefined) continue;
      const l = byHost.get(e.host);
      if (l) l.push(e);
      else byHost.set(e.host, [e]);
    }
    endpointsByHost.set(fabric, byHost);
  }
  const own = byHost.get(device.name) ?? [];
  if (device.attachedTo === undefined || device.attachedTo === device.name) return own;
  const host = byHost.get(device.attachedTo) ?? [];
  // In fabric order, as a filter over all endpoints would give.
  if (own.length === 0) return host;
  if (host.length === 0) return own;
  const order = new Map(fabric.endpoints.map((e, i) => [e, i]));
  return [...own, ...host].sort((a, b) => order.get(a)! - order.get(b)!);
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

/** Prefix order: by address, then length (an enclosing prefix first). */
function byAddress(a: Cidr, b: Cidr): number {
  return a.family - b.family || (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : a.len - b.len);
}

/**
 * The closest enclosing prefix of each of `sorted` (by byAddress), by
 * position, -1 for none. Prefixes nest or are disjoint, so in that order a
 * prefix lies inside the top of a stack of prefixes exactly when it is of
 * its family and starts at or before its last address.
 */
function enclosingOf(sorted: Cidr[]): Int32Array {
  const parent = new Int32Array(sorted.length);
  const stack: number[] = [];
  const hi: bigint[] = [];
  sorted.forEach((c, k) => {
    while (stack.length > 0 && (sorted[stack[stack.length - 1]].family !== c.family || c.addr > hi[hi.length - 1])) {
      stack.pop();
      hi.pop();
    }
    parent[k] = stack.length > 0 ? stack[stack.length - 1] : -1;
    stack.push(k);
    hi.push(cidrRange(c).hi);
  });
  return parent;
}

/**
 * What every host's share reads of one IR, built once per IR rather than once
 * per host: the address lookup, and each family's LPM entries sorted by
 * (address, length), each with the position of its identity and of its
 * closest enclosing entry (enclosingOf).
 */
interface IrHostIndex {
  lookup: IrLookup;
  sorted: Record<Family, { entries: LpmEntry[]; identityAt: Int32Array; parent: Int32Array }>;
}

const hostIndexes = new WeakMap<Ir, IrHostIndex>();

function hostIndex(ir: Ir): IrHostIndex {
  let x = hostIndexes.get(ir);
  if (!x) {
    const pos = irReach(ir).pos;
    const family = (f: Family) => {
      const entries = ir.lpm.filter((e) => e.prefix.family === f).sort((a, b) => byAddress(a.prefix, b.prefix));
      return { entries, identityAt: Int32Array.from(entries, (e) => pos.get(e.id) ?? -1), parent: enclosingOf(entries.map((e) => e.prefix)) };
    };
    x = { lookup: new IrLookup(ir), sorted: { 4: family(4), 6: family(6) } };
    hostIndexes.set(ir, x);
  }
  return x;
}

/** Longest-prefix resolution over the IR's table (the IR guarantees a /0 per family). */
export function resolveIdentity(ir: Ir, addr: IpAddr): number {
  return hostIndex(ir).lookup.identityOf(addr);
}

/**
 * The family's entries with identities rewritten (`rewrite` is given the
 * identity and its position, -1 when unknown), minus those equal to their
 * closest enclosing entry; a virtual /0 with identity 0 encloses them all.
 */
function pruneFamily(ir: Ir, family: Family, rewrite: (id: number, position: number) => number, denyIngress: (id: number) => boolean): IdEntry[] {
  const { entries, identityAt, parent } = hostIndex(ir).sorted[family];
  const kept: IdEntry[] = [];
  const ids = new Int32Array(entries.length);
  for (let k = 0; k < entries.length; k++) {
    const id = (ids[k] = rewrite(entries[k].id, identityAt[k]));
    if (id !== (parent[k] >= 0 ? ids[parent[k]] : 0)) kept.push({ prefix: entries[k].prefix, id, local: false, denyIngress: denyIngress(id) });
  }
  return kept;
}

/** IdEntry order: byAddress of their prefixes. */
function byPrefix(x: IdEntry, y: IdEntry): number {
  return byAddress(x.prefix, y.prefix);
}

/** Where `prefix` is in `sorted` (by byPrefix), or -1. */
function entryAt(sorted: IdEntry[], prefix: Cidr): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const p = sorted[mid].prefix;
    if (p.addr < prefix.addr || (p.addr === prefix.addr && p.len < prefix.len)) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && sorted[lo].prefix.addr === prefix.addr && sorted[lo].prefix.len === prefix.len ? lo : -1;
}

/** Two lists sorted by byPrefix with no prefix in both, as one. */
function mergeEntries(a: IdEntry[], b: IdEntry[]): IdEntry[] {
  const out: IdEntry[] = [];
  let j = 0;
  for (const e of a) {
    while (j < b.length && byPrefix(b[j], e) < 0) out.push(b[j++]);
    out.push(e);
  }
  while (j < b.length) out.push(b[j++]);
  return out;
}

export interface ShareOptions {
  /** Per-slot entry limit (default: device capacity.aclEntries or HOST_DEFAULT_SLOT_LIMIT). */
  slotLimit?: number;
  /** Where the cells come from (default: the IR's shareCells). */
  cells?: (locals: Iterable<number>, dir: ShareDirection) => Iterable<ShareCell>;
}

/**
 * The rule lists of an IR's hosts, by the rules they hold: hosts on the same
 * rules share one list, so shareArtefacts serialises and digests it once.
 */
const ruleLists = new WeakMap<Ir, Map<string, Pick<HostShare, 'rules' | 'ruleSources'>>>();

/**
 * Numbers the rules a host's cells name 0..n-1 in policy order and rewrites
 * the cells to those numbers. The datapath counts hits per rule number in a
 * per-CPU array (one counter per rule, slot and possible CPU), so the host
 * carries counters for its own rules only: a host on a handful of the
 * policy's 100,000 rules does not hold 100,000 counters on every CPU. The
 * rule list keeps each rule's policy index for status and flow logs.
 */
function hostRules(ir: Ir, policy: PolicyEntry[]): Pick<HostShare, 'rules' | 'ruleSources'> {
  const number = new Int32Array(ir.rules.length).fill(-1);
  for (const e of policy) number[e.rule] = 0;
  const used: number[] = [];
  for (let r = 0; r < number.length; r++) if (number[r] === 0) number[r] = used.push(r) - 1;
  for (const e of policy) e.rule = number[e.rule];
  let byRules = ruleLists.get(ir);
  if (!byRules) ruleLists.set(ir, (byRules = new Map()));
  const key = used.join(',');
  let x = byRules.get(key);
  if (!x) {
    x = {
      rules: used.map((i) => {
        const r = ir.rules[i];
        return { index: r.index, name: r.name, action: r.action, section: r.section, log: r.log };
      }),
      ruleSources: used.map((i) => ({ index: ir.rules[i].index, span: ir.rules[i].span })),
    };
    byRules.set(key, x);
  }
  return x;
}

/** Headroom so that a policy change of moderate size still fits the loaded maps (a delta, not a reload). */
function slotCapacity(n: number): number {
  return n + Math.ceil(n / 4) + 16;
}

export function computeShare(ir: Ir, fabric: Fabric, device: Device, opts: ShareOptions = {}): HostShare {
  const endpoints = localEndpointsOf(fabric, device);
  const localAddresses: IpAddr[] = [];
  const localIdOf = new Map<string, number>();
  const L = new Set<number>();
  for (const e of endpoints) for (const a of e.addresses) {
    const key = `${a.family}|${a.value}`;
    if (localIdOf.has(key)) continue;
    const id = resolveIdentity(ir, a);
    localAddresses.push(a);
    localIdOf.set(key, id);
    L.add(id);
  }

  // Every row first (a local's cells toward one remote), then the classes
  // of remotes alike on this host (remote-classes.ts): only a class's cells
  // are expanded into entries. Remotes that the locals' rules name alike
  // get no rows at all but the first of their group (AlikeRemotes).
  const alike = opts.cells ? undefined : new AlikeRemotes(ir, L);
  const rows = new ShareRows();
  for (const dir of ['egress', 'ingress'] as const) {
    if (opts.cells) rows.pushCells(dir, opts.cells(L, dir));
    else forEachShareRow(ir, L, dir, (local, remote, seg) => rows.push(dir, local, remote, seg), alike);
  }
  const rowClass = remoteClasses(rows, L);
  const classOf = (id: number): number | undefined => {
    const rowsFrom = alike ? alike.groupOf(id) : id;
    return rowsFrom === undefined ? undefined : rowClass.get(rowsFrom);
  };

  const policy: PolicyEntry[] = [];
  // Remotes some specific ingress cell allows; the ANY_REMOTE ingress cells
  // that allow; and every remote's specific ingress denies, which may hide
  // those wildcard allows from it.
  const allowedFrom = new Set<number>();
  const wildAllows: ShareCell[] = [];
  const deniesFrom = new Map<number, ShareCell[]>();
  const action = ir.rules.map((r) => r.action);
  const logged = ir.rules.map((r) => r.log);
  // A cell as arguments, not an object: a host takes hundreds of thousands of them.
  const take = (dir: ShareDirection, local: number, remote: number, proto: IrProto, lo: number, hi: number, rule: number): void => {
    const verdict = action[rule];
    const log = logged[rule];
    if (dir === 'ingress') {
      if (verdict === 'allow') {
        if (remote === ANY_REMOTE) wildAllows.push({ local, remote, proto, lo, hi, rule });
        else allowedFrom.add(remote);
      } else if (remote !== ANY_REMOTE) {
        const list = deniesFrom.get(remote);
        const c = { local, remote, proto, lo, hi, rule };
        if (list) list.push(c);
        else deniesFrom.set(remote, [c]);
      }
    }
    // Object literals, not spreads; most cells are one port.
    if (lo === hi) {
      policy.push({ dir, proto, local, remote, port: lo, portLen: 16, rule, verdict, log });
      return;
    }
    for (const p of portPrefixes(lo, hi)) policy.push({ dir, proto, local, remote, port: p.value, portLen: p.len, rule, verdict, log });
  };
  for (let i = 0; i < rows.length; i++) {
    const remote = rows.remote[i];
    // A class holds its cells once, under the class's identity.
    if (remote !== ANY_REMOTE && !L.has(remote) && rowClass.get(remote) !== remote) continue;
    const dir = rows.dir[i];
    const local = rows.local[i];
    forEachSegmentCell(rows.seg[i], (proto, lo, hi, rule) => take(dir, local, remote, proto, lo, hi, rule));
  }

  // Locals keep their identity; a remote with cells takes its class's; any
  // other identity is named by no cell and becomes ANY_REMOTE (0), which is
  // exactly what the datapath's wildcard lookup needs.
  const rewrite = (id: number): number => (L.has(id) ? id : (classOf(id) ?? ANY_REMOTE));
  // The same by position where it is known, once per identity (an identity
  // can own many LPM entries): most identities are named by no rule of these
  // locals (alike.first < 0), and locals are first of their own group.
  const rewritten = new Int32Array(irReach(ir).count).fill(-1);
  const rewriteAt = (id: number, position: number): number => {
    if (position < 0) return rewrite(id);
    let r = rewritten[position];
    if (r < 0) r = rewritten[position] = alike && alike.first[position] < 0 ? ANY_REMOTE : rewrite(id);
    return r;
  };
  // Judged by its own cells, then the ANY_REMOTE ones, then the default: all
  // must deny. A wildcard allow reaches the identity only where its own deny
  // cells (disjoint, per local and protocol) leave a gap. Once per identity.
  const denies = new Map<number, boolean>();
  const denyIngress = (id: number): boolean => {
    let d = denies.get(id);
    if (d === undefined) {
      d = ir.defaultAction === 'deny' && !allowedFrom.has(id) && wildAllows.every((w) => coveredBy(w, id === ANY_REMOTE ? undefined : deniesFrom.get(id)));
      denies.set(id, d);
    }
    return d;
  };
  const byFamily = (family: Family): IdEntry[] => {
    // Sorted by (address, length), as the LPM entries it keeps.
    const kept = pruneFamily(ir, family, rewriteAt, denyIngress);
    const bits = FAMILY_BITS[family];
    const added: IdEntry[] = [];
    for (const a of localAddresses) {
      if (a.family !== family) continue;
      const id = rewrite(localIdOf.get(`${a.family}|${a.value}`) ?? 0);
      const entry: IdEntry = { prefix: { family, addr: a.value, len: bits }, id, local: true, denyIngress: denyIngress(id) };
      const at = entryAt(kept, entry.prefix);
      if (at >= 0) kept[at] = entry;
      else added.push(entry);
    }
    return added.length === 0 ? kept : mergeEntries(kept, added.sort(byPrefix));
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
        code: CAPACITY_EXCEEDED,
        severity: 'error' as const,
        message: `${device.name}: its share of the policy needs ${n.toLocaleString('en')} entries in the ${what}, over the limit of ${limit.toLocaleString('en')} per generation (${policy.length.toLocaleString('en')} policy entries for ${L.size} local identities, ${endpoints.length} local endpoints)`,
        span: device.span,
        hint: 'raise capacity.aclEntries for this host, or split wide port ranges and broad groups that multiply cells',
      })),
    );
  }

  const rules = hostRules(ir, policy);
  // Room for added rules too, so that a policy growing a little stays a delta.
  const statsStride = slotCapacity(rules.rules.length + 1);
  const ct = Math.min(CT_MAX, Math.max(CT_MIN, endpoints.length * CT_PER_ENDPOINT));
  return {
    device: device.name,
    policyName: ir.policyName,
    defaultAction: ir.defaultAction,
    ...rules,
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

/**
 * The lengths at which an entry's deny-ingress flag differs from that of the
 * entry enclosing it (none: not denied), one per such entry. Looking the
 * address up in the identity table at only these lengths, longest first,
 * the first hit carries the flag of the address's longest match: every entry
 * longer than the hit and covering the address sits at another length, so
 * it has its enclosing entry's flag, and by induction the hit's. No hit: every
 * covering entry has the flag of "none". The XDP early stage so drops a
 * denied source in as many lookups as there are distinct lengths where
 * denials start or stop, usually one. Local addresses are left out: the
 * early stage never judges a local source (it tells them apart without the
 * identity table), and a full-length entry encloses nothing, so the rest
 * keep their flags; a host's own addresses then add no length of their own.
 */
export function dropLengths(entries: IdEntry[]): number[] {
  const sorted = entries.filter((e) => !e.local).sort(byPrefix);
  const parent = enclosingOf(sorted.map((e) => e.prefix));
  const out: number[] = [];
  sorted.forEach((e, k) => {
    const enclosing = parent[k] >= 0 && sorted[parent[k]].denyIngress;
    if (e.denyIngress !== enclosing) out.push(e.prefix.len);
  });
  return out;
}

// ---- the bundle: maps.json and record files -------------------------------

export const MAPS_FORMAT = 'weft.host.maps/v2';

/** A table held in a record file next to maps.json (records.ts). */
export interface RecordsRef {
  file: string;
  count: number;
  /** Prefix lengths present (identity: address bits; policy: port-key bits), for weft_plen_v1. */
  lengths: number[];
  /** Identity tables: the lengths the XDP early stage looks up (dropLengths); absent in older bundles, meaning none. */
  dropLengths?: number[];
  /**
   * sha256 (first 32 hex digits) of every BLOCK_RECORDS records, in order: the
   * agent reads only the blocks two versions do not share. Absent in older
   * bundles, meaning read the whole file.
   */
  blocks?: string[];
  sha256: string;
}

/** rules.json: the rules of the policy (index, name, action, section, log), for status, flow logs and diff; the agent's delta never reads it. */
export const RULES_FILE = 'rules.json';

/**
 * rule-sources.json: file:line:col of each rule, for flow logs. Kept apart
 * from rules.json and out of the generation digest (manifest.ts), so that
 * moving a rule in its file, or writing the policy as JSON instead of YAML,
 * changes no device's generation and redeploys nothing.
 */
export const RULE_SOURCES_FILE = 'rule-sources.json';

/** The sources recorded beside a device's rules; empty where the directory has none. */
export function readRuleSources(dir: string): RuleSource[] {
  const file = join(dir, RULE_SOURCES_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as RuleSource[]) : [];
}

export interface FailsafeJson {
  address: string;
  proto: number;
  port: number;
}

/**
 * maps.json: every map by its kernel name (abi.ts) with its size; the large
 * tables point at their record files, the rest is small enough to read.
 */
export interface MapsJson {
  format: typeof MAPS_FORMAT;
  device: string;
  /**
   * The policy's name only: not its digest, so that a host whose share an
   * edit did not touch keeps byte-equal artefacts (the same generation, no
   * redeploy, and a recompile reuses them).
   */
  policy: { name: string };
  defaultAction: 'allow' | 'deny';
  rulesFile: { file: typeof RULES_FILE; count: number; sha256: string };
  localAddresses: string[];
  localIdentities: number[];
  statsStride: number;
  maps: Record<RecordMap, { maxEntries: number; records: RecordsRef }> &
    Record<typeof MAP.ct | typeof MAP.stats, { maxEntries: number }> &
    Record<typeof MAP.failsafe, { maxEntries: number; entries: FailsafeJson[] }>;
}

/** The maps whose contents live in record files. */
export const RECORD_MAPS = [MAP.id4, MAP.id6, MAP.policy] as const;
export type RecordMap = (typeof RECORD_MAPS)[number];

/** Key and value sizes of each record map. */
export const RECORD_LAYOUT: Record<RecordMap, { key: number; value: number }> = {
  [MAP.id4]: { key: ID4_KEY, value: ID_VALUE },
  [MAP.id6]: { key: ID6_KEY, value: ID_VALUE },
  [MAP.policy]: { key: POLICY_KEY, value: POLICY_VALUE },
};

export const recordsFile = (map: RecordMap): string => `${map}.records`;

export interface HostArtefacts {
  maps: MapsJson;
  records: Record<RecordMap, Buffer>;
  /** The text of rules.json. */
  rules: string;
  /** The text of rule-sources.json. */
  ruleSources: string;
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/**
 * JSON text of a list and its digest, kept for as long as the list is:
 * hosts on the same rules share their rule lists (hostRules), so a fabric of
 * many hosts serialises and digests each list once.
 */
const texts = new WeakMap<object, { text: string; sha256: string }>();

function jsonText(list: object): { text: string; sha256: string } {
  let t = texts.get(list);
  if (t === undefined) {
    const text = `${JSON.stringify(list)}\n`;
    texts.set(list, (t = { text, sha256: sha256(text) }));
  }
  return t;
}

export function shareArtefacts(s: HostShare): HostArtefacts {
  const records: Record<RecordMap, Buffer> = {
    [MAP.id4]: encodeIdRecords(4, s.id4),
    [MAP.id6]: encodeIdRecords(6, s.id6),
    [MAP.policy]: encodePolicyRecords(s.policy),
  };
  const descending = (lengths: number[]) => [...new Set(lengths)].sort((a, b) => b - a);
  const ref = (map: RecordMap, count: number, lengths: number[]): RecordsRef => ({
    file: recordsFile(map),
    count,
    lengths: descending(lengths),
    sha256: sha256(records[map]),
    blocks: blockDigests(records[map], RECORD_LAYOUT[map].key + RECORD_LAYOUT[map].value, (b) => sha256(b).slice(0, 32)),
  });
  const idRef = (map: RecordMap, es: IdEntry[]): RecordsRef => ({ ...ref(map, es.length, es.map((e) => e.prefix.len)), dropLengths: descending(dropLengths(es)) });
  const rules = jsonText(s.rules);
  const ruleSources = jsonText(s.ruleSources);
  const maps: MapsJson = {
    format: MAPS_FORMAT,
    device: s.device,
    policy: { name: s.policyName },
    defaultAction: s.defaultAction,
    rulesFile: { file: RULES_FILE, count: s.rules.length, sha256: rules.sha256 },
    localAddresses: s.localAddresses.map((a) => formatIp(a.family, a.value)),
    localIdentities: s.localIdentities,
    statsStride: s.statsStride,
    maps: {
      [MAP.id4]: { maxEntries: s.maxEntries.id4, records: idRef(MAP.id4, s.id4) },
      [MAP.id6]: { maxEntries: s.maxEntries.id6, records: idRef(MAP.id6, s.id6) },
      [MAP.policy]: { maxEntries: s.maxEntries.policy, records: ref(MAP.policy, s.policy.length, s.policy.map((e) => e.portLen)) },
      [MAP.ct]: { maxEntries: s.maxEntries.ct },
      [MAP.stats]: { maxEntries: s.maxEntries.stats },
      [MAP.failsafe]: {
        maxEntries: s.maxEntries.failsafe,
        entries: s.failsafe.map((f) => ({ address: formatIp(f.address.family, f.address.value), proto: f.proto, port: f.port })),
      },
    },
  };
  return { maps, records, rules: rules.text, ruleSources: ruleSources.text };
}

/** A device directory's host artefacts as comparable text: each map's entries (records as hex), the rules and the default. */
export function readHostEntries(dir: string): { defaultAction: MapsJson['defaultAction']; rules: HostShare['rules']; maps: Record<string, string[]> } {
  const file = join(dir, 'maps.json');
  const j = checkMapsJson(JSON.parse(readFileSync(file, 'utf8')) as MapsJson, file);
  const src = dirRecords(dir, j);
  const maps: Record<string, string[]> = { [MAP.failsafe]: j.maps[MAP.failsafe].entries.map((f) => `${f.address} ${f.proto} ${f.port}`) };
  for (const map of RECORD_MAPS) {
    const t = src.table(map);
    const rec = t.keySize + t.valueSize;
    maps[map] = Array.from({ length: t.count }, (_, i) => t.data.toString('hex', i * rec, (i + 1) * rec));
  }
  return { defaultAction: j.defaultAction, rules: readHostRules(dir), maps };
}

/** The rules listed in a device directory's rules.json. */
export function readHostRules(dir: string): HostShare['rules'] {
  return JSON.parse(readFileSync(join(dir, RULES_FILE), 'utf8')) as HostShare['rules'];
}

function parseAddr(t: string, where: string): IpAddr {
  const a = parseIp(t);
  if (!a) throw new Error(`${where}: bad address "${t}"`);
  return a;
}

/** Checks the format of maps.json (the record files are checked when read). */
export function checkMapsJson(j: MapsJson, where = 'maps.json'): MapsJson {
  if (j.format !== MAPS_FORMAT) throw new Error(`${where}: format "${String(j.format)}" is not ${MAPS_FORMAT} (recompile the bundle with this weft)`);
  for (const name of [MAP.id4, MAP.id6, MAP.policy, MAP.ct, MAP.stats, MAP.failsafe]) {
    if (!j.maps?.[name]) throw new Error(`${where}: no entry for map ${name} (recompile the bundle with this weft)`);
  }
  if (j.rulesFile?.file !== RULES_FILE) throw new Error(`${where}: does not name its rules file ${RULES_FILE}`);
  for (const name of RECORD_MAPS) {
    if (j.maps[name].records?.file !== recordsFile(name)) throw new Error(`${where}: map ${name} does not name its record file ${recordsFile(name)}`);
  }
  return j;
}

/**
 * maps.json with its record tables, each read and checked on first use: a
 * delta reads no table whose digest says it did not change.
 */
export interface RecordSource {
  maps: MapsJson;
  table(map: RecordMap): RecordTable;
  /** Records [from, to) of a table, reading no more of its file than those. */
  window(map: RecordMap, from: number, to: number): RecordTable;
}

/** Where a source's record files come from: whole, or a byte range after checking the header. */
interface RecordBytes {
  whole(map: RecordMap): Buffer;
  /** The header, the file's length, and bytes [start, end) of the file. */
  part(map: RecordMap, start: number, end: number): { header: Buffer; length: number; bytes: Buffer };
}

function lazyRecords(j: MapsJson, files: RecordBytes, where: (map: RecordMap) => string): RecordSource {
  const cache = new Map<RecordMap, RecordTable>();
  const counted = (map: RecordMap, count: number) => {
    if (count !== j.maps[map].records.count) throw new Error(`${where(map)}: ${count} records, maps.json says ${j.maps[map].records.count}`);
  };
  const table = (map: RecordMap): RecordTable => {
    let t = cache.get(map);
    if (!t) {
      t = decodeRecords(files.whole(map), RECORD_LAYOUT[map].key, RECORD_LAYOUT[map].value, where(map));
      counted(map, t.count);
      cache.set(map, t);
    }
    return t;
  };
  return {
    maps: j,
    table,
    window(map, from, to) {
      const { key, value } = RECORD_LAYOUT[map];
      const rec = key + value;
      const cached = cache.get(map);
      if (cached) return { keySize: key, valueSize: value, count: to - from, data: cached.data.subarray(from * rec, to * rec) };
      const p = files.part(map, RECORDS_HEADER + from * rec, RECORDS_HEADER + to * rec);
      const count = checkRecordsHeader(p.header, p.length, key, value, where(map));
      counted(map, count);
      if (from < 0 || to > count || from > to) throw new Error(`${where(map)}: records ${from}..${to} are not within its ${count}`);
      return { keySize: key, valueSize: value, count: to - from, data: p.bytes };
    },
  };
}

/** The records of artefacts still in memory (a slot written without a bundle on disk). */
export function artefactRecords(a: HostArtefacts): RecordSource {
  const whole = (map: RecordMap) => a.records[map];
  return lazyRecords(
    a.maps,
    { whole, part: (map, start, end) => ({ header: whole(map).subarray(0, RECORDS_HEADER), length: whole(map).length, bytes: whole(map).subarray(start, end) }) },
    (map) => a.maps.maps[map].records.file,
  );
}

/** The record files maps.json names, in `dir`. */
export function dirRecords(dir: string, j: MapsJson): RecordSource {
  const path = (map: RecordMap) => join(dir, j.maps[map].records.file);
  const part = (map: RecordMap, start: number, end: number) => {
    const fd = openSync(path(map), 'r');
    try {
      const header = Buffer.alloc(RECORDS_HEADER);
      readSync(fd, header, 0, RECORDS_HEADER, 0);
      const length = fstatSync(fd).size;
      const bytes = Buffer.alloc(Math.max(0, Math.min(end, length) - start));
      if (bytes.length > 0 && readSync(fd, bytes, 0, bytes.length, start) !== bytes.length) throw new Error(`${path(map)}: short read`);
      return { header, length, bytes };
    } finally {
      closeSync(fd);
    }
  };
  return lazyRecords(j, { whole: (map) => readFileSync(path(map)), part }, path);
}

/**
 * The parts of a table in which `before` and `after` may differ, by their
 * block digests; whole tables when either side has no block index (older
 * bundles) or there is no `before`.
 */
export function changedWindows(before: RecordSource | undefined, after: RecordSource, map: RecordMap): { before?: RecordTable; after: RecordTable } {
  const b = before?.maps.maps[map].records;
  const a = after.maps.maps[map].records;
  if (!before || !b?.blocks || !a.blocks) return { before: before?.table(map), after: after.table(map) };
  const r = changedRange({ count: b.count, blocks: b.blocks }, { count: a.count, blocks: a.blocks });
  return { before: before.window(map, r.from, r.toBefore), after: after.window(map, r.from, r.toAfter) };
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

/** The share back from its artefacts: every record decoded (for the interpreter and tests, not the agent). */
export function shareFromArtefacts(src: RecordSource, rules: HostShare['rules'], where = 'maps.json'): HostShare {
  const j = checkMapsJson(src.maps, where);
  const all = <T>(t: RecordTable, decode: (k: Buffer, v: Buffer) => T): T[] => Array.from({ length: t.count }, (_, i) => decode(recordKey(t, i), recordValue(t, i)));
  return {
    device: j.device,
    policyName: j.policy.name,
    defaultAction: j.defaultAction,
    rules,
    ruleSources: [],
    localAddresses: j.localAddresses.map((a) => parseAddr(a, where)),
    localIdentities: j.localIdentities,
    id4: all(src.table(MAP.id4), decodeIdRecord),
    id6: all(src.table(MAP.id6), decodeIdRecord),
    policy: all(src.table(MAP.policy), decodePolicyRecord),
    failsafe: failsafeFromJson(j, where),
    maxEntries: sizesFromJson(j),
    statsStride: j.statsStride,
  };
}

/** Whether `denies` (disjoint cells) cover every port of `w` at its local identity and protocol. */
function coveredBy(w: ShareCell, denies: ShareCell[] | undefined): boolean {
  if (!denies) return false;
  const parts = denies.filter((d) => d.local === w.local && d.proto === w.proto && d.hi >= w.lo && d.lo <= w.hi).sort((a, b) => a.lo - b.lo);
  let next = w.lo;
  for (const d of parts) {
    if (d.lo > next) return false;
    next = Math.max(next, d.hi + 1);
    if (next > w.hi) return true;
  }
  return next > w.hi;
}
