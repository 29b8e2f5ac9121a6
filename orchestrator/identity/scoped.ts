// The identity of a few addresses (its id and groups) exactly as
// buildIdentities gives it, without building the identity table and LPM of
// the whole fabric: a one-off `weft explain` asks about two addresses and
// the endpoints behind a port or two.
//
// An address's groups come from the policy's own prefixes (a few thousand,
// cut into disjoint ranges once) and from the endpoints having that address.
// Its id, though, is a hash of its groups whose collisions are settled
// against every identity in use, so the signatures in use are still listed:
// one pass over the endpoints' addresses, keyed by (innermost policy prefix,
// selected groups), with no per-address node, tree or LPM entry. Only the
// signatures in the run of occupied slots holding the asked one are then
// named and ordered, since linear probing never moves an id across a free
// slot.

import type { Fabric } from '../../inventory/model.ts';
import { FAMILY_BITS, type Family, type IpAddr } from '../net/ip.ts';
import type { Policy } from '../policy/model.ts';
import { WORLD_IDENTITY } from '../ir/model.ts';
import { assignIds, cidrMembership, extendChain, ID_SLOTS, selectedGroups, signatureSlot, union } from './build.ts';

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

/** Signatures in use (world aside): keys[i] is members[i] joined; order lists them by slot, runStart marks where a run of taken slots begins. */
interface SlotRuns {
  keys: string[];
  members: number[][];
  order: Int32Array;
  runStart: Uint8Array;
}

export interface ScopedIdentity {
  id: number;
  /** Sorted group names; [] for world. */
  groups: string[];
}

/** Endpoint indices packed beside an IPv4 address in one exact double (2^32 * 2^21 = 2^53). */
const ENDPOINT_SLOTS = 2 ** 21;

export class ScopedIdentities {
  private readonly groupNames: string[];
  private readonly prefixes: PolicyPrefix[] = [];
  /** Groups each policy prefix's own addresses are in through CIDRs. */
  private readonly member: number[][] = [];
  /** Each policy prefix's nearest enclosing one, -1 for /0. */
  private readonly parent: Int32Array;
  private readonly ranges: Record<Family, PrefixRanges>;
  /** Groups each endpoint's labels select, by endpoint index. */
  private readonly selected: number[][];
  /** IPv4 endpoint addresses, as address * ENDPOINT_SLOTS + endpoint index, sorted. */
  private readonly v4: Float64Array;
  /** IPv6 endpoint addresses, sorted. */
  private readonly v6: { value: bigint; endpoint: number }[] = [];
  private slots: SlotRuns | undefined;

