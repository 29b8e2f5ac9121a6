// Evaluates flows on the IR the way a datapath does: one longest-prefix
// lookup per address, then one binary search in the sorted cells. Used by
// `weft explain`, by targets' semantics, and checked against the reference.

import { cidrRange, type Family, type IpAddr } from '../net/ip.ts';
import type { Flow, Verdict } from '../flow.ts';
import type { Ir, LpmEntry } from './model.ts';

/** Disjoint address ranges of one family: range k starts at start[k] and has id[k]. */
interface FlatLpm {
  start: bigint[];
  startNum: Float64Array | null; // IPv4 starts as numbers, for speed
  id: Int32Array;
}

/** Flattens nested prefixes into disjoint ranges (the longest prefix wins). */
function flatten(entries: LpmEntry[], family: Family): FlatLpm {
  const start: bigint[] = [];
  const ids: number[] = [];
  const emit = (s: bigint, id: number): void => {
    const n = start.length;
    if (n > 0 && start[n - 1] === s) {
      ids[n - 1] = id;
    } else if (n > 0 && ids[n - 1] === id) {
      return;
    } else {
      start.push(s);
      ids.push(id);
    }
    const m = start.length;
    if (m > 1 && ids[m - 2] === ids[m - 1]) {
      start.pop();
      ids.pop();
    }
  };
  const stack: { hi: bigint; id: number }[] = [];
  const closeBefore = (x: bigint | null): void => {
    while (stack.length > 0 && (x === null || stack[stack.length - 1].hi < x)) {
      const top = stack.pop()!;
      const below = stack[stack.length - 1];
      if (below && top.hi + 1n <= below.hi) emit(top.hi + 1n, below.id);
    }
  };
  const mine = entries.filter((e) => e.prefix.family === family);
  mine.sort((a, b) => (a.prefix.addr < b.prefix.addr ? -1 : a.prefix.addr > b.prefix.addr ? 1 : a.prefix.len - b.prefix.len));
  for (const e of mine) {
    const { lo, hi } = cidrRange(e.prefix);
    closeBefore(lo);
    emit(lo, e.id);
    stack.push({ hi, id: e.id });
  }
  closeBefore(null);
  if (start.length === 0 || start[0] !== 0n) throw new Error(`ir: the LPM table has no /0 entry for IPv${family}`);
  return {
    start,
    startNum: family === 4 ? Float64Array.from(start, Number) : null,
    id: Int32Array.from(ids),
  };
}

export interface LookupResult {
  verdict: Verdict;
  /** Index of the deciding rule; -1 when the default action decided. */
  rule: number;
  src: number;
  dst: number;
}

export class IrLookup {
  private readonly v4: FlatLpm;
  private readonly v6: FlatLpm;

  constructor(private readonly ir: Ir) {
    this.v4 = flatten(ir.lpm, 4);
    this.v6 = flatten(ir.lpm, 6);
  }

  identityOf(a: IpAddr): number {
    const t = a.family === 4 ? this.v4 : this.v6;
    let lo = 0;
    let hi = t.id.length - 1;
    if (t.startNum) {
      const v = Number(a.value);
      const s = t.startNum;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (s[mid] <= v) lo = mid;
        else hi = mid - 1;
      }
    } else {
      const s = t.start;
      const v = a.value;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (s[mid] <= v) lo = mid;
        else hi = mid - 1;
      }
    }
    return t.id[lo];
  }

  /** The cell index holding (src, dst, proto, key), or -1. */
  cellOf(src: number, dst: number, proto: number, key: number): number {
    const c = this.ir.cells;
    // Last cell whose (src, dst, proto, lo) <= (src, dst, proto, key).
    let lo = 0;
    let hi = c.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const cmp = c.src[mid] - src || c.dst[mid] - dst || c.proto[mid] - proto || c.lo[mid] - key;
      if (cmp <= 0) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return -1;
    if (c.src[found] !== src || c.dst[found] !== dst || c.proto[found] !== proto || c.hi[found] < key) return -1;
    return found;
  }

  lookup(f: Flow): LookupResult {
    const src = this.identityOf(f.src);
    const dst = this.identityOf(f.dst);
    const { proto, key } = irKey(f);
    const cell = this.cellOf(src, dst, proto, key);
    if (cell < 0) return { verdict: this.ir.defaultAction, rule: -1, src, dst };
    const rule = this.ir.cells.rule[cell];
    return { verdict: this.ir.rules[rule].action, rule, src, dst };
  }
}

/** A flow's IR protocol and port key (see CellTable). */
export function irKey(f: Flow): { proto: number; key: number } {
  switch (f.proto) {
    case 6:
    case 17:
      return { proto: f.proto, key: f.dport };
    case 1:
    case 58:
      return { proto: f.proto, key: (((f.icmpType ?? 0) & 0xff) << 8) | ((f.icmpCode ?? 0) & 0xff) };
    default:
      return { proto: 0, key: 0 };
  }
}
