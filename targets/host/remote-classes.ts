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

import { slotOfProto } from '../../orchestrator/ir/expand.ts';
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

function sameSegments(a: Segments, b: Segments): boolean {
  if (a === b) return true;
  const n = a.lo.length;
  if (b.lo.length !== n) return false;
  for (let i = 0; i < n; i++) {
    if (a.slot[i] !== b.slot[i] || a.lo[i] !== b.lo[i] || a.hi[i] !== b.hi[i] || a.rule[i] !== b.rule[i]) return false;
  }
  return true;
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
  // A hash of each segment list's content, once per object: rows decided by
  // the same rules share one Segments object.
  const segHashes = new Map<Segments, number>();
  const segHash = (s: Segments): number => {
    let h = segHashes.get(s);
    if (h === undefined) {
      h = 0x811c9dc5 ^ s.lo.length;
      for (let i = 0; i < s.lo.length; i++) {
        h = Math.imul(h ^ s.slot[i], 0x01000193);
        h = Math.imul(h ^ s.lo[i], 0x01000193);
        h = Math.imul(h ^ s.hi[i], 0x01000193);
        h = Math.imul(h ^ s.rule[i], 0x01000193);
      }
      segHashes.set(s, h);
    }
    return h;
  };
  const sameRows = (a: number[], b: number[]): boolean => {
    if (a.length !== b.length) return false;
    for (let k = 0; k < a.length; k++) {
      const x = a[k];
      const y = b[k];
      if (rows.dir[x] !== rows.dir[y] || rows.local[x] !== rows.local[y] || !sameSegments(rows.seg[x], rows.seg[y])) return false;
    }
    return true;
  };
  // Candidates by a hash of the rows; a hit is checked row by row.
  const byHash = new Map<number, number[]>();
  const classOf = new Map<number, number>();
  for (const remote of [...rowsOf.keys()].sort((a, b) => a - b)) {
    const own = rowsOf.get(remote)!;
    let h1 = 0x811c9dc5 ^ own.length;
    let h2 = 0x9747b28c;
    const mix = (x: number): void => {
      h1 = Math.imul(h1 ^ x, 0x01000193);
      h2 = Math.imul(h2 ^ x, 0x5bd1e995) ^ (h2 >>> 15);
    };
    for (const i of own) {
      mix(rows.dir[i] === 'egress' ? 1 : 2);
      mix(rows.local[i]);
      mix(segHash(rows.seg[i]));
    }
    const key = (h1 >>> 0) * 0x200000 + ((h2 >>> 0) & 0x1fffff);
    const candidates = byHash.get(key);
    const rep = candidates?.find((c) => sameRows(rowsOf.get(c)!, own));
    if (rep !== undefined) {
      classOf.set(remote, rep);
      continue;
    }
    classOf.set(remote, remote);
    if (candidates) candidates.push(remote);
    else byHash.set(key, [remote]);
  }
  return classOf;
}
