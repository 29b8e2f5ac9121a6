// Concrete prefixes for the address sets a switch ACL matches on. The IR maps
// addresses to identities by longest prefix; a switch needs, for a set of
// identities, the prefixes covering exactly their addresses. The LPM table is
// swept into disjoint intervals (each prefix minus its longer nested entries),
// the intervals of the wanted identities are merged, and each maximal
// interval becomes its minimal prefix cover.

import { FAMILY_BITS, rangeToCidrs, type Cidr, type Family, type IpAddr } from '../../orchestrator/net/ip.ts';
import type { Ir, LpmEntry } from '../../orchestrator/ir/model.ts';
import type { PeerRef } from '../../orchestrator/policy/model.ts';

export interface AddressInterval {
  lo: bigint;
  hi: bigint;
  id: number;
}

/** A set of addresses as prefixes per family; `any` is every address of both families. */
export interface AddressSet {
  any: boolean;
  v4: Cidr[];
  v6: Cidr[];
}

export const ANY_ADDRESS: AddressSet = { any: true, v4: [{ family: 4, addr: 0n, len: 0 }], v6: [{ family: 6, addr: 0n, len: 0 }] };

export function prefixesOf(set: AddressSet, family: Family): Cidr[] {
  return family === 4 ? set.v4 : set.v6;
}

/** The LPM table of one family as disjoint intervals covering the whole space, in address order. */
export function lpmIntervals(lpm: LpmEntry[], family: Family): AddressInterval[] {
  const bits = BigInt(FAMILY_BITS[family]);
  const entries = lpm
    .filter((e) => e.prefix.family === family)
    .map((e) => ({ lo: e.prefix.addr, hi: e.prefix.addr | ((1n << (bits - BigInt(e.prefix.len))) - 1n), len: e.prefix.len, id: e.id }))
    .sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : a.len - b.len));
  const out: AddressInterval[] = [];
  const stack: typeof entries = [];
  let cursor = 0n;
  const emit = (lo: bigint, hi: bigint, id: number): void => {
    if (lo > hi) return;
    const last = out[out.length - 1];
    if (last && last.id === id && last.hi + 1n === lo) last.hi = hi;
    else out.push({ lo, hi, id });
  };
  const popUntil = (addr: bigint | undefined): void => {
    while (stack.length > 0 && (addr === undefined || addr > stack[stack.length - 1].hi)) {
      const top = stack.pop()!;
      emit(cursor, top.hi, top.id);
      cursor = top.hi + 1n;
    }
  };
  for (const e of entries) {
    popUntil(e.lo);
    const top = stack[stack.length - 1];
    if (top) emit(cursor, e.lo - 1n, top.id);
    cursor = e.lo;
    stack.push(e);
  }
  popUntil(undefined);
  return out;
}

/**
 * Resolves rule peers (`any` or group names) into prefix sets through the IR.
 * Each identity keeps the positions of its own intervals, so covering a set
 * costs the intervals of its identities, never a sweep of the whole table;
 * results are cached per distinct peer list. One resolver serves every
 * switch of a compile (addressResolver).
 */
export class AddressResolver {
  private readonly intervals: Record<Family, AddressInterval[]>;
  /** Interval positions per identity id and family, ascending. */
  private readonly intervalsOf: Record<Family, Map<number, number[]>> = { 4: new Map(), 6: new Map() };
  private readonly idsOfGroup = new Map<string, number[]>();
  private readonly idsCache = new Map<string, Set<number>>();
  private readonly cache = new Map<string, AddressSet>();
  /** Covers of identity sets by set object: the sets identitiesOf shares come back once per rule and family. */
  private readonly covers: Record<Family, WeakMap<Set<number>, Cidr[]>> = { 4: new WeakMap(), 6: new WeakMap() };

  constructor(ir: Ir) {
    this.intervals = { 4: lpmIntervals(ir.lpm, 4), 6: lpmIntervals(ir.lpm, 6) };
    const joins = (ivs: AddressInterval[]): Uint8Array => Uint8Array.from(ivs, (iv, k) => (k + 1 < ivs.length && ivs[k + 1].lo === iv.hi + 1n ? 1 : 0));
    this.joinsNext = { 4: joins(this.intervals[4]), 6: joins(this.intervals[6]) };
    for (const family of [4, 6] as const) {
      const of = this.intervalsOf[family];
      this.intervals[family].forEach((iv, k) => {
        const l = of.get(iv.id);
        if (l) l.push(k);
        else of.set(iv.id, [k]);
      });
    }
    for (const ident of ir.identities) {
      for (const g of ident.groups) {
        let ids = this.idsOfGroup.get(g);
        if (!ids) this.idsOfGroup.set(g, (ids = []));
        ids.push(ident.id);
      }
    }
  }

