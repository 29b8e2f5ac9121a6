// Ternary (value/mask) arithmetic for the TCAM: prefixes and ranges become
// value/mask pairs, and a set of pairs is shrunk by merging any two that
// differ in exactly one cared-for bit (the first step of Quine-McCluskey).
// Every transformation keeps the covered set identical.

import type { Cidr } from '../../orchestrator/net/ip.ts';
import { FAMILY_BITS } from '../../orchestrator/net/ip.ts';

export interface Ternary {
  value: bigint;
  mask: bigint;
}

export function ones(width: number): bigint {
  return (1n << BigInt(width)) - 1n;
}

export function exactTernary(value: number | bigint, width: number): Ternary {
  return { value: BigInt(value), mask: ones(width) };
}

export function cidrTernary(c: Cidr): Ternary {
  const bits = FAMILY_BITS[c.family];
  const mask = c.len === 0 ? 0n : ones(bits) ^ ones(bits - c.len);
  return { value: c.addr & mask, mask };
}

/**
 * The minimal prefix cover of lo..hi over `width` bits: at most 2w-2
 * value/mask pairs (a full range is one pair with mask 0).
 */
export function rangeTernaries(lo: number, hi: number, width: number): Ternary[] {
  const out: Ternary[] = [];
  const full = ones(width);
  let cur = BigInt(lo);
  const end = BigInt(hi);
  while (cur <= end) {
    let size = 0;
    while (size < width) {
      const block = (1n << BigInt(size + 1)) - 1n;
      if ((cur & block) !== 0n || cur + block > end) break;
      size++;
    }
    out.push({ value: cur, mask: full ^ ones(size) });
    cur += 1n << BigInt(size);
  }
  return out;
}

/**
 * Merges pairs with equal masks whose values differ in one masked bit, until
 * no pair merges. The output covers exactly the union of the input, with at
 * most as many pairs, sorted.
 */
export function mergeTernaries(items: Ternary[], width: number): Ternary[] {
  const byMask = new Map<bigint, Set<bigint>>();
  for (const t of items) {
    let s = byMask.get(t.mask);
    if (!s) byMask.set(t.mask, (s = new Set()));
    s.add(t.value & t.mask);
  }
  const bits = [...Array(width).keys()].map((i) => 1n << BigInt(i));
  let changed = true;
  while (changed) {
    changed = false;
    for (const [mask, values] of [...byMask]) {
      for (const bit of bits) {
        if ((mask & bit) === 0n) continue;
        for (const v of [...values]) {
          if (!values.has(v)) continue;
          const partner = v ^ bit;
          if (!values.has(partner)) continue;
          values.delete(v);
          values.delete(partner);
          const m2 = mask & ~bit;
          let s = byMask.get(m2);
          if (!s) byMask.set(m2, (s = new Set()));
          s.add(v & m2);
          changed = true;
        }
      }
      if (values.size === 0) byMask.delete(mask);
    }
  }
  const out: Ternary[] = [];
  for (const [mask, values] of byMask) for (const value of values) out.push({ value, mask });
  return out.sort((a, b) => (a.mask !== b.mask ? (a.mask > b.mask ? -1 : 1) : a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
}