  constructor(policy: Policy, fabric: Fabric) {
    // Numbered in name order, so a sorted list of group numbers names its groups sorted, as a signature does.
    const groups = [...policy.groups.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
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

    this.selected = selectedGroups(
      groups.map((g) => g.selector),
      fabric,
    );
    // Endpoint addresses sorted, so equal ones sit together and a lookup is a binary search.
    if (fabric.endpoints.length > ENDPOINT_SLOTS) throw new Error(`identity: ${fabric.endpoints.length} endpoints exceed ${ENDPOINT_SLOTS}`);
    const v4: number[] = [];
    fabric.endpoints.forEach((ep, ei) => {
      for (const a of ep.addresses) {
        if (a.family === 4) v4.push(Number(a.value) * ENDPOINT_SLOTS + ei);
        else this.v6.push({ value: a.value, endpoint: ei });
      }
    });
    this.v4 = Float64Array.from(v4).sort();
    this.v6.sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : a.endpoint - b.endpoint));
  }

  /** Indices of the endpoints having `a`. */
  private endpointsAt(a: IpAddr): number[] {
    const out: number[] = [];
    if (a.family === 4) {
      const v = Number(a.value);
      const t = this.v4;
      let lo = 0;
      let hi = t.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (t[mid] < v * ENDPOINT_SLOTS) lo = mid + 1;
        else hi = mid;
      }
      for (let k = lo; k < t.length && Math.floor(t[k] / ENDPOINT_SLOTS) === v; k++) out.push(t[k] % ENDPOINT_SLOTS);
    } else {
      const t = this.v6;
      let lo = 0;
      let hi = t.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (t[mid].value < a.value) lo = mid + 1;
        else hi = mid;
      }
      for (let k = lo; k < t.length && t[k].value === a.value; k++) out.push(t[k].endpoint);
    }
    return out;
  }

  /** Groups selecting one of `endpoints` (an address several endpoints share is in each one's groups). */
  private selectionOf(endpoints: number[]): number[] {
    let sel = this.selected[endpoints[0]];
    for (let k = 1; k < endpoints.length; k++) sel = union(sel, this.selected[endpoints[k]]);
    return sel;
  }

  /** The innermost policy prefix holding `a`. */
  private innermost(a: IpAddr): number {
    if (a.family === 4) return this.innermostV4(Number(a.value));
    const t = this.ranges[6];
    let lo = 0;
    let hi = t.prefix.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (t.start[mid] <= a.value) lo = mid;
      else hi = mid - 1;
    }
    return t.prefix[lo];
  }

  private innermostV4(v: number): number {
    const t = this.ranges[4];
    const s = t.startNum!;
    let lo = 0;
    let hi = t.prefix.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (s[mid] <= v) lo = mid;
      else hi = mid - 1;
    }
    return t.prefix[lo];
  }

  /** Group indices of the identity holding `a`. */
  private membership(a: IpAddr): number[] {
    const endpoints = this.endpointsAt(a);
    const cidrs = this.member[this.innermost(a)];
    return endpoints.length > 0 ? union(cidrs, this.selectionOf(endpoints)) : cidrs;
  }

  /** Sorted names of the groups holding `a`. */
  groupsOf(a: IpAddr): string[] {
    return this.namesOf(this.membership(a));
  }

  private namesOf(member: readonly number[]): string[] {
    return member.map((gi) => this.groupNames[gi]);
  }

  identityOf(a: IpAddr): ScopedIdentity {
    const member = this.membership(a);
    const groups = this.namesOf(member);
    return { id: groups.length === 0 ? WORLD_IDENTITY : this.idOf(member), groups };
  }

  /**
   * The id buildIdentities gives the signature `member`: every signature in
   * use takes the first free slot from its hash, in signature order. Which
   * slots end up taken does not depend on that order, so the signatures
   * hashing into the run of taken slots around `member`'s are the only ones
   * that can move it; they alone are ordered and placed.
   */
  private idOf(member: number[]): number {
    const slots = this.slotsInUse();
    const key = member.join(',');
    const runs = slots.order;
    let k = 0;
    while (k < runs.length && slots.keys[runs[k]] !== key) k++;
    if (k === runs.length) throw new Error(`identity: signature ${key} is not in use`);
    let first = k;
    while (first > 0 && !slots.runStart[first]) first--;
    let last = k;
    while (last + 1 < runs.length && !slots.runStart[last + 1]) last++;
    const run = Array.from(runs.subarray(first, last + 1));
    const ids = assignIds(run.map((i) => this.namesOf(slots.members[i])));
    return ids[k - first];
  }

  /**
   * Signatures in use and their slots, sorted by slot, cut into runs of
   * taken slots. In use: the group sets of the endpoint addresses, and
   * those of the policy prefixes keeping addresses of their own (not
   * covered by longer policy prefixes and endpoint addresses).
   */
  private slotsInUse(): SlotRuns {
    if (this.slots) return this.slots;
    const used = this.signaturesInUse();
    const keys: string[] = [];
    const members: number[][] = [];
    for (const [k, m] of used) {
      if (m.length === 0) continue; // world takes no slot
      keys.push(k);
      members.push(m);
    }
    // slot * 2^27 + index: sorted as numbers, by slot then index.
    const packed = new Float64Array(keys.length);
    members.forEach((m, i) => (packed[i] = signatureSlot(this.namesOf(m)) * 2 ** 27 + i));
    packed.sort();
    const order = new Int32Array(packed.length);
    const runStart = new Uint8Array(packed.length);
    let end = -2;
    for (let k = 0; k < packed.length; k++) {
      const slot = Math.floor(packed[k] / 2 ** 27);
      order[k] = packed[k] - slot * 2 ** 27;
      // A slot right after a run joins it: ids there could be pushed on.
      if (slot > end + 1) runStart[k] = 1;
      end = Math.max(slot, end + 1);
    }
    // A run wrapping past the last slot continues at slot 0: one run of them all, as assignIds does.
    if (end >= ID_SLOTS) runStart.fill(0, 1);
    this.slots = { keys, members, order, runStart };
    return this.slots;
  }

  private signaturesInUse(): Map<string, number[]> {
    const used = new Map<string, number[]>();
    const endpointsIn = new Float64Array(this.prefixes.length);
    // Endpoint addresses by (innermost prefix, selection): most share both,
    // and in address order a prefix's addresses come in long stretches.
    const selectionNumber = new Map<number[], number>();
    const lastPrefixOf: number[] = [];
    const addAddress = (prefix: number, endpoints: number[]): void => {
      endpointsIn[prefix]++;
      const selected = this.selectionOf(endpoints);
      let s = selectionNumber.get(selected);
      if (s === undefined) selectionNumber.set(selected, (s = selectionNumber.size));
      if (lastPrefixOf[s] === prefix) return;
      lastPrefixOf[s] = prefix;
      const member = union(this.member[prefix], selected);
      used.set(member.join(','), member);
    };
    const t4 = this.v4;
    for (let k = 0; k < t4.length; ) {
      const value = Math.floor(t4[k] / ENDPOINT_SLOTS);
      const endpoints: number[] = [];
      for (; k < t4.length && Math.floor(t4[k] / ENDPOINT_SLOTS) === value; k++) endpoints.push(t4[k] % ENDPOINT_SLOTS);
      addAddress(this.innermostV4(value), endpoints);
    }
    const t6 = this.v6;
    for (let k = 0; k < t6.length; ) {
      const value = t6[k].value;
      const endpoints: number[] = [];
      for (; k < t6.length && t6[k].value === value; k++) endpoints.push(t6[k].endpoint);
      addAddress(this.innermost({ family: 6, value }), endpoints);
    }
    const covered = this.prefixes.map((_, i) => BigInt(endpointsIn[i]));
    this.prefixes.forEach((p, i) => {
      if (this.parent[i] >= 0) covered[this.parent[i]] += 1n << BigInt(FAMILY_BITS[p.family] - p.len);
    });
    this.prefixes.forEach((p, i) => {
      if (covered[i] < 1n << BigInt(FAMILY_BITS[p.family] - p.len)) used.set(this.member[i].join(','), this.member[i]);
    });
    return used;
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
