// Expansion of ordered rules over identities: which rules apply to each
// (source identity, destination identity) pair, in rule order, and how the
// first match splits the protocol/port-key space among them. Shared by the
// IR builder (which emits cells) and the analysis (which asks which rules win
// anything and whether a winner could be dropped).

import type { PeerRef, PortMatch, Rule } from '../policy/model.ts';
import type { Identity, IrProto } from './model.ts';
import { IR_PROTOS } from './model.ts';

/** Index of an IR protocol in IR_PROTOS; cells are ordered by protocol number. */
export const PROTO_SLOTS = IR_PROTOS.length;
const SLOT_OF: Record<number, number> = { 0: 0, 1: 1, 6: 2, 17: 3, 58: 4 };

/** The port-key space a rule matches, per IR protocol: sorted disjoint [lo, hi] pairs, flattened. */
export type RuleShape = number[][];

function addInterval(list: number[], lo: number, hi: number): void {
  list.push(lo, hi);
}

function normalize(list: number[]): number[] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < list.length; i += 2) pairs.push([list[i], list[i + 1]]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    const n = out.length;
    if (n > 0 && lo <= out[n - 1] + 1) out[n - 1] = Math.max(out[n - 1], hi);
    else out.push(lo, hi);
  }
  return out;
}

function icmpKeys(list: number[], m: { type?: number; code?: number }): void {
  if (m.type !== undefined && m.code !== undefined) addInterval(list, (m.type << 8) | m.code, (m.type << 8) | m.code);
  else if (m.type !== undefined) addInterval(list, m.type << 8, (m.type << 8) | 0xff);
  else if (m.code !== undefined) for (let t = 0; t < 256; t++) addInterval(list, (t << 8) | m.code, (t << 8) | m.code);
  else addInterval(list, 0, 0xffff);
}

export function ruleShape(ports: PortMatch[]): RuleShape {
  const shape: number[][] = IR_PROTOS.map(() => []);
  const all = (): void => {
    for (const l of shape) addInterval(l, 0, 0xffff);
  };
  if (ports.length === 0) all();
  for (const m of ports) {
    switch (m.protocol) {
      case 'any':
        all();
        break;
      case 'tcp':
        addInterval(shape[SLOT_OF[6]], m.lo, m.hi);
        break;
      case 'udp':
        addInterval(shape[SLOT_OF[17]], m.lo, m.hi);
        break;
      case 'icmp':
        icmpKeys(shape[SLOT_OF[1]], m);
        break;
      case 'icmpv6':
        icmpKeys(shape[SLOT_OF[58]], m);
        break;
      default: {
        const never: never = m;
        throw new Error(`unknown port match ${JSON.stringify(never)}`);
      }
    }
  }
  return shape.map(normalize);
}

/** Dense identity indices (positions in the sorted identity list) per peer list. */
function peerSet(peers: PeerRef[], byGroup: Map<string, number[]>, all: Int32Array, mark: Uint8Array): Int32Array {
  if (peers.some((p) => p.kind === 'any')) return all;
  const out: number[] = [];
  for (const p of peers) {
    if (p.kind !== 'group') continue;
    for (const k of byGroup.get(p.name) ?? []) {
      if (!mark[k]) {
        mark[k] = 1;
        out.push(k);
      }
    }
  }
  for (const k of out) mark[k] = 0;
  out.sort((a, b) => a - b);
  return Int32Array.from(out);
}

function familyMask(id: Identity): number {
  if (!id.families) return 3;
  let m = 0;
  for (const f of id.families) m |= f === 4 ? 1 : 2;
  return m;
}

