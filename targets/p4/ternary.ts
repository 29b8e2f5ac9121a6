// Ternary (value/mask) arithmetic for the TCAM: prefixes and ranges become
// value/mask pairs, and a set of pairs is shrunk by merging any two that
// differ in exactly one cared-for bit (the first step of Quine-McCluskey).
// Every transformation keeps the covered set identical.
//
// Destination ports are matched fence-encoded (DIRPE, database-independent
// range pre-encoding): the pipeline splits the 16-bit port into four 4-bit
// digits and writes each digit d as 15 bits, the low d of them set; a range
// of one digit, x..y, is then one ternary (bits below x set, bits from y on
// clear). A port range splits into at most 2*4-1 = 7 terms (common leading
// digits fixed, one digit a range, the rest wildcards), against 2w-2 = 30
// for binary prefixes; bench/p4-ranges.ts measures the averages.

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

/** Bits per digit of the fence-encoded destination port, digits per port, and the encoded width. */
export const FENCE_DIGIT_BITS = 4;
export const FENCE_DIGITS = 16 / FENCE_DIGIT_BITS;
const FENCE_CODE_BITS = (1 << FENCE_DIGIT_BITS) - 1;
export const FENCE_WIDTH = FENCE_DIGITS * FENCE_CODE_BITS;
const DIGIT_MAX = (1 << FENCE_DIGIT_BITS) - 1;

const digitOf = (v: number, i: number): number => (v >>> (FENCE_DIGIT_BITS * (FENCE_DIGITS - 1 - i))) & DIGIT_MAX;

/** What the pipeline matches a destination port as: each digit d as d low bits set in its 15-bit field, most significant digit first. */
export function fenceEncode(port: number): bigint {
  let out = 0n;
  for (let i = 0; i < FENCE_DIGITS; i++) out = (out << BigInt(FENCE_CODE_BITS)) | ((1n << BigInt(digitOf(port, i))) - 1n);
  return out;
}

/** One term: a digit range per digit, most significant first. */
type DigitTerm = [number, number][];

/**
 * lo..hi as digit terms: leading digits both ends share are fixed; at the
 * first digit where they differ, the partial blocks at either end recurse
 * and the whole blocks between them are one term (that digit a range, the
 * rest wildcards). At most 2 * FENCE_DIGITS - 1 terms.
 */
function digitTerms(lo: number, hi: number, from: number, prefix: DigitTerm): DigitTerm[] {
  const wild = (n: number): DigitTerm => Array.from({ length: n }, () => [0, DIGIT_MAX] as [number, number]);
  let i = from;
  const fixed: DigitTerm = [...prefix];
  while (i < FENCE_DIGITS && digitOf(lo, i) === digitOf(hi, i)) {
    fixed.push([digitOf(lo, i), digitOf(lo, i)]);
    i++;
  }
  if (i === FENCE_DIGITS) return [fixed];
  const below = FENCE_DIGIT_BITS * (FENCE_DIGITS - 1 - i);
  const lowMask = (1 << below) - 1;
  const a = digitOf(lo, i);
  const b = digitOf(hi, i);
  const out: DigitTerm[] = [];
  let first = a;
  let last = b;
  if ((lo & lowMask) !== 0) {
    out.push(...digitTerms(lo, lo | lowMask, i + 1, [...fixed, [a, a]]));
    first = a + 1;
  }
  if ((hi & lowMask) !== lowMask) {
    out.push(...digitTerms(hi & ~lowMask, hi, i + 1, [...fixed, [b, b]]));
    last = b - 1;
  }
  if (first <= last) out.push([...fixed, [first, last], ...wild(FENCE_DIGITS - 1 - i)]);
  return out;
}

/** A digit range x..y in fence code: bits below x must be set, bits from y up must be clear. */
function fenceTernary(term: DigitTerm): Ternary {
  let value = 0n;
  let mask = 0n;
  for (const [x, y] of term) {
    const setBelow = (1n << BigInt(x)) - 1n;
    const clearFrom = ones(FENCE_CODE_BITS) ^ ((1n << BigInt(y)) - 1n);
    value = (value << BigInt(FENCE_CODE_BITS)) | setBelow;
    mask = (mask << BigInt(FENCE_CODE_BITS)) | setBelow | clearFrom;
  }
  return { value, mask };
}

/** Fence-encoded ternaries covering exactly these port ranges (16-bit); the full range is one wildcard. */
export function fenceRangeTernaries(ranges: { lo: number; hi: number }[]): Ternary[] {
  return mergeTernaries(
    ranges.flatMap((r) => digitTerms(r.lo, r.hi, 0, []).map(fenceTernary)),
    FENCE_WIDTH,
  );
}
