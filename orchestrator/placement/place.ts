// Placement (README, Where the policy is enforced): decides which device enforces which rules, in which
// mode, on which interfaces, and records why, so `weft explain` and the
// compile summary can show the reasoning rather than just the outcome.

import type { Device, Endpoint, Fabric } from '../../inventory/model.ts';
import type { Ir } from '../ir/model.ts';
import { irReach } from '../ir/reach.ts';
import { winningRules } from '../analysis/facts.ts';
import type { Policy } from '../policy/model.ts';
import type { EnforcementMode, TargetName } from '../../targets/contract.ts';
import { placementFromCompact } from './compact.ts';
import { COMPACT_PLACEMENT_FORMAT, type CompactPlacement, type DevicePlacement, type Placement } from './model.ts';

type Role = DevicePlacement['interfaces'][number]['role'];

/** A host runs an agent unless the fabric says `agent: false` (containerlab: label weft.agent "false"). */
export function hasAgent(device: Device): boolean {
  return device.kind !== 'host' || device.agent !== false;
}

/** The target a device compiles for; undefined when its kind needs a pipeline it lacks. */
export function targetNameOf(device: Device): TargetName | undefined {
  switch (device.kind) {
    case 'host':
      return 'host';
    case 'dpu':
    case 'smartnic':
      return 'dpu';
    case 'switch':
      return device.pipeline;
    default: {
      const never: never = device.kind;
      return never;
    }
  }
}

/** One collator for every comparison: localeCompare with options builds a new one per call. */
const portCollator = new Intl.Collator('en', { numeric: true });

/** Port names sort as people number them: eth2 before eth10. */
export function comparePorts(a: string, b: string): number {
  return portCollator.compare(a, b);
}

export interface LocalView {
  device: Device;
  target: TargetName;
  mode: EnforcementMode;
  interfaces: { name: string; role: Role }[];
  /** Endpoints this device enforces for, with the interface they are behind ('*': on the host itself). */
  endpoints: { name: string; via: string; role: 'local' | 'behind-host' | 'unmanaged' }[];
  reason: string;
}

/** Identity ids of every endpoint, from the IR's identity table. */
function endpointIdentities(ir: Ir): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const id of ir.identities) {
    for (const ep of id.endpoints) {
      let s = out.get(ep);
      if (!s) out.set(ep, (s = new Set()));
      s.add(id.id);
    }
  }
  return out;
}

/** Lookups built once per fabric, so placing a device costs what it touches. */
export interface FabricIndex {
  byName: Map<string, Device>;
  peers: Map<string, { port: string; peer: Device | undefined }[]>;
  /** Managed endpoints by the device named in their `host`. */
  byHost: Map<string, Endpoint[]>;
  /** Unmanaged endpoints by the device they attach to. */
  unmanagedAt: Map<string, Endpoint[]>;
}

export function indexFabric(fabric: Fabric): FabricIndex {
  const byName = new Map(fabric.devices.map((d) => [d.name, d]));
  const push = <T>(m: Map<string, T[]>, k: string, v: T): void => {
    let l = m.get(k);
    if (!l) m.set(k, (l = []));
    l.push(v);
  };
  const peers = new Map<string, { port: string; peer: Device | undefined }[]>();
  for (const l of fabric.links) {
    push(peers, l.a.device, { port: l.a.port, peer: byName.get(l.b.device) });
    push(peers, l.b.device, { port: l.b.port, peer: byName.get(l.a.device) });
  }
  const byHost = new Map<string, Endpoint[]>();
  const unmanagedAt = new Map<string, Endpoint[]>();
  for (const e of fabric.endpoints) {
    if (e.host !== undefined) push(byHost, e.host, e);
    else if (e.attach) push(unmanagedAt, e.attach.device, e);
  }
  return { byName, peers, byHost, unmanagedAt };
}

