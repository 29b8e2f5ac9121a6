// The identity of a few addresses (its id and groups) exactly as
// buildIdentities gives it, without building the identity table and LPM of
// the whole fabric: a one-off `weft explain` asks about two addresses and
// the endpoints behind a port or two.
//
// An address's groups come from the policy's own prefixes (a few thousand,
// cut into disjoint ranges once) and from the endpoints having that address.
// Its id, though, is a hash of its groups whose collisions are settled
// against every identity in use, so the signatures in use are still counted:
// one pass over the endpoints' addresses, keyed by (innermost policy prefix,
// selected groups), with no per-address node, tree or LPM entry.

import type { Fabric } from '../../inventory/model.ts';
import { FAMILY_BITS, type Family, type IpAddr } from '../net/ip.ts';
import type { Policy } from '../policy/model.ts';
import { WORLD_IDENTITY } from '../ir/model.ts';
import { assignIds, cidrMembership, extendChain, selectedGroups, union } from './build.ts';

interface PolicyPrefix {
  family: Family;
  addr: bigint;
  len: number;
  cidrOf: number[];
  exceptOf: number[];
}

/** One family's address space as disjoint ranges, range k from start[k], each owned by its innermost policy prefix. */
interface PrefixRanges {
  start: bigint[];
  /** IPv4 starts as numbers, for speed. */
  startNum: Float64Array | null;
  prefix: Int32Array;
}

/** An endpoint address: its innermost policy prefix and the groups its endpoints' labels select. */
interface EndpointAddress {
  prefix: number;
  selected: number[];
}

export interface ScopedIdentity {
  id: number;
  /** Sorted group names; [] for world. */
  groups: string[];
}

/** Bits of a pair key left to the selection's number (a fabric has far fewer distinct label sets). */
const SELECTION_BITS = 2 ** 24;

export class ScopedIdentities {
  private readonly groupNames: string[];
  private readonly prefixes: PolicyPrefix[] = [];
  /** Groups each policy prefix's own addresses are in through CIDRs. */
  private readonly member: number[][] = [];
  /** Each policy prefix's nearest enclosing one, -1 for /0. */
  private readonly parent: Int32Array;
  private readonly ranges: Record<Family, PrefixRanges>;
  private readonly v4 = new Map<number, EndpointAddress>();
  private readonly v6 = new Map<bigint, EndpointAddress>();
  /** Group sets of every identity in use, by their indices joined. */
  private used: Map<string, number[]> | undefined;
  private ids: Map<string, number> | undefined;

  constructor(policy: Policy, fabric: Fabric) {
    const groups = [...policy.groups.values()];
    this.groupNames = groups.map((g) => g.name);
    const byKey = new Map<string, PolicyPrefix>();
    const prefixAt = (family: Family, addr: bigint, len: number): PolicyPrefix => {
      const key = `${family}/${addr}/${len}`;
      let p = byKey.get(key);
      if (!p) {
        p = { family, addr, len, cidrOf: [], exceptOf: [] };
        byKey.set(key, p);
        this.prefixes.push(p);
      }
      return p;
    };
    prefixAt(4, 0n, 0);
    prefixAt(6, 0n, 0);
    groups.forEach((g, gi) => {
      for (const c of g.cidrs) prefixAt(c.family, c.addr, c.len).cidrOf.push(gi);
      for (const c of g.except) prefixAt(c.family, c.addr, c.len).exceptOf.push(gi);
    });
    const list = this.prefixes;
    list.sort((a, b) => a.family - b.family || (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : a.len - b.len));
    const hi = list.map((p) => p.addr | ((1n << BigInt(FAMILY_BITS[p.family] - p.len)) - 1n));

    // The prefix tree, as buildIdentities walks it: each prefix inherits its
    // ancestors' cidr and except groups.
    const parent = new Int32Array(list.length).fill(-1);
    const cidrChain: number[][] = [];
    const exceptChain: number[][] = [];
    const stack: number[] = [];
    list.forEach((p, i) => {
      while (stack.length > 0) {
        const top = stack[stack.length - 1];
        if (list[top].family === p.family && p.addr <= hi[top]) break;
        stack.pop();
      }
      const up = stack.length > 0 ? stack[stack.length - 1] : -1;
      parent[i] = up;
      cidrChain.push(extendChain(up >= 0 ? cidrChain[up] : undefined, p.cidrOf));
      exceptChain.push(extendChain(up >= 0 ? exceptChain[up] : undefined, p.exceptOf));
      this.member.push(cidrMembership(cidrChain[i], exceptChain[i]));
      stack.push(i);
    });
    this.parent = parent;
    this.ranges = { 4: rangesOf(list, hi, 4), 6: rangesOf(list, hi, 6) };

    // Endpoint addresses, once each: an address several endpoints share is
    // in every group any of them is selected by.
    const selected = selectedGroups(
      groups.map((g) => g.selector),
      fabric,
    );
    fabric.endpoints.forEach((ep, ei) => {
      for (const a of ep.addresses) {
        const known = a.family === 4 ? this.v4.get(Number(a.value)) : this.v6.get(a.value);
        if (known) known.selected = union(known.selected, selected[ei]);
        else if (a.family === 4) this.v4.set(Number(a.value), { prefix: this.innermost(a), selected: selected[ei] });
        else this.v6.set(a.value, { prefix: this.innermost(a), selected: selected[ei] });
      }
    });
  }

