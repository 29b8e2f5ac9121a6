// Loads the host datapath object through libbpf and writes a host share into
// its maps. Two kinds of values: `HostMaps` (live file descriptors that must
// be closed) and the inert `HostShare` data they are filled from.
//
// Generations: every policy entry and identity entry carries a slot byte
// (0/1). A new share is written into the slot packets are not using, as a
// delta against what that slot held before; then one 4-byte update of
// weft_ctl_v1[active] switches every packet to it. A packet reads the slot
// once, so it never mixes two policies; conntrack is keyed by addresses and
// is shared by both slots, so established connections survive.

import { readFileSync } from 'node:fs';
import { CTL, FAILSAFE_KEY, LOCALS_BUCKET, LOCALS_BUCKET_BITS, LOCALS_BUCKETS, LOCALS_OVERFLOW, LOCALS_WAYS, MAP, PLEN, PLEN_TABLES, PROG, STATS_VALUE, VERDICT, type MapConcern } from './abi.ts';
import { parseIp, type Family } from '../../orchestrator/net/ip.ts';
import { failsafeKey, plensValue, u32 } from './encode.ts';
import { libbpf, LibbpfError, withLibbpfLog, type Ptr } from './libbpf.ts';
import { diffRecords, recordKey, recordValue, type RecordTable } from './records.ts';
import { changedWindows, failsafeFromJson, RECORD_MAPS, type MapsJson, type MapSizes, type RecordMap, type RecordSource } from './share.ts';

export interface LoadSettings {
  sizes: MapSizes;
  statsStride: number;
  /** skb mark bit set on judged packets (0 disables the once-per-host rule). */
  seenMark: number;
  /** Flow log events per second per CPU (also the burst); default DEFAULT_LOG_RATE. */
  logRate?: number;
  /** Existing conntrack maps to adopt (a reload keeps established connections and what is known of their remotes). */
  reuse?: { ct: number; ctRemotes: number };
  /** The flow log ring to adopt, so that a reader following it keeps reading across a reload. */
  reuseFlowlog?: number;
}

/** Flow log events a CPU emits per second (and at once after a quiet spell) unless the agent is told otherwise. */
export const DEFAULT_LOG_RATE = 100;

/** The verifier (or libbpf) refused the object; `summary` holds the lines that say why. */
export class VerifierError extends Error {
  constructor(
    readonly failure: Error,
    readonly log: string[],
  ) {
    super(`the kernel refused the host datapath: ${failure.message}\n${VerifierError.summarize(log).join('\n')}`);
    this.name = 'VerifierError';
  }

  /** The verifier's own complaint is at the end of its log: that tail, and libbpf's one-line reason. */
  static summarize(log: string[]): string[] {
    const lastIndex = (text: string) => log.map((l) => l.includes(text)).lastIndexOf(true);
    const begin = lastIndex('BEGIN PROG LOAD LOG');
    const end = lastIndex('END PROG LOAD LOG');
    const verifier = begin >= 0 ? log.slice(begin + 1, end > begin ? end : undefined) : [];
    const reason = log.filter((l) => /^libbpf: .*(failed|error)/i.test(l)).slice(0, 2);
    return [...reason, ...(verifier.length ? ['verifier log (tail):', ...verifier.slice(-12)] : log.slice(-12))].map((l) => `  ${l}`);
  }
}

export interface MapFds {
  fds: Record<MapConcern, number>;
}

export interface HostMaps extends MapFds {
  obj: Ptr;
  progs: { tc: number; xdp: number };
}

export const MAP_CONCERNS = Object.keys(MAP) as MapConcern[];


/** struct weft_cfg of bpf/lib/maps.h: four u32 in this order. */
function cfgBlob(s: LoadSettings): Buffer {
  const rate = s.logRate ?? DEFAULT_LOG_RATE;
  const b = Buffer.alloc(16);
  b.writeUInt32LE(s.statsStride, 0);
  b.writeUInt32LE(s.seenMark >>> 0, 4);
  b.writeUInt32LE(rate, 8);
  b.writeUInt32LE(rate, 12);
  return b;
}

