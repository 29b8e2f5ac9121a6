// Address labels for one side (sources or destinations) of one switch: the
// addresses are partitioned by which of the switch's address sets (rule
// sources, or rule destinations) they belong to, and each part with at least
// one set gets a class id. The LPM classifier tables map addresses to
// labels, and the ACL matches a set as the ternary cover of its class ids,
// or, for the sets that overlap others most, as its number in a layer field.
//
// Why both (bench/p4.ts, README "P4 switches"): with groups that do not
// overlap, class ids cost one ternary per set, as bits do, in 11 bits where
// bits would need 1,251 (10,000 rules); with overlapping label selectors a
// set is many classes and class covers multiply (1,000 rules: 10.6 M ACL
// entries with class ids alone, 5,711 with one bit per set, which would need
// 278 bits). Layers of disjoint sets give those sets one ternary each in a
// few bits per layer: a 16-bit class id plus 48 layer bits (64 in all).
//
// Class ids are shared by IPv4 and IPv6 (a group's v4 and v6 addresses with
// the same memberships get the same id), so a rule whose groups hold both
// families still costs one class cover per side. A set covering a whole
// family (::/0 for neighbour discovery) is no class at all: the ACL matches
// it on ether_type with the class wildcarded. `any` is a wildcard.

import { UnsupportedError } from '../../orchestrator/diagnostics.ts';
import { cidrRange, type Cidr, type Family } from '../../orchestrator/net/ip.ts';
import type { AddressSet } from '../switch-common/index.ts';
import { exactTernary, mergeTernaries, type Ternary } from './ternary.ts';

/** How one side of an ACL entry matches a set: per family, a class cover or the whole family. */
export interface SideMatch {
  /** Restrict to one family (ether_type), class wildcarded. */
  family?: Family;
  /** Label ternary; undefined is a wildcard. */
  label?: Ternary;
}

/** One side's labels as the ACL sees them; codegen asks it how to match a set. */
export interface SideLabels {
  matchesOf(set: AddressSet): SideMatch[];
}

