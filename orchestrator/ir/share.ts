// A device's share of the IR, as the cells it needs to judge the flows whose
// local end it owns. This is the one way targets read resolved policy for a
// set of local identities; it never costs identities x identities over the
// whole fabric: for each local identity it walks only the rules whose local
// side holds it (reach.ts), so its cost is the size of its output plus the
// remote sets of those rules.
//
// Lookup contract (what a datapath does with the cells):
//   1. find the cell with (local, remote, proto) whose lo..hi holds the port key;
//   2. if none, find the cell with (local, ANY_REMOTE, proto) holding it;
//   3. if none, the policy's defaultAction applies.
// Cells of one (local, remote, proto) are disjoint. The ANY_REMOTE cells are
// first match over the rules whose remote side is `any`; a specific cell
// (remote != ANY_REMOTE) is emitted where a rule naming that remote's groups
// wins first match over every rule, wildcard ones included. Everywhere else
// the winner (if any) is a wildcard rule, and first match over the wildcard
// rules alone picks that same rule: a sub-list keeps the order and the
// matching rule, and drops only rules that did not match. So steps 1-3 give
// the first-match verdict over all rules.

import type { IrProto, Ir } from './model.ts';
import { ListInterner, protoOfSlot, resolveList, type Segments } from './expand.ts';
import { irReach, type IrReach, type RuleSide } from './reach.ts';

export type { Segments } from './expand.ts';

/** The remote identity of a cell valid for every remote without a specific cell there. */
export const ANY_REMOTE = 0;

export type ShareDirection = 'egress' | 'ingress';

export interface ShareCell {
  /** egress: the source identity; ingress: the destination identity. */
  local: number;
  /** The other end's identity, or ANY_REMOTE. */
  remote: number;
  proto: IrProto;
  /** Port key range, inclusive (see IrServices for the port key). */
  lo: number;
  hi: number;
  /** Index into ir.rules of the deciding rule. */
  rule: number;
}

/** The cells of one local identity, by remote position (-1: ANY_REMOTE), in emission order. */
interface Template {
  remote: number[];
  seg: Segments[];
}

export function sidesOf(dir: ShareDirection): { local: RuleSide; remote: RuleSide } {
  return dir === 'egress' ? { local: 'from', remote: 'to' } : { local: 'to', remote: 'from' };
}

/**
 * Resolves local identities into templates for one direction. A local's
 * cells depend only on the rules its local side holds and its address
 * families, so locals alike share a template; a remote's cells depend only on
 * the rules that can decide for it, so that list is resolved once per call.
 */
class LocalResolver {
  private readonly lists = new ListInterner<Segments>();
  private readonly isWildcard: (rule: number) => boolean;
  private readonly isSpecific: (rule: number) => boolean;
  /** Scratch of resolve, by remote position: the specific rules naming it. */
  private buckets: (number[] | undefined)[] | undefined;

  constructor(
    private readonly reach: IrReach,
    private readonly remoteSide: RuleSide,
    /** Remotes to give rows (by position); all when absent. */
    private readonly emit?: (d: number) => boolean,
  ) {
    const wild = Uint8Array.from(reach.ir.rules, (r) => (r[remoteSide] === 'any' ? 1 : 0));
    this.isWildcard = (r) => wild[r] === 1;
    this.isSpecific = (r) => wild[r] === 0;
  }

  /** The cells of a local holding `rules` (ascending) on its local side, with address families `fam`. */
  resolve(rules: number[], fam: number): Template {
    const { reach, remoteSide } = this;
    const shapes = reach.shapes;
    const wildcard = rules.filter(this.isWildcard);
    const out: Template = { remote: [], seg: [] };
    const anySeg = resolveList(wildcard, shapes);
    if (anySeg.lo.length > 0) {
      out.remote.push(-1);
      out.seg.push(anySeg);
    }
    // Each remote collects the specific rules naming it, ascending (rules are
    // visited in order, so the last entry tells whether a rule is already in).
    // By position, in arrays kept across calls: a local can name tens of
    // thousands of remotes, and a Map of them costs more than the walk.
    const buckets = (this.buckets ??= new Array<number[] | undefined>(reach.count));
    const named: number[] = [];
    for (const r of rules) {
      if (this.isWildcard(r)) continue;
      for (const members of reach.sideMembers(reach.ir.rules[r], remoteSide)!) {
        for (let i = 0; i < members.length; i++) {
          const d = members[i];
          // No flow pairs identities without an address family in common.
          if ((reach.fam[d] & fam) === 0) continue;
          if (this.emit && !this.emit(d)) continue;
          const b = buckets[d];
          if (!b) {
            buckets[d] = [r];
            named.push(d);
          } else if (b[b.length - 1] !== r) b.push(r);
        }
      }
    }
    const resolve = (list: number[]): Segments => resolveList(list, shapes, this.isSpecific);
    for (const d of Int32Array.from(named).sort()) {
      // Wildcard rules before the last specific one can take its flows.
      const list = buckets[d]!;
      buckets[d] = undefined;
      const last = list[list.length - 1];
      for (const w of wildcard) {
        if (w > last) break;
        list.push(w);
      }
      if (list[list.length - 1] !== last) list.sort((a, b) => a - b);
      const seg = this.lists.get(list, resolve);
      if (seg.lo.length === 0) continue;
      out.remote.push(d);
      out.seg.push(seg);
    }
    return out;
  }
}

