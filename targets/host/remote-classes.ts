// Remote classes: on one host, remote identities that no lookup tells apart.
//
// A host judges a flow by (direction, local, remote, protocol, port). Two
// remote identities whose cells on this host are the same (same direction,
// local, protocol, port range and deciding rule, for every cell) get the same
// verdict on every flow, so they can share one identity in the host's maps:
// their address entries carry the class's identity, and the policy table
// holds the class's cells once. In a data-center policy most remotes a host
// sees are named by the same few rules (an app's clients, a zone), so a host
// holds one set of cells per class instead of one per remote identity.
//
// Classes are found on rows (a local's cells toward one remote, as one
// Segments list), before any cell is expanded: remotes that end up in a
// class of another cost a row each, not their cells.
//
// Local identities are never merged: their identity is also the `local` key
// of the cells, and a host's locals are few.

import { ListInterner, slotOfProto } from '../../orchestrator/ir/expand.ts';
import { ANY_REMOTE, type Segments, type ShareCell, type ShareDirection } from '../../orchestrator/ir/share.ts';

/** A host's rows, in emission order (direction, local, remote). */
export class ShareRows {
  readonly dir: ShareDirection[] = [];
  readonly local: number[] = [];
  readonly remote: number[] = [];
  readonly seg: Segments[] = [];

  get length(): number {
    return this.seg.length;
  }

  push(dir: ShareDirection, local: number, remote: number, seg: Segments): void {
    this.dir.push(dir);
    this.local.push(local);
    this.remote.push(remote);
    this.seg.push(seg);
  }

  /** Rows from cells sorted by (local, remote, proto, lo), as shareCells gives them. */
  pushCells(dir: ShareDirection, cells: Iterable<ShareCell>): void {
    let cur: ShareCell | undefined;
    let seg: Segments = { slot: [], lo: [], hi: [], rule: [] };
    for (const c of cells) {
      if (cur && (c.local !== cur.local || c.remote !== cur.remote)) {
        this.push(dir, cur.local, cur.remote, seg);
        seg = { slot: [], lo: [], hi: [], rule: [] };
      }
      cur = c;
      seg.slot.push(slotOfProto(c.proto));
      seg.lo.push(c.lo);
      seg.hi.push(c.hi);
      seg.rule.push(c.rule);
    }
    if (cur) this.push(dir, cur.local, cur.remote, seg);
  }
}

/**
 * The class of every remote with rows of its own (not ANY_REMOTE, not a
 * local): the smallest identity with exactly the same rows. A class's
 * identity maps to itself. A remote's rows come in emission order
 * (direction, then local), the same for remotes alike.
 */
export function remoteClasses(rows: ShareRows, locals: ReadonlySet<number>): Map<number, number> {
  const rowsOf = new Map<number, number[]>();
  for (let i = 0; i < rows.length; i++) {
    const r = rows.remote[i];
    if (r === ANY_REMOTE || locals.has(r)) continue;
    const list = rowsOf.get(r);
    if (list) list.push(i);
    else rowsOf.set(r, [i]);
  }
  // A number per distinct segment list content, looked up once per object:
  // rows decided by the same rules share one Segments object.
  const segContents = new ListInterner<number>();
  const segIds = new Map<Segments, number>();
  const segId = (s: Segments): number => {
    let id = segIds.get(s);
    if (id === undefined) {
      const flat: number[] = [];
      for (let i = 0; i < s.lo.length; i++) flat.push(s.slot[i], s.lo[i], s.hi[i], s.rule[i]);
      id = segContents.get(flat, () => segContents.size);
      segIds.set(s, id);
    }
    return id;
  };
  // Remotes in ascending order, so that a class is named by its smallest.
  const classes = new ListInterner<number>();
  const classOf = new Map<number, number>();
  for (const remote of [...rowsOf.keys()].sort((a, b) => a - b)) {
    const key: number[] = [];
    for (const i of rowsOf.get(remote)!) key.push(rows.dir[i] === 'egress' ? 1 : 2, rows.local[i], segId(rows.seg[i]));
    classOf.set(remote, classes.get(key, () => remote));
  }
  return classOf;
}
