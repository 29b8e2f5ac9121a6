// A DPU's prefilter share: the host's share of the same endpoints
// (targets/host/share.ts, the host behind the NIC or the DPU's own), cut to
// what a stateless IPv4 prefilter uses and to what the NIC can hold, and its
// bundle form (maps.json and the host's record files).
//
// What the NIC holds, by what fits its capacity:
//   whole     every cell and the policy's default: lookups answer as on the
//             host, so the prefilter drops every denied flow it can tell
//             apart from a reply.
//   deny-set  the cells of deny rules, the allow cells that override a
//             deny valid for any remote (ANY_REMOTE) at the same port, and
//             "pass" where nothing matches: the default action and the other
//             allow cells stay on the host. Every deny this table answers is
//             a deny of the whole policy: a specific remote's cell is looked
//             up before the ANY_REMOTE cell, and every specific allow that
//             could sit in front of a kept ANY_REMOTE deny is kept.
// A NIC that cannot hold even the deny set is refused (bad input).

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Device, DpuProfile, Fabric } from '../../inventory/model.ts';
import { InputError } from '../../orchestrator/diagnostics.ts';
import type { Ir } from '../../orchestrator/ir/model.ts';
import { ANY_REMOTE } from '../../orchestrator/ir/share.ts';
import { formatIp, parseIp, type IpAddr } from '../../orchestrator/net/ip.ts';
import { ID4_KEY, ID_VALUE, POLICY_KEY, POLICY_VALUE } from '../host/abi.ts';
import { decodeIdRecord, decodePolicyRecord, encodeIdRecords, encodePolicyRecords } from '../host/encode.ts';
import { decodeRecords, recordKey, recordValue } from '../host/records.ts';
import { computeShare, type HostShare, type IdEntry, type PolicyEntry, type RecordsRef } from '../host/share.ts';
import { CAPACITY_EXCEEDED } from '../contract.ts';
import { DPU_COUNTERS, DPU_MAP } from './abi.ts';
import type { PrefilterBuild } from './build.ts';
import { profileOf } from './profiles.ts';

export type NicScope = 'whole' | 'deny-set';

export interface PrefilterShare {
  device: string;
  profile: DpuProfile;
  policyName: string;
  /** What the NIC answers where no cell matches: the policy's default (whole), or allow (deny-set). */
  defaultAction: 'allow' | 'deny';
  scope: NicScope;
  rules: HostShare['rules'];
  /** IPv4 addresses of the endpoints behind the NIC. */
  localAddresses: IpAddr[];
  id4: IdEntry[];
  policy: PolicyEntry[];
  /** Entries the NIC holds in all (inventory capacity.aclEntries, else the profile's). */
  capacity: number;
  /** Allow cells the NIC does not hold (deny-set): the host behind it enforces them and the default. */
  allowEntriesLeftToHost: number;
}

/** Entries a device's NIC holds: the inventory's capacity, else its profile's default. */
export function capacityOf(device: Device): number {
  return device.capacity?.aclEntries ?? profileOf(device.profile ?? 'generic').defaultEntries;
}

const portEnd = (e: PolicyEntry) => e.port + 2 ** (16 - e.portLen) - 1;

/** Specific-remote allow cells that overlap an ANY_REMOTE deny cell of the same direction, protocol and local identity. */
function shadowingAllows(cells: PolicyEntry[]): PolicyEntry[] {
  const anyDenies = new Map<string, PolicyEntry[]>();
  for (const c of cells) {
    if (c.verdict !== 'deny' || c.remote !== ANY_REMOTE) continue;
    const k = `${c.dir}|${c.proto}|${c.local}`;
    const l = anyDenies.get(k);
    if (l) l.push(c);
    else anyDenies.set(k, [c]);
  }
  return cells.filter(
    (c) => c.verdict === 'allow' && c.remote !== ANY_REMOTE && (anyDenies.get(`${c.dir}|${c.proto}|${c.local}`) ?? []).some((d) => d.port <= portEnd(c) && c.port <= portEnd(d)),
  );
}

