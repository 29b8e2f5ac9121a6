// A device's share of the IR, as the cells it needs to judge the flows whose
// local end it owns. This is the one way targets read resolved policy for a
// set of local identities; it must never cost identities x identities over
// the whole fabric.
//
// Lookup contract (what a datapath does with the cells):
//   1. find the cell with (local, remote, proto) whose lo..hi holds the port key;
//   2. if none, find the cell with (local, ANY_REMOTE, proto) holding it;
//   3. if none, the policy's defaultAction applies.
// Cells of one (local, remote, proto) are disjoint. A specific cell (remote
// != ANY_REMOTE) already carries the first-match verdict over every rule,
// wildcard ones included, so step 2 only answers where no rule naming that
// remote specifically matches.

import type { IrProto, Ir } from './model.ts';

/** The remote identity of a cell valid for every remote without a specific cell there. */
export const ANY_REMOTE = 0;

export type ShareDirection = 'egress' | 'ingress';

export interface ShareCell {
  /** egress: the source identity; ingress: the destination identity. */
  local: number;
  /** The other end's identity, or ANY_REMOTE. */
  remote: number;
  proto: IrProto;
  /** Port key range, inclusive (see CellTable for the port key). */
  lo: number;
  hi: number;
  /** Index into ir.rules of the deciding rule. */
  rule: number;
}

/**
 * The cells judging flows whose local end has one of `locals` in direction
 * `dir`, sorted by (local, remote, proto, lo).
 */
export function* shareCells(ir: Ir, locals: Iterable<number>, dir: ShareDirection): Generator<ShareCell> {
  const want = new Set(locals);
  const c = ir.cells;
  const localCol = dir === 'egress' ? c.src : c.dst;
  const remoteCol = dir === 'egress' ? c.dst : c.src;
  const picked: number[] = [];
  for (let i = 0; i < c.length; i++) if (want.has(localCol[i])) picked.push(i);
  picked.sort((a, b) => localCol[a] - localCol[b] || remoteCol[a] - remoteCol[b] || c.proto[a] - c.proto[b] || c.lo[a] - c.lo[b]);
  for (const i of picked) {
    yield { local: localCol[i], remote: remoteCol[i], proto: c.proto[i] as IrProto, lo: c.lo[i], hi: c.hi[i], rule: c.rule[i] };
  }
}
