// Path finding over the fabric's links, for `weft explain`: which devices a
// flow crosses between two attachments, and through which ports. Hosts are
// never transit; among equal-cost paths (ECMP through the spines) the one
// through the lexically first devices is shown, since enforcement happens at
// the edges and does not depend on the spine taken.

import type { Fabric } from '../../inventory/model.ts';
import { comparePorts } from '../placement/place.ts';

/** Where traffic enters or leaves the fabric: a device, and the port if the endpoint is behind one. */
export interface Attachment {
  device: string;
  port?: string;
}

/** One device on a path, with the port the packet arrives on and the port it leaves by. */
export interface Hop {
  device: string;
  in?: string;
  out?: string;
}

interface Edge {
  port: string;
  peer: string;
  peerPort: string;
}

export function adjacency(fabric: Fabric): Map<string, Edge[]> {
  const adj = new Map<string, Edge[]>();
  const add = (d: string, e: Edge): void => {
    let l = adj.get(d);
    if (!l) adj.set(d, (l = []));
    l.push(e);
  };
  for (const l of fabric.links) {
    add(l.a.device, { port: l.a.port, peer: l.b.device, peerPort: l.b.port });
    add(l.b.device, { port: l.b.port, peer: l.a.device, peerPort: l.a.port });
  }
  for (const l of adj.values()) l.sort((x, y) => x.peer.localeCompare(y.peer) || comparePorts(x.port, y.port));
  return adj;
}

/**
 * Shortest path from `from` to the first device satisfying `isGoal`
 * (breadth-first, deterministic). Returns undefined when none is reachable.
 */
function search(fabric: Fabric, from: Attachment, isGoal: (device: string) => boolean): Hop[] | undefined {
  const adj = adjacency(fabric);
  const kind = new Map(fabric.devices.map((d) => [d.name, d.kind]));
  const prev = new Map<string, { device: string; out: string; in: string } | null>([[from.device, null]]);
  const queue = [from.device];
  let goal: string | undefined;
  while (queue.length) {
    const cur = queue.shift()!;
    if (isGoal(cur)) {
      goal = cur;
      break;
    }
    if (cur !== from.device && kind.get(cur) === 'host') continue;
    for (const e of adj.get(cur) ?? []) {
      if (prev.has(e.peer)) continue;
      prev.set(e.peer, { device: cur, out: e.port, in: e.peerPort });
      queue.push(e.peer);
    }
  }
  if (goal === undefined) return undefined;
  const chain: { device: string; in?: string }[] = [];
  for (let at: string | undefined = goal; at !== undefined; ) {
    const p = prev.get(at);
    chain.push({ device: at, in: p?.in });
    at = p?.device;
  }
  chain.reverse();
  return chain.map((c, i) => ({
    device: c.device,
    in: i === 0 ? from.port : c.in,
    out: i + 1 < chain.length ? prev.get(chain[i + 1].device)!.out : undefined,
  }));
}

export function findPath(fabric: Fabric, from: Attachment, to: Attachment): Hop[] | undefined {
  const hops = search(fabric, from, (d) => d === to.device);
  if (hops && to.port) hops[hops.length - 1].out = to.port;
  return hops;
}

/** From an attachment to the nearest switch: the part of a path that is known when the far end is outside the fabric. */
export function pathToFabric(fabric: Fabric, from: Attachment): Hop[] | undefined {
  const switches = new Set(fabric.devices.filter((d) => d.kind === 'switch').map((d) => d.name));
  return search(fabric, from, (d) => switches.has(d));
}

export function formatPath(hops: Hop[]): string {
  return hops.map((h) => `${h.in ? `${h.in}:` : ''}${h.device}${h.out ? `:${h.out}` : ''}`).join(' -> ');
}
