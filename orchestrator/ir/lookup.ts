// Evaluates flows on the IR: one longest-prefix lookup per address, then a
// walk over only the rules whose source side holds the source identity, in
// first-match order, up to the first whose destination side and services
// hold the flow. Used by `weft explain` and checked against the reference.

import { cidrRange, type Family, type IpAddr } from '../net/ip.ts';
import type { Flow, Verdict } from '../flow.ts';
import type { Ir, LpmEntry } from './model.ts';
import { servicesHold } from './expand.ts';
import { irReach, type IrReach } from './reach.ts';

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
  private readonly reach: IrReach;

  constructor(private readonly ir: Ir) {
    this.reach = irReach(ir);
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

  /** The first rule (index) matching (src, dst, proto, key), or -1. */
  firstMatch(src: number, dst: number, proto: number, key: number): number {
    const ps = this.reach.pos.get(src);
    const pd = this.reach.pos.get(dst);
    if (ps === undefined || pd === undefined) return -1;
    for (const r of this.reach.rulesHolding(ps, 'from')) {
      if (servicesHold(this.reach.shapes[r], proto, key) && this.reach.holds(r, 'to', pd)) return r;
    }
    return -1;
  }

  lookup(f: Flow): LookupResult {
    const src = this.identityOf(f.src);
    const dst = this.identityOf(f.dst);
    const { proto, key } = irKey(f);
    const rule = this.firstMatch(src, dst, proto, key);
    if (rule < 0) return { verdict: this.ir.defaultAction, rule: -1, src, dst };
    return { verdict: this.ir.rules[rule].action, rule, src, dst };
  }
}

/** A flow's IR protocol and port key (see IrServices). */
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