export function viewOf(ix: FabricIndex, device: Device): LocalView | undefined {
  const target = targetNameOf(device);
  if (!target || !hasAgent(device)) return undefined;
  const { byName } = ix;
  const peers = ix.peers.get(device.name) ?? [];
  const managedBy = (...hosts: (string | undefined)[]): Endpoint[] =>
    [...new Set(hosts)].flatMap((h) => (h === undefined ? [] : (ix.byHost.get(h) ?? [])));
  const interfaces: { name: string; role: Role }[] = [];
  const endpoints: LocalView['endpoints'] = [];
  const seen = new Set<string>();
  const add = (name: string, role: Role): void => {
    if (seen.has(name)) return;
    seen.add(name);
    interfaces.push({ name, role });
  };
  let mode: EnforcementMode;
  let reason: string;
  switch (device.kind) {
    case 'host': {
      mode = 'exact';
      for (const p of peers) add(p.port, 'uplink');
      for (const e of managedBy(device.name)) {
        const port = e.attach?.device === device.name ? e.attach.port : '*';
        if (port !== '*') add(port, 'endpoint');
        endpoints.push({ name: e.name, via: port, role: 'local' });
      }
      reason = `host agent enforces the full policy (exact) for ${countOf(endpoints.length, 'local endpoint')}`;
      break;
    }
    case 'dpu':
    case 'smartnic': {
      const host = device.attachedTo ? byName.get(device.attachedTo) : undefined;
      let hostPort = '*';
      for (const p of peers) {
        if (host && p.peer?.name === host.name) {
          add(p.port, 'host');
          hostPort = p.port;
        } else add(p.port, 'uplink');
      }
      for (const e of managedBy(device.attachedTo, device.name)) endpoints.push({ name: e.name, via: hostPort, role: 'behind-host' });
      const kind = enforcerOf(device);
      if (host && hasAgent(host)) {
        mode = 'prefilter';
        reason = `${host.name} runs its own agent, so ${device.name}'s ${kind} only drops denied traffic early (prefilter); the host enforces the rest`;
      } else {
        mode = 'exact';
        reason = host
          ? `${host.name} runs no agent (agent: false), so ${device.name}'s ${kind} enforces the full policy in the wire (exact)`
          : `${device.name} is attached to no known host and its ${kind} enforces the full policy (exact)`;
      }
      break;
    }
    case 'switch': {
      const hostPorts: string[] = [];
      for (const p of peers) {
        const k = p.peer?.kind;
        if (k === 'host' || k === 'dpu' || k === 'smartnic') {
          add(p.port, 'host');
          hostPorts.push(p.port);
          const hostName = k === 'host' ? p.peer!.name : p.peer!.attachedTo;
          for (const e of managedBy(hostName, p.peer!.name)) endpoints.push({ name: e.name, via: p.port, role: 'behind-host' });
        } else add(p.port, 'uplink');
      }
      const unmanaged: string[] = [];
      for (const e of ix.unmanagedAt.get(device.name) ?? []) {
        const port = e.attach!.port;
        add(port, 'unmanaged-endpoint');
        endpoints.push({ name: e.name, via: port, role: 'unmanaged' });
        unmanaged.push(`${port} (${e.name})`);
      }
      mode = unmanaged.length > 0 ? 'exact' : 'prefilter';
      const parts: string[] = [];
      if (hostPorts.length) parts.push(`prefilter (deny rules) on host-facing ${hostPorts.sort(comparePorts).join(', ')}`);
      if (unmanaged.length) parts.push(`exact on ingress of ${unmanaged.join(', ')}: traffic from unmanaged endpoints is checked as it enters`);
      reason = parts.length ? parts.join('; ') : 'transit only: no hosts or unmanaged endpoints behind its ports';
      break;
    }
    default: {
      const never: never = device.kind;
      return never;
    }
  }
  interfaces.sort((a, b) => comparePorts(a.name, b.name));
  return { device, target, mode, interfaces, endpoints, reason };
}

/**
 * What enforces on a DPU or SmartNIC, by profile: the bluefield DPU runs the
 * full datapath on its own Linux; the others are an XDP program in the NIC.
 */
function enforcerOf(device: Device): string {
  const profile = device.profile ?? 'generic';
  return profile === 'bluefield' ? 'bluefield DPU datapath' : `${profile} NIC prefilter`;
}

