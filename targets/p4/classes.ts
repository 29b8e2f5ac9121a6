// Address classes for one side (sources or destinations) of one switch: the
// addresses are partitioned by which of the switch's address sets (rule
// sources, or rule destinations) they belong to, and each part with at least
// one set gets a class id. The LPM classifier tables map addresses to these
// ids, and the ACL matches a set as the ternary cover of its class ids.
//
// Class ids are shared by IPv4 and IPv6 (a group's v4 and v6 addresses with
// the same memberships get the same id), so a rule whose groups hold both
// families still costs one class cover per side. A set covering a whole
// family (::/0 for neighbour discovery) is no class at all: the ACL matches
// it on ether_type with the class wildcarded. `any` is a wildcard.

import { UnsupportedError } from '../../orchestrator/diagnostics.ts';
import { cidrRange, rangeToCidrs, type Cidr, type Family } from '../../orchestrator/net/ip.ts';
import type { AddressSet } from '../switch-common/index.ts';
import { exactTernary, mergeTernaries, type Ternary } from './ternary.ts';

/** How one side of an ACL entry matches a set: per family, a class cover or the whole family. */
export interface SideMatch {
  /** Restrict to one family (ether_type), class wildcarded. */
  family?: Family;
  /** Class id ternary; undefined is a wildcard. */
  classes?: Ternary;
}

/** One side's labels as the ACL sees them; codegen asks it how to match a set. */
export interface SideLabels {
  matchesOf(set: AddressSet): SideMatch[];
}

export interface ClassPrefix {
  prefix: Cidr;
  classId: number;
}

export const CLASS_ID_BITS = 16;

const familyWide = (set: AddressSet, f: Family): boolean => (f === 4 ? set.v4 : set.v6).some((c) => c.len === 0);

const keys = new WeakMap<AddressSet, string>();

/** Equal sets get equal keys (the resolver shares set objects, so this is mostly a cache hit). */
export function setKey(set: AddressSet): string {
  let k = keys.get(set);
  if (k === undefined) {
    const part = (cs: Cidr[]) => cs.map((c) => `${c.addr.toString(16)}/${c.len}`).join(',');
    k = set.any ? '*' : `${part(set.v4)}|${part(set.v6)}`;
    keys.set(set, k);
  }
  return k;
}

/** Classes of one side: which classes each set holds, and the LPM entries per family. */
export class AddressClasses implements SideLabels {
  readonly lpm: Record<Family, ClassPrefix[]> = { 4: [], 6: [] };
  /** Class ids in use (1..count; 0 is "in no set"). */
  readonly count: number;
  private readonly setIds = new Map<string, number>();
  private readonly classesOfSet = new Map<number, number[]>();
  private readonly coverCache = new Map<number, Ternary[]>();

  /** `sets`: every non-`any` address set this side of the switch's entries uses. */
  constructor(sets: AddressSet[], device: string) {
    const keyed: AddressSet[] = [];
    for (const s of sets) {
      const key = setKey(s);
      if (s.any || this.setIds.has(key)) continue;
      this.setIds.set(key, keyed.length);
      keyed.push(s);
    }
    // Elementary intervals per family, each with the sorted ids of the sets holding it (its signature).
    const runs: Record<Family, { lo: bigint; hi: bigint; sig: string }[]> = { 4: [], 6: [] };
    const signatures = new Set<string>();
    for (const family of [4, 6] as const) {
      const events = new Map<bigint, number[]>();
      const add = (at: bigint, id: number) => {
        const list = events.get(at);
        if (list) list.push(id);
        else events.set(at, [id]);
      };
      keyed.forEach((set, id) => {
        if (familyWide(set, family)) return;
        for (const c of family === 4 ? set.v4 : set.v6) {
          const { lo, hi } = cidrRange(c);
          add(lo, id + 1);
          add(hi + 1n, -(id + 1));
        }
      });
      const points = [...events.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const active = new Map<number, number>();
      for (let i = 0; i < points.length - 1; i++) {
        for (const ev of events.get(points[i])!) {
          const id = Math.abs(ev) - 1;
          const n = (active.get(id) ?? 0) + (ev > 0 ? 1 : -1);
          if (n === 0) active.delete(id);
          else active.set(id, n);
        }
        if (active.size === 0) continue;
        const sig = [...active.keys()].sort((a, b) => a - b).join(',');
        signatures.add(sig);
        const last = runs[family][runs[family].length - 1];
        if (last && last.sig === sig && last.hi + 1n === points[i]) last.hi = points[i + 1] - 1n;
        else runs[family].push({ lo: points[i], hi: points[i + 1] - 1n, sig });
      }
    }
    // Ids in signature order, so classes sharing sets sit next to each other and their covers merge.
    const ordered = [...signatures].sort();
    if (ordered.length >= 1 << CLASS_ID_BITS) {
      throw new UnsupportedError('p4', 'address classes', `${device} needs ${ordered.length} classes on one side, more than the ${(1 << CLASS_ID_BITS) - 1} a ${CLASS_ID_BITS}-bit class id holds`);
    }
    const classOf = new Map(ordered.map((sig, i) => [sig, i + 1]));
    for (const [sig, cls] of classOf) {
      for (const id of sig.split(',').map(Number)) {
        const list = this.classesOfSet.get(id);
        if (list) list.push(cls);
        else this.classesOfSet.set(id, [cls]);
      }
    }
    for (const family of [4, 6] as const) {
      for (const r of runs[family]) {
        const classId = classOf.get(r.sig)!;
        for (const prefix of rangeToCidrs(family, r.lo, r.hi)) this.lpm[family].push({ prefix, classId });
      }
    }
    this.count = ordered.length;
  }

  /** The fewest ternaries over class ids that hold exactly the classes of a set. */
  private cover(id: number): Ternary[] {
    let hit = this.coverCache.get(id);
    if (!hit) {
      hit = mergeTernaries((this.classesOfSet.get(id) ?? []).map((c) => exactTernary(c, CLASS_ID_BITS)), CLASS_ID_BITS);
      this.coverCache.set(id, hit);
    }
    return hit;
  }

  matchesOf(set: AddressSet): SideMatch[] {
    if (set.any) return [{}];
    const out: SideMatch[] = [];
    for (const family of [4, 6] as const) if (familyWide(set, family)) out.push({ family });
    const id = this.setIds.get(setKey(set));
    if (id === undefined) throw new Error('address set not classified');
    for (const t of this.cover(id)) out.push({ classes: t });
    return out;
  }
}