export function prefilterShare(ir: Ir, fabric: Fabric, device: Device): PrefilterShare {
  const profile = device.profile ?? 'generic';
  const host = computeShare(ir, fabric, device, { slotLimit: Number.MAX_SAFE_INTEGER });
  const capacity = capacityOf(device);
  const cells = host.policy;
  const base = {
    device: device.name,
    profile,
    policyName: host.policyName,
    rules: host.rules,
    localAddresses: host.localAddresses.filter((a) => a.family === 4),
    id4: host.id4,
    capacity,
  };
  if (host.id4.length + cells.length <= capacity) {
    return { ...base, defaultAction: host.defaultAction, scope: 'whole', policy: cells, allowEntriesLeftToHost: 0 };
  }
  const denies = cells.filter((e) => e.verdict === 'deny');
  const shadows = shadowingAllows(cells);
  const need = host.id4.length + denies.length + shadows.length;
  if (need > capacity) {
    throw new InputError([
      {
        code: CAPACITY_EXCEEDED,
        severity: 'error',
        message: `${device.name}: its ${profile} NIC holds ${capacity.toLocaleString('en')} entries, but even the deny set of its share needs ${need.toLocaleString('en')} (${host.id4.length} address entries, ${denies.length} deny cells, ${shadows.length} allow cells in front of denies valid for any remote)`,
        span: device.span,
        hint: 'raise capacity.aclEntries if the NIC holds more, choose a larger profile (generic, bluefield), or narrow the groups and port ranges of the deny rules touching this host',
      },
    ]);
  }
  const allows = cells.length - denies.length;
  return { ...base, defaultAction: 'allow', scope: 'deny-set', policy: [...denies, ...shadows], allowEntriesLeftToHost: allows - shadows.length };
}

/** Rules with at least one deny cell the NIC holds. */
export function rulesAtNic(s: PrefilterShare): Set<number> {
  return new Set(s.policy.filter((e) => e.verdict === 'deny').map((e) => e.rule));
}

export function buildOf(s: Pick<PrefilterShare, 'id4' | 'policy' | 'defaultAction'>): PrefilterBuild {
  const desc = (xs: number[]) => [...new Set(xs)].sort((a, b) => b - a);
  return { idLengths: desc(s.id4.map((e) => e.prefix.len)), portLengths: desc(s.policy.map((e) => e.portLen)), defaultAction: s.defaultAction };
}

// ---- the bundle ------------------------------------------------------------

export const DPU_MAPS_FORMAT = 'weft.dpu.maps/v1';
export const DPU_RULES_FILE = 'rules.json';

/** maps.json of a prefilter device: every map of offload.bpf.o with its size; the tables point at record files. */
export interface DpuMapsJson {
  format: typeof DPU_MAPS_FORMAT;
  device: string;
  profile: DpuProfile;
  /** The name only, as a host's maps.json (targets/host/share.ts). */
  policy: { name: string };
  defaultAction: 'allow' | 'deny';
  rulesFile: { file: typeof DPU_RULES_FILE; count: number };
  localAddresses: string[];
  build: PrefilterBuild;
  scope: NicScope;
  capacity: { entries: number; used: number; allowEntriesLeftToHost: number };
  maps: {
    [DPU_MAP.id4]: { maxEntries: number; records: RecordsRef };
    [DPU_MAP.policy]: { maxEntries: number; records: RecordsRef };
    [DPU_MAP.stats]: { maxEntries: number };
    [DPU_MAP.counters]: { maxEntries: number };
  };
}

export const TABLE_MAPS = [DPU_MAP.id4, DPU_MAP.policy] as const;
export type TableMap = (typeof TABLE_MAPS)[number];
export const TABLE_LAYOUT: Record<TableMap, { key: number; value: number }> = {
  [DPU_MAP.id4]: { key: ID4_KEY, value: ID_VALUE },
  [DPU_MAP.policy]: { key: POLICY_KEY, value: POLICY_VALUE },
};
export const tableFile = (map: TableMap): string => `${map}.records`;

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

export interface PrefilterArtefacts {
  maps: DpuMapsJson;
  records: Record<TableMap, Buffer>;
  rules: string;
}