/** Opens the object, sizes its maps, loads it. Throws VerifierError with the log on refusal. */
export function loadObject(objectPath: string, s: LoadSettings): HostMaps {
  readFileSync(objectPath, { flag: 'r' }).length; // a missing file is a plain ENOENT, not a libbpf message
  const obj = libbpf.openFile(objectPath);
  try {
    const sizeOf: Record<MapConcern, number | undefined> = {
      ctl: undefined,
      counters: undefined,
      plen: undefined,
      id4: s.sizes.id4,
      id6: s.sizes.id6,
      policy: s.sizes.policy,
      ct: s.sizes.ct,
      ctRemotes: undefined,
      stats: s.sizes.stats,
      failsafe: s.sizes.failsafe,
      flowlog: undefined,
      logRate: undefined,
      locals: undefined,
    };
    for (const c of MAP_CONCERNS) {
      const n = sizeOf[c];
      if (n !== undefined) libbpf.setMaxEntries(libbpf.findMap(obj, MAP[c]), Math.max(1, n));
    }
    libbpf.setInitialValue(libbpf.rodataMap(obj), cfgBlob(s));
    if (s.reuse) {
      libbpf.reuseFd(libbpf.findMap(obj, MAP.ct), s.reuse.ct);
      libbpf.reuseFd(libbpf.findMap(obj, MAP.ctRemotes), s.reuse.ctRemotes);
    }
    if (s.reuseFlowlog !== undefined) libbpf.reuseFd(libbpf.findMap(obj, MAP.flowlog), s.reuseFlowlog);
    const r = withLibbpfLog(() => libbpf.load(obj));
    if (r.error) {
      const e = r.error instanceof Error ? r.error : new Error(String(r.error));
      if (e instanceof LibbpfError && e.errno === 1) {
        throw new Error(`loading eBPF needs root (CAP_BPF, CAP_NET_ADMIN): ${e.message}`);
      }
      throw new VerifierError(e, r.lines);
    }
    const fds = {} as Record<MapConcern, number>;
    for (const c of MAP_CONCERNS) fds[c] = libbpf.mapFd(libbpf.findMap(obj, MAP[c]));
    return { obj, fds, progs: { tc: libbpf.programFd(obj, PROG.tc), xdp: libbpf.programFd(obj, PROG.xdp) } };
  } catch (e) {
    libbpf.close(obj);
    throw e;
  }
}

export function closeObject(m: HostMaps): void {
  libbpf.close(m.obj);
}

export interface DeltaStats {
  deleted: number;
  written: number;
}

/** Writes records `idx` of `t` with byte 0 of each key set to `slot`: one batch call where the kernel has it. */
function writeRecords(fd: number, slot: number, t: RecordTable, idx: number[]): void {
  if (idx.length === 0) return;
  const keys = Buffer.alloc(idx.length * t.keySize);
  const values = Buffer.alloc(idx.length * t.valueSize);
  idx.forEach((r, n) => {
    recordKey(t, r).copy(keys, n * t.keySize);
    keys[n * t.keySize] = slot;
    recordValue(t, r).copy(values, n * t.valueSize);
  });
  if (idx.length > 1 && libbpf.updateBatch(fd, keys, values, idx.length)) return;
  for (let n = 0; n < idx.length; n++) {
    libbpf.update(fd, keys.subarray(n * t.keySize, (n + 1) * t.keySize), values.subarray(n * t.valueSize, (n + 1) * t.valueSize));
  }
}

function deleteRecords(fd: number, slot: number, t: RecordTable, idx: number[]): void {
  const key = Buffer.alloc(t.keySize);
  for (const r of idx) {
    recordKey(t, r).copy(key);
    key[0] = slot;
    libbpf.delete(fd, key);
  }
}

/**
 * Brings one (inactive) slot from `before` to `after` (undefined: the slot is
 * empty): of the tables whose digests differ, the blocks whose digests
 * differ are read and merged, and only the records that differ are written
 * or deleted. A one-rule change reads a block or two and costs a few
 * syscalls, however large the tables. `mark` is told when the diff is done.
 */