/** The positions of the known identities among `locals`, ascending, each once. */
function localPositions(reach: IrReach, locals: Iterable<number>): number[] {
  return [...new Set(locals)].flatMap((id) => reach.pos.get(id) ?? []).sort((a, b) => a - b);
}

/** A template's remote position as an identity (-1: ANY_REMOTE). */
function remoteId(ir: Ir, position: number): number {
  return position < 0 ? ANY_REMOTE : ir.identities[position].id;
}

/** Each local position's template, in ascending position order; locals alike share one. */
function* localTemplates(ir: Ir, locals: Iterable<number>, dir: ShareDirection, emit?: (d: number) => boolean): Generator<{ local: number; fam: number; t: Template }> {
  const reach = irReach(ir);
  const side = sidesOf(dir);
  const positions = localPositions(reach, locals);
  const templates = new ListInterner<Template>();
  const resolver = new LocalResolver(reach, side.remote, emit);
  for (const p of positions) {
    const rules = reach.rulesHolding(p, side.local);
    const fam = reach.fam[p];
    // The key carries the family mask first: rule indices are never negative.
    yield { local: ir.identities[p].id, fam, t: templates.get([-fam, ...rules], (key) => resolver.resolve(key.slice(1), fam)) };
  }
}

/**
 * The cells judging flows whose local end has one of `locals` in direction
 * `dir`, sorted by (local, remote, proto, lo). Unknown identities have no
 * cells.
 */
export function* shareCells(ir: Ir, locals: Iterable<number>, dir: ShareDirection): Generator<ShareCell> {
  const out: ShareCell[] = [];
  for (const { local, t } of localTemplates(ir, locals, dir)) {
    for (let k = 0; k < t.remote.length; k++) {
      const remote = remoteId(ir, t.remote[k]);
      forEachSegmentCell(t.seg[k], (proto, lo, hi, rule) => void out.push({ local, remote, proto, lo, hi, rule }));
    }
    yield* out;
    out.length = 0;
  }
}

/**
 * A local's cells toward one remote (or ANY_REMOTE), as the resolved segment
 * list they expand to: rows of one call decided by the same rules share one
 * Segments object, so a reader can tell remotes alike apart without
 * expanding their cells.
 */
export type RowVisitor = (local: number, remote: number, seg: Segments) => void;

/**
 * shareCells by row, in the same order. With `alike`, a remote gets rows
 * only if it is the first of its group: the others of a group have the
 * same rows under their own identity.
 */
export function forEachShareRow(ir: Ir, locals: Iterable<number>, dir: ShareDirection, visit: RowVisitor, alike?: AlikeRemotes): void {
  const first = alike?.first;
  const emit = first && ((d: number) => first[d] === d);
  for (const { local, t } of localTemplates(ir, locals, dir, emit)) {
    for (let k = 0; k < t.remote.length; k++) visit(local, remoteId(ir, t.remote[k]), t.seg[k]);
  }
}

/**
 * Remotes alike for a set of locals: identities named on the remote side by
 * the same rules, among the specific rules the locals hold on their local
 * side (in each direction), and with the same address families, fall in the
 * same bucket of every local's template, so every local gives them the same
 * rows. A local is a group of its own: its identity is also a `local` key.
 */
export class AlikeRemotes {
  /** By identity position: the smallest position of its group; -1 when named by none of these rules. */
  readonly first: Int32Array;
  private readonly reach: IrReach;