export function prefilterArtefacts(s: PrefilterShare): PrefilterArtefacts {
  const records: Record<TableMap, Buffer> = {
    [DPU_MAP.id4]: encodeIdRecords(4, s.id4),
    [DPU_MAP.policy]: encodePolicyRecords(s.policy),
  };
  const build = buildOf(s);
  const ref = (map: TableMap, count: number, lengths: number[]): RecordsRef => ({ file: tableFile(map), count, lengths, sha256: sha256(records[map]) });
  const maps: DpuMapsJson = {
    format: DPU_MAPS_FORMAT,
    device: s.device,
    profile: s.profile,
    policy: { name: s.policyName },
    defaultAction: s.defaultAction,
    rulesFile: { file: DPU_RULES_FILE, count: s.rules.length },
    localAddresses: s.localAddresses.map((a) => formatIp(a.family, a.value)),
    build,
    scope: s.scope,
    capacity: { entries: s.capacity, used: s.id4.length + s.policy.length, allowEntriesLeftToHost: s.allowEntriesLeftToHost },
    maps: {
      // Preallocated (flags 0), sized to the share: the agent reloads on every change, so no headroom.
      [DPU_MAP.id4]: { maxEntries: Math.max(1, s.id4.length), records: ref(DPU_MAP.id4, s.id4.length, build.idLengths) },
      [DPU_MAP.policy]: { maxEntries: Math.max(1, s.policy.length), records: ref(DPU_MAP.policy, s.policy.length, build.portLengths) },
      [DPU_MAP.stats]: { maxEntries: s.rules.length + 1 },
      [DPU_MAP.counters]: { maxEntries: DPU_COUNTERS.length },
    },
  };
  return { maps, records, rules: `${JSON.stringify(s.rules)}\n` };
}

export function checkDpuMapsJson(j: DpuMapsJson, where: string): DpuMapsJson {
  if (j.format !== DPU_MAPS_FORMAT) throw new Error(`${where}: format "${String(j.format)}" is not ${DPU_MAPS_FORMAT} (recompile the bundle with this weft)`);
  for (const name of Object.values(DPU_MAP)) if (!j.maps?.[name]) throw new Error(`${where}: no entry for map ${name} (recompile the bundle with this weft)`);
  for (const name of TABLE_MAPS) if (j.maps[name].records?.file !== tableFile(name)) throw new Error(`${where}: map ${name} does not name its record file ${tableFile(name)}`);
  return j;
}

/** A prefilter device directory read back: maps.json, its tables as records, and the share they hold. */
export interface PrefilterDir {
  maps: DpuMapsJson;
  tables: Record<TableMap, ReturnType<typeof decodeRecords>>;
  share: PrefilterShare;
}

export function readPrefilterDir(dir: string): PrefilterDir {
  const file = join(dir, 'maps.json');
  const maps = checkDpuMapsJson(JSON.parse(readFileSync(file, 'utf8')) as DpuMapsJson, file);
  const table = (map: TableMap) => {
    const t = decodeRecords(readFileSync(join(dir, tableFile(map))), TABLE_LAYOUT[map].key, TABLE_LAYOUT[map].value, join(dir, tableFile(map)));
    const want = maps.maps[map].records.count;
    if (t.count !== want) throw new Error(`${join(dir, tableFile(map))}: ${t.count} records, maps.json says ${want}`);
    return t;
  };
  const tables = { [DPU_MAP.id4]: table(DPU_MAP.id4), [DPU_MAP.policy]: table(DPU_MAP.policy) };
  const all = <T>(t: (typeof tables)[TableMap], decode: (k: Buffer, v: Buffer) => T): T[] => Array.from({ length: t.count }, (_, i) => decode(recordKey(t, i), recordValue(t, i)));
  const rules = JSON.parse(readFileSync(join(dir, DPU_RULES_FILE), 'utf8')) as HostShare['rules'];
  const share: PrefilterShare = {
    device: maps.device,
    profile: maps.profile,
    policyName: maps.policy.name,
    defaultAction: maps.defaultAction,
    rules,
    localAddresses: maps.localAddresses.map((a) => {
      const ip = parseIp(a);
      if (!ip) throw new Error(`${file}: bad address "${a}"`);
      return ip;
    }),
    id4: all(tables[DPU_MAP.id4], decodeIdRecord),
    policy: all(tables[DPU_MAP.policy], decodePolicyRecord),
    scope: maps.scope,
    capacity: maps.capacity.entries,
    allowEntriesLeftToHost: maps.capacity.allowEntriesLeftToHost,
  };
  return { maps, tables, share };
}
