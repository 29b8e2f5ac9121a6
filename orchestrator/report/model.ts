// Everything the report page shows, gathered from a bundle alone: the fabric
// drawing, where each rule is enforced and why, each device's entries against
// its capacity, the analysis warnings, and the data the explain box runs on.

import { relative } from 'node:path';
import type { Endpoint } from '../../inventory/model.ts';
import type { Bundle } from '../compile/bundle.ts';
import { formatSpan, type Diagnostic, type SourceSpan } from '../diagnostics.ts';
import { formatIp } from '../net/ip.ts';
import type { PeerRef, PortMatch, Rule } from '../policy/model.ts';
import { usageOf, type Usage } from './capacity.ts';
import { explainData, type ExplainData, type RulePoint } from './explain-data.ts';
import { layoutFabric, type Layout, type Role } from './layout.ts';

/** What the page shows when a device (or unmanaged endpoint) of the drawing is selected. */
export interface NodeDetails {
  name: string;
  kind: string;
  role: Role;
  /** host | dpu | p4 | openconfig | none */
  target: string;
  mode?: string;
  reason?: string;
  mgmt?: string;
  interfaces?: string[];
  stats?: Record<string, number>;
  notes?: string[];
  usage?: Usage;
  /** Workloads on a host, or behind a switch's ports. */
  endpoints?: string[];
  /** For an unmanaged endpoint: where it plugs in, its addresses and labels. */
  attach?: string;
  addresses?: string[];
  labels?: Record<string, string>;
}

export interface RuleRow {
  index: number;
  section: string;
  name: string;
  action: string;
  location: string;
  /** "web -> db: tcp 5432, udp 8000-8099" */
  match: string;
  points: RulePoint[];
}

export interface DeviceRow {
  name: string;
  kind: string;
  target: string;
  mode: string;
  usage: Usage;
  files: number;
  bytes: number;
  notes: string[];
}

export interface ReportModel {
  policy: string;
  fabric: string;
  generator: string;
  /** sha256 of the policy source, as in the manifest. */
  policyDigest: string;
  counts: { devices: number; endpoints: number; rules: number; groups: number; identities: number; rulesWithAnySide: number };
  layout: Layout;
  nodes: Record<string, NodeDetails>;
  rules: RuleRow[];
  devices: DeviceRow[];
  /** Undefined when the bundle predates analysis.json. */
  warnings?: Diagnostic[];
  explain: ExplainData;
}

function peers(refs: PeerRef[]): string {
  return refs.map((p) => (p.kind === 'any' ? 'any' : p.name)).join(', ');
}

function portText(m: PortMatch): string {
  switch (m.protocol) {
    case 'tcp':
    case 'udp':
      return m.lo === 0 && m.hi === 65535 ? m.protocol : `${m.protocol} ${m.lo === m.hi ? m.lo : `${m.lo}-${m.hi}`}`;
    case 'icmp':
    case 'icmpv6':
      return `${m.protocol}${m.type !== undefined ? ` type ${m.type}` : ''}${m.code !== undefined ? ` code ${m.code}` : ''}`;
    case 'any':
      return 'any protocol';
    default: {
      const never: never = m;
      return never;
    }
  }
}

function matchText(r: Rule): string {
  return `${peers(r.from)} -> ${peers(r.to)}: ${r.ports.length ? r.ports.map(portText).join(', ') : 'any protocol'}`;
}

export function reportModel(bundle: Bundle, warnings: Diagnostic[] | undefined): ReportModel {
  const { manifest, policy, fabric, ir, placement } = bundle;
  // Rule locations name the bundle's own copy of the policy, which the bundle carries.
  const locate = (span: SourceSpan): string => formatSpan({ ...span, file: relative(bundle.dir, span.file) });
  const explain = explainData(policy, fabric, placement, locate);
  const byDevice = new Map(manifest.devices.map((d) => [d.name, d]));
  const placed = new Map(placement.devices.map((d) => [d.device, d]));
  const layout = layoutFabric(fabric);
  const roles = new Map(layout.nodes.map((n) => [n.name, n.role]));
  const addresses = (list: { family: 4 | 6; value: bigint }[]): string[] => list.map((a) => formatIp(a.family, a.value));

  // Endpoints by the device they live on or plug into.
  const endpointsOf = new Map<string, Endpoint[]>();
  for (const e of fabric.endpoints) {
    const at = e.host ?? e.attach?.device;
    if (at === undefined) continue;
    const list = endpointsOf.get(at);
    if (list) list.push(e);
    else endpointsOf.set(at, [e]);
  }
  const nodes: Record<string, NodeDetails> = {};
  for (const d of fabric.devices) {
    const m = byDevice.get(d.name);
    const dp = placed.get(d.name);
    const local = endpointsOf.get(d.name) ?? [];
    nodes[d.name] = {
      name: d.name,
      kind: d.kind + (d.pipeline ? ` (${d.pipeline})` : '') + (d.profile ? ` (${d.profile})` : ''),
      role: roles.get(d.name) ?? 'host',
      target: m?.target ?? 'none',
      ...(m ? { mode: m.mode, stats: m.stats, notes: m.notes, usage: usageOf(m, d) } : {}),
      ...(dp ? { reason: dp.reason, interfaces: dp.interfaces.map((i) => `${i.name} ${i.role}`) } : {}),
      ...(d.mgmt.address ? { mgmt: d.mgmt.address } : {}),
      ...(local.length ? { endpoints: local.map((e) => `${e.name}${e.attach && e.host === undefined ? ` on ${e.attach.port}` : ''}: ${addresses(e.addresses).join(', ')}`) } : {}),
    };
  }
  for (const b of fabric.bridges ?? []) {
    nodes[b.name] = { name: b.name, kind: 'bridge (joins ports, enforces nothing)', role: 'bridge', target: 'none' };
  }
  for (const e of fabric.endpoints) {
    if (e.host !== undefined || !e.attach) continue;
    nodes[e.name] = {
      name: e.name,
      kind: 'unmanaged endpoint',
      role: 'endpoint',
      target: 'none',
      attach: `${e.attach.device}:${e.attach.port}`,
      addresses: addresses(e.addresses),
      labels: e.labels,
    };
  }

  return {
    policy: manifest.policy.name,
    fabric: manifest.fabric.name,
    generator: manifest.generator,
    policyDigest: manifest.policy.digest,
    counts: {
      devices: fabric.devices.length,
      endpoints: fabric.endpoints.length,
      rules: policy.rules.length,
      groups: policy.groups.size,
      identities: ir.identities.length,
      rulesWithAnySide: ir.rules.filter((r) => r.from === 'any' || r.to === 'any').length,
    },
    layout,
    nodes,
    rules: policy.rules.map((r) => ({
      index: r.index,
      section: r.section,
      name: r.name,
      action: r.action,
      location: explain.rules[r.index].location,
      match: matchText(r),
      points: explain.rules[r.index].points.map((i) => explain.points[i]),
    })),
    devices: manifest.devices.map((m) => ({
      name: m.name,
      kind: m.kind,
      target: m.target,
      mode: m.mode,
      usage: usageOf(m, fabric.devices.find((d) => d.name === m.name)),
      files: m.files.length,
      bytes: m.files.reduce((n, f) => n + f.bytes, 0),
      notes: m.notes,
    })),
    ...(warnings ? { warnings } : {}),
    explain,
  };
}
