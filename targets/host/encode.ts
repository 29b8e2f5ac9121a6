// Byte layouts of the host maps' keys and values (see abi.ts and the bpf/lib
// headers); the loader writes these and the verifier reads them back.

import { DIR, FAILSAFE_KEY, ID4_KEY, ID6_KEY, ID_FLAG_LOCAL, PLEN_MAX, PLEN_VALUE, POLICY_KEY, POLICY_VALUE, VERDICT } from './abi.ts';
import type { FailsafeEntry, IdEntry, PolicyEntry } from './share.ts';
import type { Family } from '../../orchestrator/net/ip.ts';

function writeAddr(buf: Buffer, offset: number, family: Family, value: bigint): void {
  if (family === 4) buf.writeUInt32BE(Number(value), offset);
  else {
    buf.writeBigUInt64BE(value >> 64n, offset);
    buf.writeBigUInt64BE(value & 0xffffffffffffffffn, offset + 8);
  }
}

/** Prefixes are canonical (host bits zero), so the address is already masked. */
export function idKey(slot: number, e: Pick<IdEntry, 'prefix'>): Buffer {
  const family = e.prefix.family;
  const k = Buffer.alloc(family === 4 ? ID4_KEY : ID6_KEY);
  k[0] = slot;
  k[1] = e.prefix.len;
  writeAddr(k, 4, family, e.prefix.addr);
  return k;
}

export function idValue(e: Pick<IdEntry, 'id' | 'local'>): Buffer {
  const v = Buffer.alloc(8);
  v.writeUInt32LE(e.id, 0);
  v.writeUInt32LE(e.local ? ID_FLAG_LOCAL : 0, 4);
  return v;
}

export function policyKey(slot: number, e: PolicyEntry): Buffer {
  const k = Buffer.alloc(POLICY_KEY);
  k[0] = slot;
  k[1] = DIR[e.dir];
  k[2] = e.proto;
  k[3] = e.portLen;
  k.writeUInt32BE(e.local, 4);
  k.writeUInt32BE(e.remote, 8);
  k.writeUInt16BE(e.port, 12);
  return k;
}

export function policyValue(e: PolicyEntry): Buffer {
  const v = Buffer.alloc(POLICY_VALUE);
  v.writeUInt32LE(e.rule, 0);
  v[4] = VERDICT[e.verdict];
  v[5] = e.log ? 1 : 0;
  return v;
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
