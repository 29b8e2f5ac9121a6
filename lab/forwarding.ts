// The lab's forwarding model: one L2 domain. Every switch, host, DPU and
// bridge node bridges all its data ports; endpoints hang off it with their
// addresses and an on-link default route (IPv4 and IPv6), so any endpoint
// reaches any other with real packets and no routing protocol. Links that
// would close a loop (e.g. a leaf's second spine uplink) are built but left
// out of the bridges: a spanning tree computed here, deterministically, in
// file order, instead of STP's seconds of listening and learning.
//
// A switch that does not learn (a P4 leaf on bmv2: its L2 table is filled by
// the lab) needs the tree spelled out: which endpoint MACs sit behind each of
// its forwarding ports. Endpoint MACs are set by the lab, so they are known.

import { linksOf, type LabTopology } from './topology.ts';

/** Ports ("node:port") that must not forward, for each node. */
export function blockedPorts(topo: LabTopology): Map<string, string[]> {
  const forwarding = new Set(topo.nodes.filter((n) => n.role !== 'endpoint').map((n) => n.name));
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.has(r)) r = parent.get(r) as string;
    return r;
  };
  const out = new Map<string, string[]>();
  const block = (node: string, port: string): void => {
    out.set(node, [...(out.get(node) ?? []), port]);
  };
  for (const l of topo.links) {
    if (!forwarding.has(l.a.node) || !forwarding.has(l.b.node)) continue;
    const ra = find(l.a.node);
    const rb = find(l.b.node);
    if (ra === rb) {
      block(l.a.node, l.a.port);
      block(l.b.node, l.b.port);
    } else parent.set(ra, rb);
  }
  return out;
}

/**
 * The MAC the lab gives an endpoint's data port: locally administered
 * (02:...), "WF" for Weft, then the endpoint's index among the topology's
 * nodes, so it is unique within a lab and the same on every deploy.
 */
export function endpointMac(topo: LabTopology, endpoint: string): string {
  const i = topo.nodes.findIndex((n) => n.name === endpoint && n.role === 'endpoint');
  if (i < 0) throw new Error(`${endpoint} is not an endpoint of the topology`);
  return ['02', '57', '46', '00', (i >> 8) & 0xff, i & 0xff].map((b) => (typeof b === 'string' ? b : b.toString(16).padStart(2, '0'))).join(':');
}

/**
 * For each forwarding (not blocked) data port of `node`: the endpoints
 * reached through it. The lab's L2 domain minus its blocked links is a tree,
 * so every endpoint appears behind exactly one port.
 */
export function endpointsBehindPorts(topo: LabTopology, node: string, blocked: Map<string, string[]> = blockedPorts(topo)): Map<string, string[]> {
  const isBlocked = (n: string, port: string): boolean => (blocked.get(n) ?? []).includes(port);
  const roles = new Map(topo.nodes.map((n) => [n.name, n.role]));
  const out = new Map<string, string[]>();
  for (const { local, peer } of linksOf(topo, node)) {
    if (isBlocked(node, local.port)) continue;
    const found: string[] = [];
    const seen = new Set([node]);
    const queue = [peer.node];
    while (queue.length > 0) {
      const at = queue.shift() as string;
      if (seen.has(at)) continue;
      seen.add(at);
      if (roles.get(at) === 'endpoint') {
        found.push(at);
        continue;
      }
      for (const l of linksOf(topo, at)) if (!isBlocked(at, l.local.port) && !seen.has(l.peer.node)) queue.push(l.peer.node);
    }
    out.set(local.port, found);
  }
  return out;
}
