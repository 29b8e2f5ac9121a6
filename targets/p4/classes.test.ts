// Address labels: for random overlapping and disjoint sets, an address's
// label (longest-prefix match over the LPM entries) matches a set's label
// ternaries exactly when the address is in the set; disjoint groups cost one
// ternary each; overlapping ones go to layers while the bits last.

import { describe, expect, it } from 'vitest';
import { makeRng, type Rng } from '../../orchestrator/testing/generate.ts';
import { cidrRange, rangeToCidrs, type Cidr } from '../../orchestrator/net/ip.ts';
import { ANY_ADDRESS, type AddressSet } from '../switch-common/index.ts';
import { AddressClasses, CLASS_ID_BITS, type ClassPrefix } from './classes.ts';

function v4(addr: number, len: number): Cidr {
  const mask = len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(32 - len);
  return { family: 4, addr: BigInt(addr >>> 0) & mask, len };
}

/** A set of up to three 10.x prefixes, merged into disjoint prefixes as the address resolver writes them. */
function randomSet(rng: Rng, spread: number): AddressSet {
  const ranges = Array.from({ length: rng.int(1, 3) }, () => cidrRange(v4(0x0a000000 + rng.int(0, spread) * 256, rng.int(20, 26))));
  ranges.sort((a, b) => (a.lo < b.lo ? -1 : 1));
  const merged: { lo: bigint; hi: bigint }[] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r.lo <= last.hi + 1n) last.hi = last.hi > r.hi ? last.hi : r.hi;
    else merged.push({ ...r });
  }
  return { any: false, v4: merged.flatMap((r) => rangeToCidrs(4, r.lo, r.hi)), v6: [] };
}

function labelOf(lpm: ClassPrefix[], addr: bigint): bigint {
  let best: ClassPrefix | undefined;
  for (const e of lpm) {
    const { lo, hi } = cidrRange(e.prefix);
    if (addr >= lo && addr <= hi && (!best || e.prefix.len > best.prefix.len)) best = e;
  }
  return best?.label ?? 0n;
}

const inSet = (set: AddressSet, addr: bigint): boolean =>
  set.v4.some((c) => {
    const { lo, hi } = cidrRange(c);
    return addr >= lo && addr <= hi;
  });

function check(sets: AddressSet[], rng: Rng, probes: number): number {
  const labels = new AddressClasses([...sets, ANY_ADDRESS], 'leaf1');
  let tried = 0;
  for (let i = 0; i < probes; i++) {
    const set = sets[rng.int(0, sets.length - 1)];
    // Half the probes inside the set, half anywhere near the sets.
    const c = set.v4[rng.int(0, set.v4.length - 1)];
    const { lo, hi } = cidrRange(c);
    const addr = i % 2 ? lo + BigInt(rng.int(0, Number(hi - lo))) : BigInt(0x0a000000 + rng.int(0, 1 << 20));
    const label = labelOf(labels.lpm[4], addr);
    for (const s of sets) {
      const hit = labels.matchesOf(s).some((m) => m.label !== undefined && (label & m.label.mask) === m.label.value);
      expect(hit, `10.x address ${addr.toString(16)} in set?`).toBe(inSet(s, addr));
      tried++;
    }
  }
  expect(labels.matchesOf(ANY_ADDRESS)).toEqual([{}]);
  return tried;
}

describe('address labels', () => {
  it('give groups that do not overlap one class id each', () => {
    const sets = Array.from({ length: 40 }, (_, g) => ({ any: false, v4: [v4(0x0a000000 + g * 0x10000, 20)], v6: [] }));
    const labels = new AddressClasses(sets, 'leaf1');
    expect(labels.count).toBe(40);
    expect(labels.layered).toBe(0);
    for (const s of sets) {
      const m = labels.matchesOf(s);
      expect(m.length).toBe(1);
      expect(m[0].label!.mask).toBe((1n << BigInt(CLASS_ID_BITS)) - 1n);
    }
    expect(labels.lpm[4].length).toBe(40);
  });

  it('match exactly the addresses of each set, for overlapping sets (layers and class ids)', () => {
    const rng = makeRng(21);
    let tried = 0;
    for (let round = 0; round < 6; round++) {
      const sets = Array.from({ length: 10 + round * 15 }, () => randomSet(rng, 64 + round * 200));
      tried += check(sets, rng, 300);
    }
    console.log(`address labels: ${tried} (address, set) pairs checked`);
    expect(tried).toBeGreaterThan(50_000);
  });

  it('nest prefixes: a zone holding single addresses of other sets costs one entry plus one per address', () => {
    const zone: AddressSet = { any: false, v4: [v4(0x0a000000, 12)], v6: [] };
    // Odd addresses spread over the zone: cut into disjoint prefixes, every gap would cost up to 2 x 20 entries.
    const singles = Array.from({ length: 50 }, (_, i) => ({ any: false, v4: [v4(0x0a000000 + i * 7919 + 1, 32)], v6: [] }));
    const sets = [zone, ...singles];
    const labels = new AddressClasses(sets, 'leaf1');
    expect(labels.lpm[4].length).toBe(1 + singles.length);
    check(sets, makeRng(3), 200);
  });

  it('put sets that overlap others into layers, while the layer bits last', () => {
    const rng = makeRng(5);
    const sets = Array.from({ length: 120 }, () => randomSet(rng, 40));
    const labels = new AddressClasses(sets, 'leaf1');
    expect(labels.layered).toBeGreaterThan(0);
    expect(labels.layerBits).toBeLessThanOrEqual(48);
    check(sets, rng, 100);
  });
});