export function writeSlot(m: MapFds, slot: number, after: RecordSource, before?: RecordSource, mark?: (phase: 'diff') => void): DeltaStats {
  let deleted = 0;
  let written = 0;
  const fdOf: Record<RecordMap, number> = { [MAP.id4]: m.fds.id4, [MAP.id6]: m.fds.id6, [MAP.policy]: m.fds.policy };
  // Same digest, same records: the table is not even read.
  const changed = RECORD_MAPS.filter((map) => !before || before.maps.maps[map].records.sha256 !== after.maps.maps[map].records.sha256);
  // Only the blocks the two versions do not share are read and merged.
  const deltas = changed.map((map) => {
    const w = changedWindows(before, after, map);
    return { ...w, d: diffRecords(w.before, w.after) };
  });
  mark?.('diff');
  changed.forEach((map, i) => {
    const { d, before: was, after: now } = deltas[i];
    // Deletions first, so the map never needs room for both contents of the slot.
    if (was) deleteRecords(fdOf[map], slot, was, d.removed);
    writeRecords(fdOf[map], slot, now, d.changed);
    deleted += d.removed.length;
    written += d.changed.length;
  });
  // Lengths last: until the flip no packet reads this slot, and after it every listed length has its entries.
  const refs = after.maps.maps;
  const plens: [number, number[]][] = [
    [PLEN.id4, refs[MAP.id4].records.lengths],
    [PLEN.id6, refs[MAP.id6].records.lengths],
    [PLEN.policy, refs[MAP.policy].records.lengths],
    // A bundle without them: no early drops, which is always sound.
    [PLEN.drop4, refs[MAP.id4].records.dropLengths ?? []],
    [PLEN.drop6, refs[MAP.id6].records.dropLengths ?? []],
  ];
  for (const [table, lengths] of plens) libbpf.update(m.fds.plen, u32(slot * PLEN_TABLES + table), plensValue(lengths));
  // Before the flip, like the lengths: the early stage must not see an address as remote that the slot makes local.
  if (!before || before.maps.localAddresses.join() !== after.maps.localAddresses.join()) {
    for (const family of [4, 6] as const) libbpf.update(m.fds.locals, u32(slot * 2 + (family === 6 ? 1 : 0)), localsValue(family, after.maps.localAddresses));
  }
  libbpf.update(m.fds.ctl, u32(CTL.defaultSlot0 + slot), u32(VERDICT[after.maps.defaultAction]));
  return { deleted, written };
}

/** An address as the datapath holds it: 16 bytes, network order, IPv4 in the first 4. */
function addressBytes(family: Family, value: bigint): Buffer {
  const b = Buffer.alloc(16);
  const bytes = family === 4 ? 4 : 16;
  for (let i = 0; i < bytes; i++) b[i] = Number((value >> BigInt(8 * (bytes - 1 - i))) & 0xffn);
  return b;
}

/** The bucket lib/locals.h hashes an address to (same multiply, same words). */
export function localsBucket(addr: Buffer): number {
  const x = addr.readUInt32LE(0) ^ addr.readUInt32LE(4) ^ addr.readUInt32LE(8) ^ addr.readUInt32LE(12);
  return Math.imul(x, 2654435761) >>> (32 - LOCALS_BUCKET_BITS);
}

/** One family's weft_locals_v1 value (abi.ts LOCALS_*) for a slot's local addresses. */
export function localsValue(family: Family, addresses: string[]): Buffer {
  const v = Buffer.alloc(LOCALS_BUCKETS * LOCALS_BUCKET);
  for (const text of addresses) {
    const ip = parseIp(text);
    if (!ip) throw new Error(`maps.json lists a local address that is not one: ${text}`);
    if (ip.family !== family) continue;
    const addr = addressBytes(family, ip.value);
    const at = localsBucket(addr) * LOCALS_BUCKET;
    const n = v.readUInt32LE(at);
    if (n === LOCALS_OVERFLOW) continue;
    if (n === LOCALS_WAYS) {
      v.writeUInt32LE(LOCALS_OVERFLOW, at);
      continue;
    }
    addr.copy(v, at + 16 + 16 * n);
    v.writeUInt32LE(n + 1, at);
  }
  return v;
}

