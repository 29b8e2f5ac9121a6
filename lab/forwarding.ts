// The lab's forwarding model: one L2 domain. Every switch, host, DPU and
// bridge node bridges all its data ports; endpoints hang off it with their
// addresses and an on-link default route (IPv4 and IPv6), so any endpoint
// reaches any other with real packets and no routing protocol. Links that
// would close a loop (e.g. a leaf's second spine uplink) are built but left
// out of the bridges: a spanning tree computed here, deterministically, in
// file order, instead of STP's seconds of listening and learning.

import type { LabTopology } from './topology.ts';

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