  /** The identity of one address (the IR's longest-prefix lookup). */
  identityOfAddress(a: IpAddr): number {
    const ivs = this.intervals[a.family];
    let lo = 0;
    let hi = ivs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ivs[mid].lo <= a.value) lo = mid;
      else hi = mid - 1;
    }
    return ivs[lo].id;
  }

  /** Host prefixes of the given addresses that fall in a set of identities (undefined: all of them). */
  hostsIn(addrs: IpAddr[], ids: Set<number> | undefined): AddressSet {
    const pick = (family: Family): Cidr[] =>
      addrs
        .filter((a) => a.family === family && (!ids || ids.has(this.identityOfAddress(a))))
        .map((a) => ({ family, addr: a.value, len: FAMILY_BITS[family] }));
    return { any: false, v4: pick(4), v6: pick(6) };
  }

  /** Keys by peer list object: a policy's rules hand the same lists in for every port and switch. */
  private readonly keys = new WeakMap<PeerRef[], string | null>();

  /** The cache key of a peer list: its group names (`any` has no key). Equal keys name equal identity sets. */
  private keyOf(peers: PeerRef[]): string | undefined {
    let key = this.keys.get(peers);
    if (key === undefined) {
      if (peers.some((p) => p.kind === 'any')) key = null;
      else {
        const names = new Set<string>();
        for (const p of peers) if (p.kind === 'group') names.add(p.name);
        key = [...names].sort().join('\n');
      }
      this.keys.set(peers, key);
    }
    return key ?? undefined;
  }

  /**
   * Identities covered by a peer list (undefined: every address). The set is
   * shared by every caller naming the same groups: callers must not change it.
   */
  identitiesOf(peers: PeerRef[]): Set<number> | undefined {
    const key = this.keyOf(peers);
    if (key === undefined) return undefined;
    let ids = this.idsCache.get(key);
    if (!ids) {
      ids = new Set<number>();
      for (const p of peers) if (p.kind === 'group') for (const id of this.idsOfGroup.get(p.name) ?? []) ids.add(id);
      this.idsCache.set(key, ids);
    }
    return ids;
  }

  resolve(peers: PeerRef[]): AddressSet {
    const key = this.keyOf(peers);
    if (key === undefined) return ANY_ADDRESS;
    let set = this.cache.get(key);
    if (!set) {
      const ids = this.identitiesOf(peers)!;
      set = { any: false, v4: this.cover(4, ids), v6: this.cover(6, ids) };
      this.cache.set(key, set);
    }
    return set;
  }

  /** The fewest prefixes covering exactly the addresses of these identities in one family (`ids` must not change afterwards). */
  cover(family: Family, ids: Set<number>): Cidr[] {
    let hit = this.covers[family].get(ids);
    if (!hit) this.covers[family].set(ids, (hit = this.coverOnce(family, ids)));
    return hit;
  }

  /** Per interval position: 1 when the next interval starts right after it (the table may have gaps). */
  private readonly joinsNext: Record<Family, Uint8Array>;
  /** The prefixes of single intervals, by position: most identities' intervals stand alone in a cover. */
  private readonly singles: Record<Family, (Cidr[] | undefined)[]> = { 4: [], 6: [] };

  private coverOnce(family: Family, ids: Set<number>): Cidr[] {
    const of = this.intervalsOf[family];
    let count = 0;
    for (const id of ids) count += of.get(id)?.length ?? 0;
    const picked = new Int32Array(count);
    let n = 0;
    for (const id of ids) {
      const l = of.get(id);
      if (l) for (const k of l) picked[n++] = k;
    }
    picked.sort();
    const ivs = this.intervals[family];
    const out: Cidr[] = [];
    const joins = this.joinsNext[family];
    for (let i = 0; i < count; ) {
      let j = i;
      while (j + 1 < count && picked[j + 1] === picked[j] + 1 && joins[picked[j]] === 1) j++;
      if (i === j) {
        const k = picked[i];
        const single = (this.singles[family][k] ??= rangeToCidrs(family, ivs[k].lo, ivs[k].hi));
        for (const c of single) out.push(c);
      } else for (const c of rangeToCidrs(family, ivs[picked[i]].lo, ivs[picked[j]].hi)) out.push(c);
      i = j + 1;
    }
    return out;
  }
}

const resolvers = new WeakMap<Ir, AddressResolver>();

/** The resolver of an IR, built once and shared by every switch compiled from it. */
export function addressResolver(ir: Ir): AddressResolver {
  let r = resolvers.get(ir);
  if (!r) resolvers.set(ir, (r = new AddressResolver(ir)));
  return r;
}
