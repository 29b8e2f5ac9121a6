// The locals table as the loader writes it: every address in the bucket
// lib/locals.h hashes it to, and a bucket with more than it holds marked
// overflowed (the datapath then asks the identity table).

import { describe, expect, it } from 'vitest';
import { LOCALS_BUCKET, LOCALS_BUCKETS, LOCALS_OVERFLOW, LOCALS_WAYS } from './abi.ts';
import { localsBucket, localsValue } from './loader.ts';

const v4 = (n: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
const bytes4 = (n: number) => {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(0x0a000000 | n, 0);
  return b;
};

describe('localsValue', () => {
  it('lists addresses in their buckets and marks a bucket that overflows', () => {
    // Addresses hashing to bucket 0: WAYS of them fit, one more overflows it.
    const same: number[] = [];
    for (let n = 1; same.length < LOCALS_WAYS + 1; n++) if (localsBucket(bytes4(n)) === 0) same.push(n);
    const fits = localsValue(4, same.slice(0, LOCALS_WAYS).map(v4));
    expect(fits.readUInt32LE(0)).toBe(LOCALS_WAYS);
    same.slice(0, LOCALS_WAYS).forEach((n, i) => expect(fits.subarray(16 + 16 * i, 32 + 16 * i)).toEqual(bytes4(n)));
    expect(localsValue(4, same.map(v4)).readUInt32LE(0)).toBe(LOCALS_OVERFLOW);
  });

  it('keeps each family to its own table and spreads addresses over the buckets', () => {
    const addrs = Array.from({ length: 200 }, (_, i) => v4(i + 1));
    const v = localsValue(4, [...addrs, 'fd00::1']);
    expect(v.length).toBe(LOCALS_BUCKETS * LOCALS_BUCKET);
    let listed = 0;
    let used = 0;
    for (let b = 0; b < LOCALS_BUCKETS; b++) {
      const n = v.readUInt32LE(b * LOCALS_BUCKET);
      if (n > 0) used++;
      listed += n === LOCALS_OVERFLOW ? 0 : n;
    }
    expect(listed).toBe(200);
    expect(used).toBeGreaterThan(100);
    expect(localsValue(6, addrs).every((x) => x === 0)).toBe(true);
  });
});
