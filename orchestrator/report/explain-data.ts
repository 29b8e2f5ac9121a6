// The data the report page's explain box evaluates flows on: the rules in
// order with their groups' CIDRs, excepts and selected endpoints (by index),
// the endpoints' addresses and attachments, and the fabric's links. Its size
// grows with rules, groups and endpoints, never with pairs of identities.

import type { Fabric } from '../../inventory/model.ts';
import type { EnforcementMode, TargetName } from '../../targets/contract.ts';
import { formatSpan, type SourceSpan } from '../diagnostics.ts';
import { formatCidr, formatIp } from '../net/ip.ts';
import { compactPlacement, rulePointIds } from '../placement/compact.ts';
import type { Placement } from '../placement/model.ts';
import type { Action, PeerRef, Policy, PortMatch } from '../policy/model.ts';

export type PortJson = { p: 'tcp' | 'udp'; lo: number; hi: number } | { p: 'icmp' | 'icmpv6'; type?: number; code?: number } | { p: 'any' };

export interface RulePoint {
  device: string;
  attach: string;
  mode: EnforcementMode;
  reason: string;
}

export interface ExplainRule {
  name: string;
  section: string;
  action: Action;
  /** file:line:col of the rule in the policy source. */
  location: string;
  /** Indices into groups; -1 is `any`. */
  from: number[];
  to: number[];
  /** Empty: every protocol and port. */
  ports: PortJson[];
  /** Where the rule is enforced and why (placement.json), as indices into ExplainData.points. */
  points: number[];
}

export interface ExplainData {
  defaultAction: Action;
  endpoints: { name: string; addresses: string[]; device?: string; port?: string }[];
  groups: { name: string; members: number[]; cidrs: string[]; except: string[] }[];
  rules: ExplainRule[];
  /**
   * The distinct enforcement points of all rules. A point (a host's ingress,
   * a switch port) serves many rules; listing it once keeps the page small.
   */
  points: RulePoint[];
  devices: { name: string; kind: string; target?: TargetName; mode?: EnforcementMode }[];
  /** [deviceA, portA, deviceB, portB] */
  links: [string, string, string, string][];
}

function portJson(m: PortMatch): PortJson {
  switch (m.protocol) {
    case 'tcp':
    case 'udp':
      return { p: m.protocol, lo: m.lo, hi: m.hi };
    case 'icmp':
    case 'icmpv6':
      return { p: m.protocol, ...(m.type !== undefined ? { type: m.type } : {}), ...(m.code !== undefined ? { code: m.code } : {}) };
    case 'any':
      return { p: 'any' };
    default: {
      const never: never = m;
      throw new Error(`unknown port match ${JSON.stringify(never)}`);
    }
  }
}

/** `locate` writes a rule's span (the report names the bundle's own copy of the policy). */
export function explainData(policy: Policy, fabric: Fabric, placement: Placement, locate: (span: SourceSpan) => string = formatSpan): ExplainData {
  const groupNames = [...policy.groups.keys()];
  const groupIndex = new Map(groupNames.map((n, i) => [n, i]));
  const peer = (p: PeerRef): number => (p.kind === 'any' ? -1 : groupIndex.get(p.name)!);
  // placement.json already lists each distinct point once: the page keeps its table and indices.
  const compact = compactPlacement(placement);
  const placed = new Map(compact.rules.map((r, i) => [r.rule, i]));
  const targets = new Map(placement.devices.map((d) => [d.device, d]));
  const points: RulePoint[] = compact.points.map(([view, attach, mode, reason]) => ({ device: compact.devices[view].device, attach, mode, reason }));
  return {
    defaultAction: policy.defaultAction,
    endpoints: fabric.endpoints.map((e) => {
      // Where the endpoint meets the fabric, as `weft explain` reads it.
      const device = e.host ?? e.attach?.device;
      const port = e.host !== undefined ? (e.attach?.device === e.host ? e.attach.port : undefined) : e.attach?.port;
      return { name: e.name, addresses: e.addresses.map((a) => formatIp(a.family, a.value)), ...(device ? { device } : {}), ...(port ? { port } : {}) };
    }),
    groups: groupNames.map((name) => {
      const g = policy.groups.get(name)!;
      const wanted = Object.entries(g.selector ?? {});
      const members = g.selector ? fabric.endpoints.flatMap((e, i) => (wanted.every(([k, v]) => e.labels[k] === v) ? [i] : [])) : [];
      return { name, members, cidrs: g.cidrs.map(formatCidr), except: g.except.map(formatCidr) };
    }),
    rules: policy.rules.map((r) => ({
      name: r.name,
      section: r.section,
      action: r.action,
      location: locate(r.span),
      from: r.from.map(peer),
      to: r.to.map(peer),
      ports: r.ports.map(portJson),
      points: ((i) => (i === undefined ? [] : rulePointIds(compact, i)))(placed.get(r.index)),
    })),
    points,
    devices: fabric.devices.map((d) => {
      const dp = targets.get(d.name);
      return { name: d.name, kind: d.kind, ...(dp ? { target: dp.target, mode: dp.mode } : {}) };
    }),
    links: fabric.links.map((l) => [l.a.device, l.a.port, l.b.device, l.b.port]),
  };
}