export interface ClassPrefix {
  prefix: Cidr;
  label: bigint;
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

/**
 * Label layout: the class id in the low CLASS_ID_BITS, then layer fields.
 * A layer holds sets that never share an address, so each address is in at
 * most one of them and a field numbering them (0: none) matches each set
 * with one ternary.
 */
export const LAYER_BITS = 48;
export const LABEL_BITS = CLASS_ID_BITS + LAYER_BITS;

/** Elementary intervals of one family, each with the ids of the sets holding it. */
function sweep(keyed: AddressSet[], family: Family): { lo: bigint; hi: bigint; ids: number[] }[] {
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
  const out: { lo: bigint; hi: bigint; ids: number[] }[] = [];
  for (let i = 0; i < points.length - 1; i++) {
    for (const ev of events.get(points[i])!) {
      const id = Math.abs(ev) - 1;
      const n = (active.get(id) ?? 0) + (ev > 0 ? 1 : -1);
      if (n === 0) active.delete(id);
      else active.set(id, n);
    }
    if (active.size) out.push({ lo: points[i], hi: points[i + 1] - 1n, ids: [...active.keys()].sort((a, b) => a - b) });
  }
  return out;
}

/** Class ids for the signatures (sorted set ids, minus the sets with a bit) of a set of intervals, and each set's classes. */
function numberClasses(intervals: { ids: number[] }[][], hasBit: (id: number) => boolean): { classOf: Map<string, number>; classesOfSet: Map<number, number[]> } {
  const sigs = new Set<string>();
  for (const list of intervals) for (const iv of list) sigs.add(iv.ids.filter((id) => !hasBit(id)).join(','));
  sigs.delete('');
  // Ids in signature order, so classes sharing sets sit next to each other and their covers merge.
  const classOf = new Map([...sigs].sort().map((sig, i) => [sig, i + 1]));
  const classesOfSet = new Map<number, number[]>();
  for (const [sig, cls] of classOf) {
    for (const id of sig.split(',').map(Number)) {
      const list = classesOfSet.get(id);
      if (list) list.push(cls);
      else classesOfSet.set(id, [cls]);
    }
  }
  return { classOf, classesOfSet };
}

interface LabelRun {
  lo: bigint;
  hi: bigint;
  label: bigint;
}

interface TrieNode {
  /** Labels this subtree's root prefix may carry for its subtree to need the fewest entries (ORTC's candidate set). */
  labels: bigint[];
  kids?: [TrieNode, TrieNode];
}

const NO_LABEL: TrieNode = { labels: [0n] };

/**
 * The fewest LPM entries giving every address its run's label and every
 * other address label 0 (a miss): the Optimal Routing Table Constructor
 * (Draves, King, Venkatachary, Zill, INFOCOM 1999). Cutting runs into
 * disjoint prefixes pays up to 2 x width entries per run; nesting pays one
 * per run inside a background, so a zone whose endpoints carry other labels
 * costs its own prefix plus theirs instead of the gaps between them.
 * Pass 1 builds the binary trie down to uniform prefixes; pass 2 gives each
 * node the labels that minimise its subtree (children's intersection, or
 * their union when it is empty); pass 3 writes an entry only where the
 * inherited label is not among them.
 */
function fewestPrefixes(family: Family, runs: LabelRun[]): ClassPrefix[] {
  const bits = family === 4 ? 32 : 128;
  const build = (lo: bigint, len: number, from: number, to: number): TrieNode => {
    if (from >= to) return NO_LABEL;
    const hi = lo + (1n << BigInt(bits - len)) - 1n;
    if (to - from === 1 && runs[from].lo <= lo && runs[from].hi >= hi) return { labels: [runs[from].label] };
    const mid = lo + (1n << BigInt(bits - len - 1));
    let split = from;
    while (split < to && runs[split].hi < mid) split++;
    // A run crossing the middle belongs to both halves.
    const left = build(lo, len + 1, from, split < to && runs[split].lo < mid ? split + 1 : split);
    const right = build(mid, len + 1, split, to);
    const both = left.labels.filter((l) => right.labels.includes(l));
    const labels = both.length ? both : [...new Set([...left.labels, ...right.labels])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { labels, kids: [left, right] };
  };
  const out: ClassPrefix[] = [];
  const write = (node: TrieNode, addr: bigint, len: number, inherited: bigint): void => {
    let label = inherited;
    if (!node.labels.includes(inherited)) {
      label = node.labels[0];
      out.push({ prefix: { family, addr, len }, label });
    }
    if (node.kids) {
      write(node.kids[0], addr, len + 1, label);
      write(node.kids[1], addr + (1n << BigInt(bits - len - 1)), len + 1, label);
    }
  };
  write(build(0n, 0, 0, runs.length), 0n, 0, 0n);
  return out;
}

const coverOf = (classes: number[] | undefined): Ternary[] => mergeTernaries((classes ?? []).map((c) => exactTernary(c, CLASS_ID_BITS)), CLASS_ID_BITS);

interface Layer {
  members: number[];
  offset: number;
  width: number;
}

const widthFor = (members: number): number => 32 - Math.clz32(members);

/**
 * Labels of one side: which label ternaries match each set, and the LPM
 * entries per family. With class ids alone, a set costs the ternary cover of
 * its classes, one when it overlaps no other set but many when it overlaps
 * others (label selectors). Those sets, costliest first ((cover - 1) x
 * uses), are put into layers of pairwise disjoint sets while LAYER_BITS
 * last; the rest keep class ids, numbered over the sets outside layers.
 */
export class AddressClasses implements SideLabels {
  lpm: Record<Family, ClassPrefix[]> = { 4: [], 6: [] };
  /** Class ids in use (1..count; 0 is "in no set outside the layers"). */
  readonly count: number;
  /** Sets placed in layers, and the layer bits used. */
  readonly layered: number;
  layerBits = 0;
  private readonly setIds = new Map<string, number>();
  /** Set id -> its ternary in the layer fields. */
  private readonly layerMatch = new Map<number, Ternary>();
  private readonly classesOfSet: Map<number, number[]>;
  private readonly coverCache = new Map<number, Ternary[]>();

  /**
   * `sets`: the address set of this side of every band (repeats count as
   * uses); `any` is skipped. `layerBudget`: bits for layer fields (the
   * pipeline's LAYER_BITS; the benchmark varies it).
   */
  constructor(
    sets: AddressSet[],
    device: string,
    private readonly layerBudget = LAYER_BITS,
  ) {
    const keyed: AddressSet[] = [];
    const uses: number[] = [];
    for (const s of sets) {
      if (s.any) continue;
      const key = setKey(s);
      let id = this.setIds.get(key);
      if (id === undefined) {
        this.setIds.set(key, (id = keyed.length));
        keyed.push(s);
        uses.push(0);
      }
      uses[id]++;
    }
    const intervals = { 4: sweep(keyed, 4), 6: sweep(keyed, 6) };
    const all = numberClasses([intervals[4], intervals[6]], () => false);
    const costly = keyed
      .map((_, id) => ({ id, extra: (coverOf(all.classesOfSet.get(id)).length - 1) * uses[id] }))
      .filter((c) => c.extra > 0)
      .sort((a, b) => b.extra - a.extra || a.id - b.id);
    const layerOf = this.placeInLayers(
      costly.map((c) => c.id),
      [intervals[4], intervals[6]],
    );
    const { classOf, classesOfSet } = layerOf.size ? numberClasses([intervals[4], intervals[6]], (id) => layerOf.has(id)) : all;
    if (classOf.size >= 1 << CLASS_ID_BITS) {
      throw new UnsupportedError('p4', 'address classes', `${device} needs ${classOf.size} classes on one side, more than the ${(1 << CLASS_ID_BITS) - 1} a ${CLASS_ID_BITS}-bit class id holds`);
    }
    this.classesOfSet = classesOfSet;
    for (const family of [4, 6] as const) {
      const runs: LabelRun[] = [];
      for (const iv of intervals[family]) {
        let label = BigInt(classOf.get(iv.ids.filter((id) => !layerOf.has(id)).join(',')) ?? 0);
        for (const id of iv.ids) if (layerOf.has(id)) label |= this.layerMatch.get(id)!.value;
        const last = runs[runs.length - 1];
        if (last && last.label === label && last.hi + 1n === iv.lo) last.hi = iv.hi;
        else runs.push({ lo: iv.lo, hi: iv.hi, label });
      }
      this.lpm[family] = fewestPrefixes(family, runs);
    }
    this.count = classOf.size;
    this.layered = layerOf.size;
  }

  /**
   * First fit: each set goes into the first layer holding no set it shares
   * an address with, or a new layer, as long as the fields fit the budget.
   * Returns the layered set ids; fills layerMatch.
   */
  private placeInLayers(order: number[], intervals: { ids: number[] }[][]): Set<number> {
    const placed = new Set<number>();
    if (order.length === 0) return placed;
    const wanted = new Set(order);
    const overlaps = new Map<number, Set<number>>();
    for (const list of intervals) {
      for (const iv of list) {
        const ids = iv.ids.filter((id) => wanted.has(id));
        for (const a of ids) {
          let s = overlaps.get(a);
          if (!s) overlaps.set(a, (s = new Set()));
          for (const b of ids) if (b !== a) s.add(b);
        }
      }
    }
    const layers: Layer[] = [];
    let used = 0;
    for (const id of order) {
      const clash = overlaps.get(id) ?? new Set<number>();
      let home = layers.find((l) => !l.members.some((m) => clash.has(m)) && used - l.width + widthFor(l.members.length + 1) <= this.layerBudget);
      if (!home) {
        if (used + 1 > this.layerBudget) continue;
        home = { members: [], offset: 0, width: 0 };
        layers.push(home);
      }
      home.members.push(id);
      used += widthFor(home.members.length) - home.width;
      home.width = widthFor(home.members.length);
    }
    let offset = CLASS_ID_BITS;
    for (const l of layers) {
      l.offset = offset;
      offset += l.width;
      const mask = ((1n << BigInt(l.width)) - 1n) << BigInt(l.offset);
      l.members.forEach((id, i) => {
        this.layerMatch.set(id, { value: BigInt(i + 1) << BigInt(l.offset), mask });
        placed.add(id);
      });
    }
    this.layerBits = used;
    return placed;
  }

  matchesOf(set: AddressSet): SideMatch[] {
    if (set.any) return [{}];
    const out: SideMatch[] = [];
    for (const family of [4, 6] as const) if (familyWide(set, family)) out.push({ family });
    const id = this.setIds.get(setKey(set));
    if (id === undefined) throw new Error('address set not classified');
    const layered = this.layerMatch.get(id);
    if (layered) {
      out.push({ label: layered });
      return out;
    }
    let cover = this.coverCache.get(id);
    if (!cover) this.coverCache.set(id, (cover = coverOf(this.classesOfSet.get(id))));
    for (const t of cover) out.push({ label: t });
    return out;
  }
}
