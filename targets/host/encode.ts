// Byte layouts of the host maps' keys and values (see abi.ts and the bpf/lib
// headers); the loader writes these and the verifier reads them back.

import { CT_KEY, DIR, FAILSAFE_KEY, ID4_DATA, ID6_DATA, ID_FLAG_LOCAL, ID_PREFIX_BASE, POLICY_DATA, POLICY_PREFIX_BASE, POLICY_VALUE, VERDICT } from './abi.ts';
import type { FailsafeEntry, IdEntry, PolicyEntry } from './share.ts';
import type { Family } from '../../orchestrator/net/ip.ts';

function writeAddr(buf: Buffer, offset: number, family: Family, value: bigint): void {
  if (family === 4) buf.writeUInt32BE(Number(value), offset);
  else {
    buf.writeBigUInt64BE(value >> 64n, offset);
    buf.writeBigUInt64BE(value & 0xffffffffffffffffn, offset + 8);
  }
}

export function idKey(slot: number, e: Pick<IdEntry, 'prefix'>): Buffer {
  const family = e.prefix.family;
  const k = Buffer.alloc(4 + (family === 4 ? ID4_DATA : ID6_DATA));
  k.writeUInt32LE(ID_PREFIX_BASE + e.prefix.len, 0);
  k[4] = slot;
  writeAddr(k, 8, family, e.prefix.addr);
  return k;
}

export function idValue(e: Pick<IdEntry, 'id' | 'local'>): Buffer {
  const v = Buffer.alloc(8);
  v.writeUInt32LE(e.id, 0);
  v.writeUInt32LE(e.local ? ID_FLAG_LOCAL : 0, 4);
  return v;
}

export function policyKey(slot: number, e: PolicyEntry): Buffer {
  const k = Buffer.alloc(4 + POLICY_DATA);
  k.writeUInt32LE(POLICY_PREFIX_BASE + e.portLen, 0);
  k[4] = slot;
  k[5] = DIR[e.dir];
  k[6] = e.proto;
  k.writeUInt32BE(e.local, 8);
  k.writeUInt32BE(e.remote, 12);
  k.writeUInt16BE(e.port, 16);
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

export const CT_KEY_SIZE = CT_KEY;