function countOf(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

export function place(policy: Policy, fabric: Fabric, ir: Ir): Placement {
  const epIds = endpointIdentities(ir);  const ix = indexFabric(fabric);
  const views = fabric.devices.map((d) => viewOf(ix, d)).filter((v): v is LocalView => v !== undefined);

  const devices: DevicePlacement[] = views.map((v) => {
    const local = new Set<number>();
    for (const e of v.endpoints) {
      // A switch is exact only for what sits directly behind its ports.
      if (v.device.kind === 'switch' && e.role !== 'unmanaged') continue;
      for (const id of epIds.get(e.name) ?? []) local.add(id);
    }
    return {
      device: v.device.name,
      target: v.target,
      mode: v.mode,
      localIdentities: [...local].sort((a, b) => a - b),
      interfaces: v.interfaces,
      reason: v.reason,
    };
  });

  // Which identities each rule may decide for: the identities on each side
  // of a rule that wins somewhere (analysis/facts.ts), so a shadowed rule is
  // placed nowhere. Sides are gathered per group and `any` once, never per
  // identity pair.
  const winners = winningRules(ir);
  const reach = irReach(ir);
  // Every (view, endpoint) pair gets a slot, numbered views ascending and
  // each view's endpoints in its own order, so a side's endpoints are a
  // sorted run of slots and each view's share of it a contiguous stretch.
  type Ep = LocalView['endpoints'][number];
  const slotView: number[] = [];
  const slotEp: Ep[] = [];
  // Where each identity's endpoints are enforced, so a side only visits the
  // devices its identities live on instead of every device of the fabric.
  const slotsOf = new Map<number, number[]>();
  views.forEach((v, view) => {
    for (const e of v.endpoints) {
      const slot = slotEp.length;
      slotView.push(view);
      slotEp.push(e);
      for (const id of epIds.get(e.name) ?? []) {
        let l = slotsOf.get(id);
        if (!l) slotsOf.set(id, (l = []));
        l.push(slot);
      }
    }
  });
    // An endpoint with several identities is gathered once per side: a slot
  // is taken when its stamp is not the side's.
  const stamp = new Int32Array(slotEp.length);
  let side = 0;
  /** A side's endpoints per view, views ascending, each view's in its own order. */
  const gather = (ids: Iterable<number>): [number, Ep[]][] => {
    side++;
    const taken: number[] = [];
    for (const id of ids) {
      for (const slot of slotsOf.get(id) ?? []) {
        if (stamp[slot] === side) continue;
        stamp[slot] = side;
        taken.push(slot);
      }
    }
    const sorted = Int32Array.from(taken).sort();
    const out: [number, Ep[]][] = [];
    for (let i = 0; i < sorted.length; ) {
      const view = slotView[sorted[i]];
      const eps: Ep[] = [];
      for (; i < sorted.length && slotView[sorted[i]] === view; i++) eps.push(slotEp[sorted[i]]);
      out.push([view, eps]);
    }
    return out;
  };

  // A side's points on a device depend only on the side (its groups, or
  // `any`), on which end of the rule it is and, at the source, on whether
  // the rule denies: each such fragment is built once, however many rules
  // share it, and each distinct point (with its reason) is stored once.
  const points: CompactPlacement['points'] = [];
  const pointIds = new Map<string, number>();
  const fragments: number[][] = [];
  const fragmentIds = new Map<string, number>();
  const sides = new Map<string, [number, Ep[]][]>();
  const sideHits = (key: string, peers: Exclude<Ir['rules'][number]['from'], 'any'> | 'any'): [number, Ep[]][] => {
    let h = sides.get(key);
    if (!h) {
      if (peers === 'any') h = gather(slotsOf.keys());
      else {
        const ids = new Set<number>();
        for (const g of peers.groups) for (const p of reach.membersOf(g)) ids.add(ir.identities[p].id);
        h = gather(ids);
      }
      sides.set(key, h);
    }
    return h;
  };
  const fragmentOf = (end: 'from' | 'to', deny: boolean, peers: Ir['rules'][number]['from']): number => {
    const key = peers === 'any' ? '*' : peers.groups.join('\n');
    const fkey = `${end === 'to' ? 'to' : deny ? 'from-deny' : 'from'}\0${key}`;
    const known = fragmentIds.get(fkey);
    if (known !== undefined) return known;
    const ids: number[] = [];
    const push = (vi: number, attach: string, mode: EnforcementMode, reason: string): void => {
      // Sides that meet on a device in the same endpoints share its point.
      const key = `${vi}\0${attach}\0${mode}\0${reason}`;
      let id = pointIds.get(key);
      if (id === undefined) {
        pointIds.set(key, (id = points.length));
        points.push([vi, attach, mode, reason]);
      }
      ids.push(id);
    };
    for (const [vi, eps] of sideHits(key, peers)) {
      const v = views[vi];
      const name = v.device.name;
      switch (v.device.kind) {
        case 'host':
          if (end === 'from') push(vi, viaAttach(eps, 'egress'), 'exact', `${name} egress: ${names(eps)} ${localOf(eps, name)}`);
          else push(vi, viaAttach(eps, 'ingress'), 'exact', `${name} ingress: ${names(eps)} ${localOf(eps, name)}`);
          break;
        case 'dpu':
        case 'smartnic': {
          const kind = enforcerOf(v.device);
          const via = eps[0].via;
          if (v.mode === 'exact') {
            const dir = end === 'from' ? 'ingress' : 'egress';
            push(vi, `${via} ${dir}`, 'exact', `${name} ${via} ${dir} exact (${kind}): ${names(eps)} ${isAre(eps)} behind ${name}, whose host runs no agent`);
          } else if (end === 'from' && deny) {
            push(vi, `${via} ingress`, 'prefilter', `${name} prefilter (${kind}): deny rule dropped close to the source (${names(eps)} behind ${name}:${via}); what the NIC cannot hold stays on the host (compile notes)`);
          }
          break;
        }
        case 'switch': {
          if (end === 'to') break;
          // Switch targets check only what enters a port facing an unmanaged
          // endpoint; traffic towards it is decided at its source.
          for (const e of eps) {
            if (e.role === 'unmanaged') push(vi, `${e.via} ingress`, 'exact', `${name} ${e.via} ingress exact: traffic from ${e.name} (unmanaged behind ${name}:${e.via}) is checked as it enters`);
          }
          if (deny) {
            const src = eps.filter((x) => x.role === 'behind-host');
            const ports = [...new Set(src.map((e) => e.via))].sort(comparePorts);
            for (const port of ports) {
              const behind = src.filter((e) => e.via === port);
              push(vi, `${port} ingress`, 'prefilter', `${name} prefilter: deny rule dropped close to the source (${names(behind)} behind ${name}:${port})`);
            }
          }
          break;
        }
        default: {
          const never: never = v.device.kind;
          return never;
        }
      }
    }
    fragmentIds.set(fkey, fragments.length);
    fragments.push(ids);
    return fragments.length - 1;
  };

  const rules: CompactPlacement['rules'] = policy.rules.map((rule) => {
    if (!winners.has(rule.index)) return { rule: rule.index, name: rule.name, from: -1, to: -1 };
    const r = ir.rules[rule.index];
    return { rule: rule.index, name: rule.name, from: fragmentOf('from', rule.action === 'deny', r.from), to: fragmentOf('to', false, r.to) };
  });

    return placementFromCompact({ format: COMPACT_PLACEMENT_FORMAT, devices, points, fragments, rules });
}

function names(eps: { name: string }[]): string {
  if (eps.length === 1) return eps[0].name;
  const all = [...new Set(eps.map((e) => e.name))];
  return all.length <= 3 ? all.join(', ') : `${all.slice(0, 3).join(', ')} and ${all.length - 3} more`;
}

function isAre(eps: unknown[]): string {
  return eps.length === 1 ? 'is' : 'are';
}

function localOf(eps: unknown[], host: string): string {
  return eps.length === 1 ? `is a local endpoint of ${host}` : `are local endpoints of ${host}`;
}

/** Hosts enforce on their endpoint-facing ports; '*' means all of them. */
function viaAttach(eps: { via: string }[], dir: 'ingress' | 'egress'): string {
  const first = eps[0].via;
  if (eps.every((e) => e.via === first)) return `${first} ${dir}`;
  const ports = [...new Set(eps.map((e) => e.via))].sort(comparePorts);
  return `${ports.includes('*') ? '*' : ports.join(',')} ${dir}`;
}
