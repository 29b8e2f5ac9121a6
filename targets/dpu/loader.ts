// Loads the prefilter object and fills its maps from a device directory.
// Inert data (PrefilterDir) in, live handles (PrefilterObject: fds that must
// be closed) out. With `offloadIfindex` the object is bound to that NIC
// before load, so the kernel hands program and maps to the NIC's offload
// engine or refuses.

import { readFileSync } from 'node:fs';
import { libbpf, LibbpfError, withLibbpfLog, type Ptr } from '../host/libbpf.ts';
import { recordKey, recordValue, type RecordTable } from '../host/records.ts';
import { VerifierError } from '../host/loader.ts';
import { u32 } from '../host/encode.ts';
import { DPU_COUNTER_VALUE, DPU_MAP, DPU_PROG, type DpuMapConcern } from './abi.ts';
import { bindToNic } from './offload-bind.ts';
import { TABLE_MAPS, type PrefilterDir } from './prefilter.ts';

export interface PrefilterObject {
  obj: Ptr;
  fds: Record<DpuMapConcern, number>;
  prog: number;
}

const CONCERNS = Object.keys(DPU_MAP) as DpuMapConcern[];

/** Opens, sizes and loads the object; throws VerifierError with the log when the kernel refuses it. */
export function loadPrefilter(objectPath: string, dir: PrefilterDir, offloadIfindex?: number): PrefilterObject {
  readFileSync(objectPath, { flag: 'r' }); // a missing file is a plain ENOENT, not a libbpf message
  const obj = libbpf.openFile(objectPath);
  try {
    for (const c of CONCERNS) libbpf.setMaxEntries(libbpf.findMap(obj, DPU_MAP[c]), dir.maps.maps[DPU_MAP[c]].maxEntries);
    if (offloadIfindex !== undefined) bindToNic(obj, DPU_PROG, offloadIfindex);
    const r = withLibbpfLog(() => libbpf.load(obj));
    if (r.error) {
      const e = r.error instanceof Error ? r.error : new Error(String(r.error));
      if (e instanceof LibbpfError && e.errno === 1) throw new Error(`loading eBPF needs root (CAP_BPF, CAP_NET_ADMIN): ${e.message}`);
      // libbpf's own line names the object that failed (a map the NIC would not create, the program); the verifier's tail follows.
      const why = (r.lines.find((l) => /^libbpf: .*failed to (create|load)/i.test(l)) ?? r.lines.find((l) => /^libbpf: .*(failed|error)/i.test(l)))?.replace(/^libbpf: /, '');
      const where = offloadIfindex === undefined ? '' : ` bound to ifindex ${offloadIfindex}`;
      throw new Error(`the kernel refused the DPU prefilter${where}: ${why ?? e.message}\n${VerifierError.summarize(r.lines).join('\n')}`, { cause: e });
    }
    const fds = {} as Record<DpuMapConcern, number>;
    for (const c of CONCERNS) fds[c] = libbpf.mapFd(libbpf.findMap(obj, DPU_MAP[c]));
    const loaded = { obj, fds, prog: libbpf.programFd(obj, DPU_PROG) };
    fillTables(loaded, dir);
    return loaded;
  } catch (e) {
    libbpf.close(obj);
    throw e;
  }
}

export function closePrefilter(p: PrefilterObject): void {
  libbpf.close(p.obj);
}

/** Writes every record of a table: one batch call where the map has it. */
function writeTable(fd: number, t: RecordTable): void {
  if (t.count === 0) return;
  const keys = Buffer.alloc(t.count * t.keySize);
  const values = Buffer.alloc(t.count * t.valueSize);
  for (let i = 0; i < t.count; i++) {
    recordKey(t, i).copy(keys, i * t.keySize);
    recordValue(t, i).copy(values, i * t.valueSize);
  }
  if (t.count > 1 && libbpf.updateBatch(fd, keys, values, t.count)) return;
  for (let i = 0; i < t.count; i++) libbpf.update(fd, keys.subarray(i * t.keySize, (i + 1) * t.keySize), values.subarray(i * t.valueSize, (i + 1) * t.valueSize));
}

function fillTables(p: PrefilterObject, dir: PrefilterDir): void {
  const fdOf = { [DPU_MAP.id4]: p.fds.id4, [DPU_MAP.policy]: p.fds.policy };
  for (const m of TABLE_MAPS) writeTable(fdOf[m], dir.tables[m]);
}

/** u64 counters of an ARRAY map, indices 0..n-1. */
export function readCounters(fd: number, n: number): bigint[] {
  const v = Buffer.alloc(DPU_COUNTER_VALUE);
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) out.push(libbpf.lookup(fd, u32(i), v) ? v.readBigUInt64LE(0) : 0n);
  return out;
}
