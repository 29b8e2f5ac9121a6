// Byte layouts of the host maps' keys and values (see abi.ts and the bpf/lib
// headers): codegen writes them into the bundle's record files, the loader
// hands them to the kernel, and the decoders read them back for the
// artefact interpreter.

import { DIR, FAILSAFE_KEY, ID4_KEY, ID6_KEY, ID_FLAG_DENY_INGRESS, ID_FLAG_LOCAL, ID_VALUE, PLEN_MAX, PLEN_VALUE, POLICY_KEY, POLICY_VALUE, VERDICT } from './abi.ts';
import type { FailsafeEntry, IdEntry, PolicyEntry } from './share.ts';
import type { Family } from '../../orchestrator/net/ip.ts';
import { RECORDS_HEADER, recordsBuffer } from './records.ts';

const DIR_NAME = { [DIR.egress]: 'egress', [DIR.ingress]: 'ingress' } as const;

function writeAddr(buf: Buffer, offset: number, family: Family, value: bigint): void {
  if (family === 4) buf.writeUInt32BE(Number(value), offset);
  else {
    buf.writeBigUInt64BE(value >> 64n, offset);
    buf.writeBigUInt64BE(value & 0xffffffffffffffffn, offset + 8);
  }
}

/** Writes an identity record (kernel key, slot 0, then value) at `at`; prefixes are canonical (host bits zero), so the address is already masked. */
function writeIdRecord(buf: Buffer, at: number, keySize: number, e: IdEntry): void {
  buf[at] = 0;
  buf[at + 1] = e.prefix.len;
  writeAddr(buf, at + 4, e.prefix.family, e.prefix.addr);
  buf.writeUInt32LE(e.id, at + keySize);
  buf.writeUInt32LE((e.local ? ID_FLAG_LOCAL : 0) | (e.denyIngress ? ID_FLAG_DENY_INGRESS : 0), at + keySize + 4);
}

/** Writes a policy record (kernel key, slot 0, then value) at `at`. */
function writePolicyRecord(buf: Buffer, at: number, e: PolicyEntry): void {
  buf[at] = 0;
  buf[at + 1] = DIR[e.dir];
  buf[at + 2] = e.proto;
  buf[at + 3] = e.portLen;
  buf.writeUInt32BE(e.local, at + 4);
  buf.writeUInt32BE(e.remote, at + 8);
  buf.writeUInt16BE(e.port, at + 12);
  buf.writeUInt32LE(e.rule, at + POLICY_KEY);
  buf[at + POLICY_KEY + 4] = VERDICT[e.verdict];
  buf[at + POLICY_KEY + 5] = e.log ? 1 : 0;
}

/**
 * Record positions in key-byte order, from numbers per record (each below
 * 2^53) that compare, in turn, as its key bytes do: sorting numbers, not the
 * keys' buffers, is what keeps a host's share of hundreds of thousands of
 * entries cheap. Records are grouped by their first number, stably; a
 * group is sorted by the rest only when it is not already in order, which a
 * share's are: its cells come sorted by local, remote and port, its address
 * entries by address (grouped by length). Equal keys are refused, as
 * encodeRecords refuses them.
 */
function keyOrder(keys: Float64Array[], describe: (i: number) => string): Uint32Array {
  const [first, ...rest] = keys;
  const cmpRest = (a: number, b: number): number => {
    for (const k of rest) if (k[a] !== k[b]) return k[a] - k[b];
    return 0;
  };
  const groups = new Map<number, number[]>();
  for (let i = 0; i < first.length; i++) {
    const g = groups.get(first[i]);
    if (g) g.push(i);
    else groups.set(first[i], [i]);
  }
  const order = new Uint32Array(first.length);
  let at = 0;
  for (const head of [...groups.keys()].sort((a, b) => a - b)) {
    const g = groups.get(head)!;
    let sorted = true;
    for (let k = 1; k < g.length && sorted; k++) sorted = cmpRest(g[k - 1], g[k]) < 0;
    if (!sorted) g.sort(cmpRest);
    for (let k = 0; k < g.length; k++) {
      if (k > 0 && cmpRest(g[k - 1], g[k]) === 0) throw new Error(`duplicate key: ${describe(g[k])}`);
      order[at++] = g[k];
    }
  }
  return order;
}

const LOW48 = (1n << 48n) - 1n;

