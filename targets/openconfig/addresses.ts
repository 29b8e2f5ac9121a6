// Address sets as a prefix-matching ACL needs them: the IR's nested LPM table
// flattened into disjoint ranges per identity, groups as unions of
// identities, and each set written back as the fewest prefixes.

import { FAMILY_BITS, rangeToCidrs, type Cidr, type Family, type IpAddr } from '../../orchestrator/net/ip.ts';
import type { Ir } from '../../orchestrator/ir/model.ts';

export interface Range {
  lo: bigint;
  hi: bigint;
}

interface Segment extends Range {
  id: number;
}

/** Disjoint, sorted segments covering each family's whole space. */
function flatten(ir: Ir, family: Family): Segment[] {
  const entries = ir.lpm
    .filter((e) => e.prefix.family === family)
    .map((e) => {
      const hostBits = BigInt(FAMILY_BITS[family] - e.prefix.len);
      return { lo: e.prefix.addr, hi: e.prefix.addr | ((1n << hostBits) - 1n), len: e.prefix.len, id: e.id };
    })
    .sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : a.len - b.len));
  const out: Segment[] = [];
  const push = (lo: bigint, hi: bigint, id: number): void => {
    if (lo > hi) return;
    const last = out[out.length - 1];
    if (last && last.id === id && last.hi + 1n === lo) last.hi = hi;
    else out.push({ lo, hi, id });
  };
  const stack: { hi: bigint; id: number }[] = [];
  let cursor = 0n;
  for (const e of entries) {
    while (stack.length > 0 && stack[stack.length - 1].hi < e.lo) {
      const top = stack.pop()!;
      push(cursor, top.hi, top.id);
      cursor = top.hi + 1n;
    }
    if (stack.length > 0) push(cursor, e.lo - 1n, stack[stack.length - 1].id);
    cursor = e.lo;
    stack.push({ hi: e.hi, id: e.id });
  }
  while (stack.length > 0) {
    const top = stack.pop()!;
    push(cursor, top.hi, top.id);
    cursor = top.hi + 1n;
  }
  return out;
}

function mergeRanges(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.lo <= last.hi + 1n) {
      if (r.hi > last.hi) last.hi = r.hi;
    } else out.push({ ...r });
  }
  return out;
}

/** Identity and group address sets of one IR. */
export class AddressBook {
  private readonly segments: Record<Family, Segment[]>;
  private readonly byId = new Map<number, Record<Family, Range[]>>();
  private readonly groupIds = new Map<string, number[]>();
  readonly identityIds: number[];

  constructor(ir: Ir) {
    this.segments = { 4: flatten(ir, 4), 6: flatten(ir, 6) };
    for (const f of [4, 6] as Family[]) {
      for (const s of this.segments[f]) {
        let rec = this.byId.get(s.id);
        if (!rec) this.byId.set(s.id, (rec = { 4: [], 6: [] }));
        rec[f].push({ lo: s.lo, hi: s.hi });
      }
    }
    this.identityIds = ir.identities.map((i) => i.id);
    for (const ident of ir.identities) {
      for (const g of ident.groups) {
        const l = this.groupIds.get(g) ?? [];
        l.push(ident.id);
        this.groupIds.set(g, l);
      }
    }
  }

  /** Identities whose addresses belong to the group (none for an empty or unknown group). */
  groupIdentities(group: string): number[] {
    return this.groupIds.get(group) ?? [];
  }

  /** The fewest prefixes covering exactly the union of these identities in one family. */
  prefixes(ids: Iterable<number>, family: Family): Cidr[] {
    const ranges: Range[] = [];
    for (const id of ids) ranges.push(...(this.byId.get(id)?.[family] ?? []));
    const out: Cidr[] = [];
    for (const r of mergeRanges(ranges)) out.push(...rangeToCidrs(family, r.lo, r.hi));
    return out;
  }

  identityOf(addr: IpAddr): number {
    const segs = this.segments[addr.family];
    let lo = 0;
    let hi = segs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = segs[mid];
      if (addr.value < s.lo) hi = mid - 1;
      else if (addr.value > s.hi) lo = mid + 1;
      else return s.id;
    }
    throw new Error(`no identity covers ${addr.value} (the IR's LPM table has no /0 for IPv${addr.family})`);
  }
}