/**
 * Brings the failsafe list to `after` (not per slot: it only ever allows
 * more). New entries go in before stale ones go out, so a listed service is
 * never briefly unlisted.
 */
export function writeFailsafe(m: MapFds, after: MapsJson): void {
  const want = new Map(failsafeFromJson(after).map((f) => [failsafeKey(f).toString('hex'), failsafeKey(f)]));
  for (const k of want.values()) libbpf.update(m.fds.failsafe, k, u32(1));
  const stale: Buffer[] = [];
  const key = Buffer.alloc(FAILSAFE_KEY);
  let prev: Buffer | null = null;
  while (libbpf.nextKey(m.fds.failsafe, prev, key)) {
    if (!want.has(key.toString('hex'))) stale.push(Buffer.from(key));
    prev = Buffer.from(key);
  }
  for (const k of stale) libbpf.delete(m.fds.failsafe, k);
  libbpf.update(m.fds.ctl, u32(CTL.failsafeCount), u32(want.size));
}

export function possibleCpus(): number {
  const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  let n = 0;
  for (const part of text.split(',')) {
    const [lo, hi] = part.split('-').map(Number);
    n += (hi ?? lo) - lo + 1;
  }
  return n;
}

/** The switch: packets read the new slot from the next one on. */
export function activate(m: MapFds, slot: number, generation: number): void {
  libbpf.update(m.fds.ctl, u32(CTL.generation), u32(generation));
  libbpf.update(m.fds.ctl, u32(CTL.activeSlot), u32(slot));
}

export function readCtl(ctlFd: number): { activeSlot: number; generation: number } {
  const v = Buffer.alloc(4);
  libbpf.lookup(ctlFd, u32(CTL.activeSlot), v);
  const activeSlot = v.readUInt32LE(0);
  libbpf.lookup(ctlFd, u32(CTL.generation), v);
  return { activeSlot, generation: v.readUInt32LE(0) };
}

export interface RuleHits {
  packets: bigint;
  bytes: bigint;
}

/**
 * Rule hit counters of one generation, summed over CPUs, for indices
 * lo..lo+n-1. A counter tagged with another generation counts hits of an
 * earlier use of the slot: zero for this one (the datapath restarts it on
 * its next hit, so a switch never has to clear the slot's counters).
 */
export function readRuleHits(fd: number, lo: number, n: number, generation: number): RuleHits[] {
  const cpus = possibleCpus();
  const v = Buffer.alloc(STATS_VALUE * cpus);
  const out: RuleHits[] = [];
  for (let i = 0; i < n; i++) {
    const sum = { packets: 0n, bytes: 0n };
    if (libbpf.lookup(fd, u32(lo + i), v)) {
      for (let c = 0; c < cpus; c++) {
        const at = STATS_VALUE * c;
        if (v.readUInt32LE(at + 16) !== generation) continue;
        sum.packets += v.readBigUInt64LE(at);
        sum.bytes += v.readBigUInt64LE(at + 8);
      }
    }
    out.push(sum);
  }
  return out;
}

/** Per-CPU u64 counters summed over CPUs, for indices lo..lo+n-1. */
export function readPerCpu(fd: number, lo: number, n: number): bigint[] {
  const cpus = possibleCpus();
  const v = Buffer.alloc(8 * cpus);
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    let sum = 0n;
    if (libbpf.lookup(fd, u32(lo + i), v)) for (let c = 0; c < cpus; c++) sum += v.readBigUInt64LE(8 * c);
    out.push(sum);
  }
  return out;
}

/** Deletes every conntrack entry (verification runs start from an empty table). */
export function clearMap(fd: number, keySize: number): number {
  const key = Buffer.alloc(keySize);
  let n = 0;
  while (libbpf.nextKey(fd, null, key)) {
    libbpf.delete(fd, key);
    n++;
  }
  return n;
}

/** Kernel memory charged to a map (memlock from fdinfo), in bytes. */
export function mapMemory(fd: number): number {
  const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  const m = /memlock:\s*(\d+)/.exec(info);
  return m ? Number(m[1]) : 0;
}
