// A layered drawing of the fabric for the report: one band per role (the
// spine tiers, leaves, DPUs, containerlab bridges, hosts, unmanaged endpoints), each band wrapped
// into lines so a thousand devices stay on a readable page. Positions are
// computed once, in order (switch tiers by distance from the edge, lower
// bands by the mean position of their neighbours above), never by a force
// simulation, so the picture is the same on every run and costs O(devices +
// links).

import type { Fabric } from '../../inventory/model.ts';
import { comparePorts } from '../placement/place.ts';

export type Role = 'spine' | 'leaf' | 'dpu' | 'bridge' | 'host' | 'endpoint';

export interface LaidNode {
  name: string;
  role: Role;
  /** 1 for leaves, 2 for the spines above them, and so on; 0 below the switches. */
  tier: number;
  /** Top-left corner. */
  x: number;
  y: number;
}

export interface LaidBand {
  label: string;
  y: number;
  height: number;
}

export interface Layout {
  nodes: LaidNode[];
  /** Device (or unmanaged endpoint) names at both ends. */
  edges: [string, string][];
  bands: LaidBand[];
  width: number;
  height: number;
}

export const NODE_W = 84;
export const NODE_H = 26;
const CELL_W = 96;
const LINE_H = 40;
const BAND_GAP = 56;
const MARGIN_LEFT = 120;
const MARGIN = 16;

const natural = (a: string, b: string): number => comparePorts(a, b);

/** Tier of each switch: 1 when it faces a host, DPU or unmanaged endpoint, else one more than its nearest such switch. */
function switchTiers(fabric: Fabric, edges: [string, string][]): Map<string, number> {
  const kind = new Map(fabric.devices.map((d) => [d.name, d.kind]));
  const switches = fabric.devices.filter((d) => d.kind === 'switch').map((d) => d.name);
  const tier = new Map<string, number>();
  const between = new Map<string, string[]>(switches.map((s) => [s, []]));
  for (const [a, b] of edges) {
    const ka = kind.get(a);
    const kb = kind.get(b);
    if (ka === 'switch' && kb === 'switch') {
      between.get(a)!.push(b);
      between.get(b)!.push(a);
    } else if (ka === 'switch') tier.set(a, 1);
    else if (kb === 'switch') tier.set(b, 1);
  }
  // A fabric of switches alone has no edge: draw them as one band.
  if (tier.size === 0) for (const s of switches) tier.set(s, 1);
  const queue = [...tier.keys()];
  while (queue.length) {
    const cur = queue.shift()!;
    for (const peer of between.get(cur) ?? []) {
      if (tier.has(peer)) continue;
      tier.set(peer, tier.get(cur)! + 1);
      queue.push(peer);
    }
  }
  for (const s of switches) if (!tier.has(s)) tier.set(s, 1);
  return tier;
}

export function layoutFabric(fabric: Fabric): Layout {
  const unmanaged = fabric.endpoints.filter((e) => e.host === undefined && e.attach !== undefined);
  const edges: [string, string][] = [
    ...fabric.links.map((l) => [l.a.device, l.b.device] as [string, string]),
    ...unmanaged.map((e) => [e.attach!.device, e.name] as [string, string]),
    // A bridge joins ports without enforcing: drawn, so the hosts behind it are not left unconnected.
    ...(fabric.bridges ?? []).flatMap((b) => b.links.map((l) => [l.a.device, l.b.device] as [string, string])),
  ];
  const tiers = switchTiers(fabric, edges);
  const neighbours = new Map<string, string[]>();
  for (const [a, b] of edges) {
    for (const [x, y] of [
      [a, b],
      [b, a],
    ]) {
      let l = neighbours.get(x);
      if (!l) neighbours.set(x, (l = []));
      l.push(y);
    }
  }

  const top = Math.max(1, ...tiers.values());
  const bands: { label: string; role: Role; tier: number; names: string[] }[] = [];
  for (let t = top; t >= 1; t--) {
    const names = [...tiers].filter(([, n]) => n === t).map(([s]) => s);
    const label = t === 1 ? (top === 1 ? 'switches' : 'leaves') : t === top ? 'spines' : `tier ${t} switches`;
    bands.push({ label, role: t === 1 ? 'leaf' : 'spine', tier: t, names });
  }
  bands.push({ label: 'DPUs', role: 'dpu', tier: 0, names: fabric.devices.filter((d) => d.kind === 'dpu' || d.kind === 'smartnic').map((d) => d.name) });
  bands.push({ label: 'bridges', role: 'bridge', tier: 0, names: (fabric.bridges ?? []).map((b) => b.name) });
  bands.push({ label: 'hosts', role: 'host', tier: 0, names: fabric.devices.filter((d) => d.kind === 'host').map((d) => d.name) });
  bands.push({ label: 'unmanaged endpoints', role: 'endpoint', tier: 0, names: unmanaged.map((e) => e.name) });

  const total = bands.reduce((n, b) => n + b.names.length, 0);
  const perLine = Math.max(16, Math.ceil(Math.sqrt(total) * 1.5));
  // Where each placed node sits along its band, 0..1: the key lower bands sort by.
  const along = new Map<string, number>();
  const nodes: LaidNode[] = [];
  const laidBands: LaidBand[] = [];
  let y = MARGIN;
  let widest = 0;
  for (const band of bands) {
    if (band.names.length === 0) continue;
    const key = (n: string): number => {
      const placed = (neighbours.get(n) ?? []).map((p) => along.get(p)).filter((v): v is number => v !== undefined);
      return placed.length ? placed.reduce((a, b) => a + b, 0) / placed.length : Number.POSITIVE_INFINITY;
    };
    const keys = new Map(band.names.map((n) => [n, band.tier > 0 ? 0 : key(n)]));
    const ordered = [...band.names].sort((a, b) => keys.get(a)! - keys.get(b)! || natural(a, b));
    const lines = Math.ceil(ordered.length / perLine);
    ordered.forEach((name, i) => along.set(name, (i + 0.5) / ordered.length));
    const inLine = Math.min(ordered.length, perLine);
    widest = Math.max(widest, inLine);
    ordered.forEach((name, i) => {
      const line = Math.floor(i / perLine);
      const col = i % perLine;
      const count = line === lines - 1 ? ordered.length - line * perLine : perLine;
      nodes.push({ name, role: band.role, tier: band.tier, x: col + (perLine - count) / 2, y: y + line * LINE_H });
    });
    laidBands.push({ label: band.label, y, height: (lines - 1) * LINE_H + NODE_H });
    y += (lines - 1) * LINE_H + NODE_H + BAND_GAP;
  }
  // Columns were counted against the widest band: centre every line on it.
  const shift = (perLine - widest) / 2;
  for (const n of nodes) n.x = MARGIN_LEFT + (n.x - shift) * CELL_W;
  return { nodes, edges, bands: laidBands, width: MARGIN_LEFT + widest * CELL_W + MARGIN, height: y - BAND_GAP + MARGIN };
}
