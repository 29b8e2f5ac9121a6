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

  constructor(
    private readonly reach: IrReach,
    private readonly remoteSide: RuleSide,
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
    const buckets = new Map<number, number[]>();
    for (const r of rules) {
      if (this.isWildcard(r)) continue;
      for (const members of reach.sideMembers(reach.ir.rules[r], remoteSide)!) {
        for (let i = 0; i < members.length; i++) {
          const d = members[i];
          // No flow pairs identities without an address family in common.
          if ((reach.fam[d] & fam) === 0) continue;
          const b = buckets.get(d);
          if (!b) buckets.set(d, [r]);
          else if (b[b.length - 1] !== r) b.push(r);
        }
      }
    }
    const resolve = (list: number[]): Segments => resolveList(list, shapes, this.isSpecific);
    for (const d of [...buckets.keys()].sort((a, b) => a - b)) {
      // Wildcard rules before the last specific one can take its flows.
      const list = buckets.get(d)!;
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

/** Each local position's template, in ascending position order; locals alike share one. */
function* localTemplates(ir: Ir, locals: Iterable<number>, dir: ShareDirection): Generator<{ local: number; t: Template }> {
  const reach = irReach(ir);
  const side = sidesOf(dir);
  const positions = [...new Set(locals)].flatMap((id) => {
    const p = reach.pos.get(id);
    return p === undefined ? [] : [p];
  });
  positions.sort((a, b) => a - b);
  const templates = new ListInterner<Template>();
  const resolver = new LocalResolver(reach, side.remote);
  for (const p of positions) {
    const rules = reach.rulesHolding(p, side.local);
    const fam = reach.fam[p];
    // The key carries the family mask first: rule indices are never negative.
    yield { local: ir.identities[p].id, t: templates.get([-fam, ...rules], (key) => resolver.resolve(key.slice(1), fam)) };
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
    forTemplateCells(ir, t, (remote, proto, lo, hi, rule) => void out.push({ local, remote, proto, lo, hi, rule }));
    yield* out;
    out.length = 0;
  }
}

/** What a cell is, as arguments: for a reader of hundreds of thousands of cells that keeps none of them as objects. */
export type CellVisitor = (local: number, remote: number, proto: IrProto, lo: number, hi: number, rule: number) => void;

/** shareCells, visiting each cell in the same order without allocating it. */
export function forEachShareCell(ir: Ir, locals: Iterable<number>, dir: ShareDirection, visit: CellVisitor): void {
  for (const { local, t } of localTemplates(ir, locals, dir)) forTemplateCells(ir, t, (remote, proto, lo, hi, rule) => visit(local, remote, proto, lo, hi, rule));
}

function forTemplateCells(ir: Ir, t: Template, visit: (remote: number, proto: IrProto, lo: number, hi: number, rule: number) => void): void {
  for (let k = 0; k < t.remote.length; k++) {
    const remote = t.remote[k] < 0 ? ANY_REMOTE : ir.identities[t.remote[k]].id;
    const seg = t.seg[k];
    for (let i = 0; i < seg.lo.length; i++) visit(remote, protoOfSlot(seg.slot[i]), seg.lo[i], seg.hi[i], seg.rule[i]);
  }
}

/**
 * The share with every ANY_REMOTE cell spelled out per remote identity (with
 * an address family in common with the local), for datapaths that key on
 * the exact remote: the verdicts are those of the lookup contract, the cells
 * those a remote-by-remote first match gives. Costs locals x identities:
 * only for small sets of locals.
 */
export function* concreteShareCells(ir: Ir, locals: Iterable<number>, dir: ShareDirection): Generator<ShareCell> {
  const reach = irReach(ir);
  let cur: ShareCell[] = [];
  const flush = function* (): Generator<ShareCell> {
    if (cur.length === 0) return;
    const local = cur[0].local;
    const fam = reach.fam[reach.pos.get(local)!];
    const wild = cur.filter((c) => c.remote === ANY_REMOTE);
    const byRemote = new Map<number, ShareCell[]>();
    for (const c of cur) {
      if (c.remote === ANY_REMOTE) continue;
      const l = byRemote.get(c.remote);
      if (l) l.push(c);
      else byRemote.set(c.remote, [c]);
    }
    for (let d = 0; d < reach.count; d++) {
      if ((reach.fam[d] & fam) === 0) continue;
      const remote = ir.identities[d].id;
      const own = byRemote.get(remote) ?? [];
      const cells: ShareCell[] = [...own];
      // Wildcard cells fill what the remote's own cells leave open.
      for (const w of wild) {
        let lo = w.lo;
        for (const c of own) {
          if (c.proto !== w.proto || c.hi < lo || c.lo > w.hi) continue;
          if (c.lo > lo) cells.push({ ...w, remote, lo, hi: c.lo - 1 });
          lo = c.hi + 1;
        }
        if (lo <= w.hi) cells.push({ ...w, remote, lo, hi: w.hi });
      }
      cells.sort((a, b) => a.proto - b.proto || a.lo - b.lo);
      yield* cells;
    }
    cur = [];
  };
  for (const c of shareCells(ir, locals, dir)) {
    if (cur.length > 0 && cur[0].local !== c.local) yield* flush();
    cur.push(c);
  }
  yield* flush();
}
