// Byte layouts of the host maps' keys and values (see abi.ts and the bpf/lib
// headers): codegen writes them into the bundle's record files, the loader
// hands them to the kernel, and the decoders read them back for the
// artefact interpreter.

import { DIR, FAILSAFE_KEY, ID4_KEY, ID6_KEY, ID_FLAG_DENY_INGRESS, ID_FLAG_LOCAL, ID_VALUE, PLEN_MAX, PLEN_VALUE, POLICY_KEY, POLICY_VALUE, VERDICT } from './abi.ts';
import type { FailsafeEntry, IdEntry, PolicyEntry } from './share.ts';
import type { Family } from '../../orchestrator/net/ip.ts';

const DIR_NAME = { [DIR.egress]: 'egress', [DIR.ingress]: 'ingress' } as const;

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

export function idValue(e: Pick<IdEntry, 'id' | 'local' | 'denyIngress'>): Buffer {
  const v = Buffer.alloc(ID_VALUE);
  v.writeUInt32LE(e.id, 0);
  v.writeUInt32LE((e.local ? ID_FLAG_LOCAL : 0) | (e.denyIngress ? ID_FLAG_DENY_INGRESS : 0), 4);
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

function readAddr(buf: Buffer, offset: number, family: Family): bigint {
  return family === 4 ? BigInt(buf.readUInt32BE(offset)) : (buf.readBigUInt64BE(offset) << 64n) | buf.readBigUInt64BE(offset + 8);
}

/** The inverse of idKey/idValue (the slot byte is ignored). */
export function decodeIdRecord(key: Buffer, value: Buffer): IdEntry {
  const family: Family = key.length === ID4_KEY ? 4 : 6;
  return {
    prefix: { family, len: key[1], addr: readAddr(key, 4, family) },
    id: value.readUInt32LE(0),
    local: (value.readUInt32LE(4) & ID_FLAG_LOCAL) !== 0,
    denyIngress: (value.readUInt32LE(4) & ID_FLAG_DENY_INGRESS) !== 0,
  };
}

/** The inverse of policyKey/policyValue (the slot byte is ignored). */
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