/** Growable Int32 column. */
class Column {
  data: Int32Array;
  length = 0;
  constructor(capacity = 1024) {
    this.data = new Int32Array(capacity);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

export interface PairLists {
  /** Pairs in (src, dst) order of dense identity indices. */
  pairs: number;
  pairSrc: Int32Array;
  pairDst: Int32Array;
  /** Rules of pair p: ruleOf[start[p] .. start[p+1]), ascending. */
  start: Int32Array;
  ruleOf: Int32Array;
}

/**
 * For every pair of identities some rule applies to, the rules that apply,
 * in order. Built as (src, dst, rule) triples in rule order and then two
 * stable counting sorts (by dst, then by src), so the cost is linear in the
 * number of triples and no per-pair object is made.
 */
export function pairLists(rules: Rule[], identities: Identity[]): PairLists {
  const n = identities.length;
  const byGroup = new Map<string, number[]>();
  identities.forEach((id, k) => {
    for (const g of id.groups) {
      const l = byGroup.get(g);
      if (l) l.push(k);
      else byGroup.set(g, [k]);
    }
  });
  const all = Int32Array.from(identities.keys());
  const mark = new Uint8Array(n);
  const fam = Uint8Array.from(identities, familyMask);
  const ts = new Column();
  const td = new Column();
  const tr = new Column();
  for (const r of rules) {
    const from = peerSet(r.from, byGroup, all, mark);
    const to = peerSet(r.to, byGroup, all, mark);
    for (const s of from) {
      const fs = fam[s];
      for (const d of to) {
        if ((fs & fam[d]) === 0) continue;
        ts.push(s);
        td.push(d);
        tr.push(r.index);
      }
    }
  }
  const t = ts.length;
  const order1 = countingOrder(td.data, t, n, null);
  const order = countingOrder(ts.data, t, n, order1);
  const pairSrc = new Column();
  const pairDst = new Column();
  const start = new Column();
  const ruleOf = new Int32Array(t);
  let ps = -1;
  let pd = -1;
  for (let i = 0; i < t; i++) {
    const j = order[i];
    const s = ts.data[j];
    const d = td.data[j];
    if (s !== ps || d !== pd) {
      pairSrc.push(s);
      pairDst.push(d);
      start.push(i);
      ps = s;
      pd = d;
    }
    ruleOf[i] = tr.data[j];
  }
  start.push(t);
  return {
    pairs: pairSrc.length,
    pairSrc: pairSrc.data.subarray(0, pairSrc.length),
    pairDst: pairDst.data.subarray(0, pairDst.length),
    start: start.data.subarray(0, start.length),
    ruleOf,
  };
}

/** Stable counting sort of positions (all, or `within` in its order) by key. */
function countingOrder(keys: Int32Array, t: number, buckets: number, within: Int32Array | null): Int32Array {
  const count = new Int32Array(buckets + 1);
  for (let i = 0; i < t; i++) count[keys[i] + 1]++;
  for (let b = 0; b < buckets; b++) count[b + 1] += count[b];
  const out = new Int32Array(t);
  for (let i = 0; i < t; i++) {
    const j = within ? within[i] : i;
    out[count[keys[j]]++] = j;
  }
  return out;
}

/** A resolved rule list: segments (slot, lo, hi, rule), sorted by slot then lo. */
export interface Segments {
  slot: number[];
  lo: number[];
  hi: number[];
  rule: number[];
}

/** Parts of [lo, hi] not in `claimed` (sorted disjoint pairs). */
function subtract(lo: number, hi: number, claimed: number[], out: number[]): void {
  let cur = lo;
  for (let i = 0; i < claimed.length && cur <= hi; i += 2) {
    const clo = claimed[i];
    const chi = claimed[i + 1];
    if (chi < cur) continue;
    if (clo > hi) break;
    if (clo > cur) out.push(cur, clo - 1);
    cur = chi + 1;
  }
  if (cur <= hi) out.push(cur, hi);
}

/** First match over one slot: the pieces each rule of `list` wins, in list order. */
export function winsInSlot(list: ArrayLike<number>, shapes: RuleShape[], slot: number): { rule: number; pieces: number[] }[] {
  let claimed: number[] = [];
  const out: { rule: number; pieces: number[] }[] = [];
  for (let i = 0; i < list.length; i++) {
    const r = list[i];
    const want = shapes[r][slot];
    if (want.length === 0) continue;
    const pieces: number[] = [];
    for (let k = 0; k < want.length; k += 2) subtract(want[k], want[k + 1], claimed, pieces);
    if (pieces.length === 0) continue;
    out.push({ rule: r, pieces });
    claimed = normalize([...claimed, ...pieces]);
  }
  return out;
}

export function resolveList(list: ArrayLike<number>, shapes: RuleShape[]): Segments {
  const seg: Segments = { slot: [], lo: [], hi: [], rule: [] };
  for (let slot = 0; slot < PROTO_SLOTS; slot++) {
    const pieces: [number, number, number][] = [];
    for (const w of winsInSlot(list, shapes, slot)) {
      for (let k = 0; k < w.pieces.length; k += 2) pieces.push([w.pieces[k], w.pieces[k + 1], w.rule]);
    }
    pieces.sort((a, b) => a[0] - b[0]);
    for (const [lo, hi, rule] of pieces) {
      const n = seg.lo.length;
      if (n > 0 && seg.slot[n - 1] === slot && seg.rule[n - 1] === rule && seg.hi[n - 1] + 1 === lo) {
        seg.hi[n - 1] = hi;
        continue;
      }
      seg.slot.push(slot);
      seg.lo.push(lo);
      seg.hi.push(hi);
      seg.rule.push(rule);
    }
  }
  return seg;
}

export function protoOfSlot(slot: number): IrProto {
  return IR_PROTOS[slot];
}
