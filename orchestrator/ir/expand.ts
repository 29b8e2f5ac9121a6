// First match over the protocol/port-key space: a rule's services as port-key
// ranges per IR protocol, and how an ordered list of rules splits that space
// among them. Shared by device shares (which emit cells), the IR lookup and
// the analysis (which asks which rules win anything and whether a winner
// could be dropped).

import type { PortMatch } from '../policy/model.ts';
import type { IrProto, IrServices } from './model.ts';
import { IR_PROTOS } from './model.ts';

/** Index of an IR protocol in IR_PROTOS; cells are ordered by protocol number. */
export const PROTO_SLOTS = IR_PROTOS.length;
const SLOT_OF: Record<number, number> = { 0: 0, 1: 1, 6: 2, 17: 3, 58: 4 };

/** The port-key space a rule matches, per IR protocol slot (IrServices). */
export type RuleShape = IrServices;

/** The slot of an IR protocol (its position in IR_PROTOS). */
export function slotOfProto(proto: number): number {
  return SLOT_OF[proto] ?? 0;
}

/** Whether a rule's services hold port key `key` of IR protocol `proto`. */
export function servicesHold(services: IrServices, proto: number, key: number): boolean {
  const l = services[slotOfProto(proto)];
  for (let i = 0; i < l.length; i += 2) if (l[i] <= key && key <= l[i + 1]) return true;
  return false;
}

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

/**
 * Interns rule lists: equal lists get one slot, found by a 64-bit hash and
 * confirmed by comparison, so no key string is built per pair.
 */
export class ListInterner<T> {
  private readonly slots = new Map<number, { list: number[]; value: T }[]>();
  size = 0;

  get(list: number[], make: (list: number[]) => T): T {
    let h1 = 0x811c9dc5 ^ list.length;
    let h2 = 0x9747b28c;
    for (const x of list) {
      h1 = Math.imul(h1 ^ x, 0x01000193);
      h2 = Math.imul(h2 ^ x, 0x5bd1e995) ^ (h2 >>> 15);
    }
    const key = (h1 >>> 0) * 0x200000 + ((h2 >>> 0) & 0x1fffff);
    let bucket = this.slots.get(key);
    if (!bucket) {
      bucket = [];
      this.slots.set(key, bucket);
    }
    for (const e of bucket) {
      if (e.list.length === list.length && e.list.every((x, i) => x === list[i])) return e.value;
    }
    const copy = [...list];
    const value = make(copy);
    bucket.push({ list: copy, value });
    this.size++;
    return value;
  }
}

/** A resolved rule list: segments (slot, lo, hi, rule), sorted by slot then lo. */
export interface Segments {
  slot: number[];
  lo: number[];
  hi: number[];
  rule: number[];
}

/** Parts of `want` not in `claimed` (both sorted disjoint pairs), in one pass. */
function subtractAll(want: number[], claimed: number[]): number[] {
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < want.length; i += 2) {
    let cur = want[i];
    const hi = want[i + 1];
    while (j < claimed.length && claimed[j + 1] < cur) j += 2;
    for (let k = j; k < claimed.length && cur <= hi; k += 2) {
      const clo = claimed[k];
      if (clo > hi) break;
      if (clo > cur) out.push(cur, clo - 1);
      cur = Math.max(cur, claimed[k + 1] + 1);
    }
    if (cur <= hi) out.push(cur, hi);
  }
  return out;
}

/** Union of two disjoint sorted pair lists, adjacent pairs coalesced. */
function mergeDisjoint(a: number[], b: number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let lo: number;
    let hi: number;
    if (j >= b.length || (i < a.length && a[i] < b[j])) {
      lo = a[i];
      hi = a[i + 1];
      i += 2;
    } else {
      lo = b[j];
      hi = b[j + 1];
      j += 2;
    }
    const n = out.length;
    if (n > 0 && out[n - 1] + 1 >= lo) out[n - 1] = Math.max(out[n - 1], hi);
    else out.push(lo, hi);
  }
  return out;
}

/** First match over one slot: the pieces each rule of `list` wins, in list order. */
export function winsInSlot(list: ArrayLike<number>, shapes: RuleShape[], slot: number): { rule: number; pieces: number[] }[] {
  let claimed: number[] = [];
  const out: { rule: number; pieces: number[] }[] = [];
  for (let i = 0; i < list.length; i++) {
    // Once the whole key space is taken, later rules win nothing here.
    if (claimed.length === 2 && claimed[0] === 0 && claimed[1] === 0xffff) break;
    const r = list[i];
    const want = shapes[r][slot];
    if (want.length === 0) continue;
    const pieces = subtractAll(want, claimed);
    if (pieces.length === 0) continue;
    out.push({ rule: r, pieces });
    claimed = mergeDisjoint(claimed, pieces);
  }
  return out;
}

/**
 * First match over `list` (ascending rule indices) as segments; with `keep`,
 * only the pieces won by rules it accepts (the others still claim theirs).
 */
export function resolveList(list: ArrayLike<number>, shapes: RuleShape[], keep?: (rule: number) => boolean): Segments {
  const seg: Segments = { slot: [], lo: [], hi: [], rule: [] };
  for (let slot = 0; slot < PROTO_SLOTS; slot++) {
    const pieces: [number, number, number][] = [];
    for (const w of winsInSlot(list, shapes, slot)) {
      if (keep && !keep(w.rule)) continue;
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