/** The record file of an identity table (one family). */
export function encodeIdRecords(family: Family, entries: readonly IdEntry[]): Buffer {
  const keySize = family === 4 ? ID4_KEY : ID6_KEY;
  const n = entries.length;
  // Key bytes after the slot: length, two zero bytes, the address big endian
  // (IPv6: as 32 + 48 + 48 bits). The length is a number of its own: a share
  // comes in address order, so each length's entries are in order already.
  const keys = family === 4 ? [new Float64Array(n), new Float64Array(n)] : [new Float64Array(n), new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  for (let i = 0; i < n; i++) {
    const e = entries[i];
    if (e.prefix.family !== family) throw new Error(`IPv${e.prefix.family} entry in the IPv${family} table`);
    keys[0][i] = e.prefix.len;
    if (family === 4) keys[1][i] = Number(e.prefix.addr);
    else {
      keys[1][i] = Number(e.prefix.addr >> 96n);
      keys[2][i] = Number((e.prefix.addr >> 48n) & LOW48);
      keys[3][i] = Number(e.prefix.addr & LOW48);
    }
  }
  const order = keyOrder(keys, (i) => `${entries[i].prefix.addr}/${entries[i].prefix.len}`);
  const rec = keySize + ID_VALUE;
  const out = recordsBuffer(keySize, ID_VALUE, n);
  for (let k = 0; k < n; k++) writeIdRecord(out, RECORDS_HEADER + k * rec, keySize, entries[order[k]]);
  return out;
}

/** The record file of the policy table. */
export function encodePolicyRecords(entries: readonly PolicyEntry[]): Buffer {
  const n = entries.length;
  const hi = new Float64Array(n);
  const lo = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const e = entries[i];
    // Key bytes after the slot: direction, protocol, port length, local (4), remote (4), port (2).
    hi[i] = ((DIR[e.dir] * 256 + e.proto) * 256 + e.portLen) * 2 ** 32 + e.local;
    lo[i] = e.remote * 65536 + e.port;
  }
  const order = keyOrder([hi, lo], (i) => JSON.stringify(entries[i]));
  const rec = POLICY_KEY + POLICY_VALUE;
  const out = recordsBuffer(POLICY_KEY, POLICY_VALUE, n);
  for (let k = 0; k < n; k++) writePolicyRecord(out, RECORDS_HEADER + k * rec, entries[order[k]]);
  return out;
}

export function failsafeKey(e: FailsafeEntry): Buffer {
  const k = Buffer.alloc(FAILSAFE_KEY);
  k[0] = e.address.family;
  k[1] = e.proto;
  k.writeUInt16LE(e.port, 2);
  writeAddr(k, 4, e.address.family, e.address.value);
  return k;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

/** The prefix lengths present in a table, longest first (weft_plen_v1 value). */
export function plensValue(lengths: Iterable<number>): Buffer {
  const sorted = [...new Set(lengths)].sort((a, b) => b - a);
  if (sorted.length > PLEN_MAX) throw new Error(`${sorted.length} prefix lengths exceed ${PLEN_MAX}`);
  const v = Buffer.alloc(PLEN_VALUE);
  v.writeUInt32LE(sorted.length, 0);
  sorted.forEach((l, i) => (v[4 + i] = l));
  return v;
}

function readAddr(buf: Buffer, offset: number, family: Family): bigint {
  return family === 4 ? BigInt(buf.readUInt32BE(offset)) : (buf.readBigUInt64BE(offset) << 64n) | buf.readBigUInt64BE(offset + 8);
}

/** The inverse of writeIdRecord (the slot byte is ignored). */
export function decodeIdRecord(key: Buffer, value: Buffer): IdEntry {
  const family: Family = key.length === ID4_KEY ? 4 : 6;
  return {
    prefix: { family, len: key[1], addr: readAddr(key, 4, family) },
    id: value.readUInt32LE(0),
    local: (value.readUInt32LE(4) & ID_FLAG_LOCAL) !== 0,
    denyIngress: (value.readUInt32LE(4) & ID_FLAG_DENY_INGRESS) !== 0,
  };
}

/** The inverse of writePolicyRecord (the slot byte is ignored). */
export function decodePolicyRecord(key: Buffer, value: Buffer): PolicyEntry {
  const dir = DIR_NAME[key[1] as 1 | 2];
  if (!dir) throw new Error(`policy record with direction ${key[1]}`);
  return {
    dir,
    proto: key[2],
    portLen: key[3],
    local: key.readUInt32BE(4),
    remote: key.readUInt32BE(8),
    port: key.readUInt16BE(12),
    rule: value.readUInt32LE(0),
    verdict: value[4] === VERDICT.allow ? 'allow' : 'deny',
    log: (value[5] & 1) !== 0,
  };
}