  constructor(
    private readonly ir: Ir,
    locals: Iterable<number>,
  ) {
    const reach = (this.reach = irReach(ir));
    const positions = localPositions(reach, locals);
    // The rules naming each position, egress ones as r and ingress ones as
    // -1 - r, in visiting order (which repeats a rule only back to back).
    // Most identities are named by none of them: lists only for those named.
    const naming = new Array<number[] | undefined>(reach.count);
    for (const dir of ['egress', 'ingress'] as const) {
      const side = sidesOf(dir);
      const held = new Set<number>();
      for (const p of positions) for (const r of reach.rulesHolding(p, side.local)) held.add(r);
      for (const r of [...held].sort((a, b) => a - b)) {
        const code = dir === 'egress' ? r : -1 - r;
        for (const members of reach.sideMembers(ir.rules[r], side.remote) ?? []) {
          for (let i = 0; i < members.length; i++) {
            const list = naming[members[i]];
            if (!list) naming[members[i]] = [code];
            else if (list[list.length - 1] !== code) list.push(code);
          }
        }
      }
    }
    this.first = new Int32Array(reach.count).fill(-1);
    for (const p of positions) this.first[p] = p;
    const groups = new ListInterner<number>();
    for (let d = 0; d < reach.count; d++) {
      const list = naming[d];
      if (!list || this.first[d] === d) continue;
      // The family mask first, then the rules.
      list.unshift(reach.fam[d]);
      this.first[d] = groups.get(list, () => d);
    }
  }

  /** The identity of the first of `id`'s group, or undefined when no rule here names it. */
  groupOf(id: number): number | undefined {
    const p = this.reach.pos.get(id);
    if (p === undefined || this.first[p] < 0) return undefined;
    return this.ir.identities[this.first[p]].id;
  }
}

/** A row's cells (protocol, port key range, deciding rule), sorted by protocol slot then port. */
export function forEachSegmentCell(seg: Segments, visit: (proto: IrProto, lo: number, hi: number, rule: number) => void): void {
  for (let i = 0; i < seg.lo.length; i++) visit(protoOfSlot(seg.slot[i]), seg.lo[i], seg.hi[i], seg.rule[i]);
}

/**
 * The share remote by remote: for each local and each remote identity with
 * an address family in common with it, in local then identity order, the
 * remote's own cells as a segment list (`own`), or undefined when it has
 * none; its cells are then `wild`, the local's ANY_REMOTE cells (undefined:
 * none), under its identity. Remotes decided by the same rules share one
 * `own` object, so a reader can work out once what a list gives (the
 * replies it asks for, say) instead of once per remote; concreteCells
 * spells a remote's cells out. Locals without cells are not visited.
 */
export function forEachConcreteRemote(
  ir: Ir,
  locals: Iterable<number>,
  dir: ShareDirection,
  visit: (local: number, remote: number, own: Segments | undefined, wild: Segments | undefined) => void,
): void {
  const families = irReach(ir).fam;
  const ids = Int32Array.from(ir.identities, (i) => i.id);
  for (const { local, fam, t } of localTemplates(ir, locals, dir)) {
    const { remote, seg } = t;
    if (remote.length === 0) continue;
    // The ANY_REMOTE row (position -1) sorts first; then remotes by position.
    const wild = remote[0] < 0 ? seg[0] : undefined;
    let k = wild ? 1 : 0;
    let next = k < remote.length ? remote[k] : -1;
    for (let d = 0; d < ids.length; d++) {
      if ((families[d] & fam) === 0) continue;
      if (d !== next) visit(local, ids[d], undefined, wild);
      else {
        visit(local, ids[d], seg[k++], wild);
        next = k < remote.length ? remote[k] : -1;
      }
    }
  }
}

/**
 * A remote's cells with the wildcard cells filling what its own leave open,
 * sorted by protocol then port (own undefined: the wildcard cells alone).
 */
export function concreteCells(local: number, remote: number, own: Segments | undefined, wild: Segments | undefined): ShareCell[] {
  const cells: ShareCell[] = [];
  if (own) forEachSegmentCell(own, (proto, lo, hi, rule) => void cells.push({ local, remote, proto, lo, hi, rule }));
  const ownCount = cells.length;
  if (wild)
    forEachSegmentCell(wild, (proto, wlo, hi, rule) => {
      let lo = wlo;
      for (let i = 0; i < ownCount; i++) {
        const c = cells[i];
        if (c.proto !== proto || c.hi < lo || c.lo > hi) continue;
        if (c.lo > lo) cells.push({ local, remote, proto, lo, hi: c.lo - 1, rule });
        lo = c.hi + 1;
      }
      if (lo <= hi) cells.push({ local, remote, proto, lo, hi, rule });
    });
  return cells.sort((a, b) => a.proto - b.proto || a.lo - b.lo);
}

/**
 * The share with every ANY_REMOTE cell spelled out per remote identity (with
 * an address family in common with the local), for datapaths that key on
 * the exact remote: the verdicts are those of the lookup contract, the cells
 * those a remote-by-remote first match gives. Costs locals x identities:
 * only for small sets of locals.
 */
export function* concreteShareCells(ir: Ir, locals: Iterable<number>, dir: ShareDirection): Generator<ShareCell> {
  const out: ShareCell[] = [];
  forEachConcreteRemote(ir, locals, dir, (local, remote, own, wild) => {
    for (const c of concreteCells(local, remote, own, wild)) out.push(c);
  });
  yield* out;
}