  /** The innermost policy prefix holding `a`. */
  private innermost(a: IpAddr): number {
    const t = this.ranges[a.family];
    let lo = 0;
    let hi = t.prefix.length - 1;
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
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (s[mid] <= a.value) lo = mid;
        else hi = mid - 1;
      }
    }
    return t.prefix[lo];
  }

  private endpointAddress(a: IpAddr): EndpointAddress | undefined {
    return a.family === 4 ? this.v4.get(Number(a.value)) : this.v6.get(a.value);
  }

  /** Group indices of the identity holding `a`. */
  private membership(a: IpAddr): number[] {
    const ep = this.endpointAddress(a);
    return ep ? union(this.member[ep.prefix], ep.selected) : this.member[this.innermost(a)];
  }

  /** Sorted names of the groups holding `a`. */
  groupsOf(a: IpAddr): string[] {
    return this.namesOf(this.membership(a));
  }

  private namesOf(member: number[]): string[] {
    return member.map((gi) => this.groupNames[gi]).sort();
  }

  identityOf(a: IpAddr): ScopedIdentity {
    const member = this.membership(a);
    const groups = this.namesOf(member);
    if (groups.length === 0) return { id: WORLD_IDENTITY, groups };
    return { id: this.idsInUse().get(member.join(','))!, groups };
  }

  /**
   * Ids of every identity in use, as buildIdentities assigns them. In use:
   * the group sets of the endpoint addresses, and those of the policy
   * prefixes keeping addresses of their own (not covered by longer policy
   * prefixes and endpoint addresses).
   */
  private idsInUse(): Map<string, number> {
    if (this.ids) return this.ids;
    const used = (this.used = new Map<string, number[]>());
    const covered = this.prefixes.map(() => 0n);
    this.prefixes.forEach((p, i) => {
      if (this.parent[i] >= 0) covered[this.parent[i]] += 1n << BigInt(FAMILY_BITS[p.family] - p.len);
    });
    // Endpoint addresses by (innermost prefix, selection): most share both.
    const selectionNumber = new Map<number[], number>();
    const pairs = new Set<number>();
    const addEndpoint = (e: EndpointAddress): void => {
      covered[e.prefix] += 1n;
      let s = selectionNumber.get(e.selected);
      if (s === undefined) selectionNumber.set(e.selected, (s = selectionNumber.size));
      const pair = e.prefix * SELECTION_BITS + s;
      if (pairs.has(pair)) return;
      pairs.add(pair);
      const member = union(this.member[e.prefix], e.selected);
      used.set(member.join(','), member);
    };
    for (const e of this.v4.values()) addEndpoint(e);
    for (const e of this.v6.values()) addEndpoint(e);
    if (selectionNumber.size >= SELECTION_BITS) throw new Error(`identity: ${selectionNumber.size} distinct label selections exceed ${SELECTION_BITS}`);
    this.prefixes.forEach((p, i) => {
      if (covered[i] < 1n << BigInt(FAMILY_BITS[p.family] - p.len)) used.set(this.member[i].join(','), this.member[i]);
    });
    const keys = [...used.keys()];
    const assigned = assignIds(keys.map((k) => this.namesOf(used.get(k)!)));
    this.ids = new Map(keys.map((k, i) => [k, assigned[i]]));
    return this.ids;
  }
}

/** Cuts one family's space into disjoint ranges, each owned by the innermost prefix holding it. */
function rangesOf(list: PolicyPrefix[], hi: bigint[], family: Family): PrefixRanges {
  const start: bigint[] = [];
  const prefix: number[] = [];
  const emit = (s: bigint, p: number): void => {
    if (start.length > 0 && start[start.length - 1] === s) prefix[prefix.length - 1] = p;
    else {
      start.push(s);
      prefix.push(p);
    }
  };
  const stack: number[] = [];
  const closeBefore = (x: bigint | null): void => {
    while (stack.length > 0 && (x === null || hi[stack[stack.length - 1]] < x)) {
      const top = stack.pop()!;
      const below = stack[stack.length - 1];
      if (below !== undefined && hi[top] + 1n <= hi[below]) emit(hi[top] + 1n, below);
    }
  };
  list.forEach((p, i) => {
    if (p.family !== family) return;
    closeBefore(p.addr);
    emit(p.addr, i);
    stack.push(i);
  });
  closeBefore(null);
  return { start, startNum: family === 4 ? Float64Array.from(start, Number) : null, prefix: Int32Array.from(prefix) };
}
