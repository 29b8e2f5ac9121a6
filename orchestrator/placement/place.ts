// Placement (README, Where the policy is enforced): decides which device enforces which rules, in which
// mode, on which interfaces, and records why, so `weft explain` and the
// compile summary can show the reasoning rather than just the outcome.

import type { Device, Endpoint, Fabric } from '../../inventory/model.ts';
import type { Ir } from '../ir/model.ts';
import { irReach } from '../ir/reach.ts';
import { winningRules } from '../analysis/facts.ts';
import type { Policy } from '../policy/model.ts';
import type { EnforcementMode, TargetName } from '../../targets/contract.ts';
import type { DevicePlacement, EnforcementPoint, Placement, RulePlacement } from './model.ts';

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
  const epIds = endpointIdentities(ir);
  const ix = indexFabric(fabric);
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

  // Where each identity's endpoints are enforced, so a rule only visits the
  // devices its identities live on instead of every device of the fabric.
  type Ep = LocalView['endpoints'][number];
  const byId = new Map<number, { view: number; ep: number }[]>();
  views.forEach((v, view) =>
    v.endpoints.forEach((e, ep) => {
      for (const id of epIds.get(e.name) ?? []) {
        let l = byId.get(id);
        if (!l) byId.set(id, (l = []));
        l.push({ view, ep });
      }
    }),
  );
  // A side's endpoints per view, in the view's own order, computed once per
  // distinct side (many rules name the same groups).
  const gather = (ids: Iterable<number>): Map<number, Ep[]> => {
    const sets = new Map<number, Set<number>>();
    for (const id of ids) {
      for (const h of byId.get(id) ?? []) {
        let l = sets.get(h.view);
        if (!l) sets.set(h.view, (l = new Set()));
        l.add(h.ep);
      }
    }
    const out = new Map<number, Ep[]>();
    for (const [vi, eps] of sets) out.set(vi, [...eps].sort((a, b) => a - b).map((i) => views[vi].endpoints[i]));
    return out;
  };
  const none = new Map<number, Ep[]>();
  const everywhere = gather(byId.keys());
  const byGroups = new Map<string, Map<number, Ep[]>>();
  const hitsOf = (rule: Policy['rules'][number], side: 'from' | 'to'): Map<number, Ep[]> => {
    if (!winners.has(rule.index)) return none;
    const peers = ir.rules[rule.index][side];
    if (peers === 'any') return everywhere;
    const key = peers.groups.join('\n');
    let h = byGroups.get(key);
    if (!h) {
      const ids = new Set<number>();
      for (const g of peers.groups) for (const p of reach.membersOf(g)) ids.add(ir.identities[p].id);
      byGroups.set(key, (h = gather(ids)));
    }
    return h;
  };

  const rules: RulePlacement[] = policy.rules.map((rule) => {
    const fromHits = hitsOf(rule, 'from');
    const toHits = hitsOf(rule, 'to');
    const points: RulePlacement['points'] = [];
    // A view's endpoints on one side of the rule, in the view's own order.
    const at = (hits: Map<number, Ep[]>, vi: number, pred?: (e: Ep) => boolean): Ep[] => {
      const eps = hits.get(vi);
      if (!eps) return [];
      return pred ? eps.filter(pred) : eps;
    };
    const push = (v: LocalView, attach: string, mode: EnforcementMode, reason: string): void => {
      const p: EnforcementPoint & { reason: string } = { device: v.device.name, target: v.target, attach, mode, reason };
      points.push(p);
    };
    const touched = [...new Set([...fromHits.keys(), ...toHits.keys()])].sort((a, b) => a - b);
    for (const vi of touched) {
      const v = views[vi];
      const name = v.device.name;
      const hits = (side: 'from' | 'to', pred?: (e: Ep) => boolean): Ep[] => at(side === 'from' ? fromHits : toHits, vi, pred);
      switch (v.device.kind) {
        case 'host': {
          const out = hits('from');
          if (out.length) push(v, viaAttach(out, 'egress'), 'exact', `${name} egress: ${names(out)} ${localOf(out, name)}`);
          const inn = hits('to');
          if (inn.length) push(v, viaAttach(inn, 'ingress'), 'exact', `${name} ingress: ${names(inn)} ${localOf(inn, name)}`);
          break;
        }
        case 'dpu':
        case 'smartnic': {
          const out = hits('from');
          const inn = hits('to');
          const kind = enforcerOf(v.device);
          if (v.mode === 'exact') {
            if (out.length) push(v, `${out[0].via} ingress`, 'exact', `${name} ${out[0].via} ingress exact (${kind}): ${names(out)} ${isAre(out)} behind ${name}, whose host runs no agent`);
            if (inn.length) push(v, `${inn[0].via} egress`, 'exact', `${name} ${inn[0].via} egress exact (${kind}): ${names(inn)} ${isAre(inn)} behind ${name}, whose host runs no agent`);
          } else if (rule.action === 'deny' && out.length) {
            push(v, `${out[0].via} ingress`, 'prefilter', `${name} prefilter (${kind}): deny rule dropped close to the source (${names(out)} behind ${name}:${out[0].via}); what the NIC cannot hold stays on the host (compile notes)`);
          }
          break;
        }
        case 'switch': {
          // Switch targets check only what enters a port facing an unmanaged
          // endpoint; traffic towards it is decided at its source.
          for (const e of hits('from', (x) => x.role === 'unmanaged')) {
            push(v, `${e.via} ingress`, 'exact', `${name} ${e.via} ingress exact: traffic from ${e.name} (unmanaged behind ${name}:${e.via}) is checked as it enters`);
          }
          if (rule.action === 'deny') {
            const src = hits('from', (x) => x.role === 'behind-host');
            const ports = [...new Set(src.map((e) => e.via))].sort(comparePorts);
            for (const port of ports) {
              const behind = src.filter((e) => e.via === port);
              push(v, `${port} ingress`, 'prefilter', `${name} prefilter: deny rule dropped close to the source (${names(behind)} behind ${name}:${port})`);
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
    return { rule: rule.index, name: rule.name, points };
  });

  return { devices, rules };
}

function names(eps: { name: string }[]): string {
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
  const ports = [...new Set(eps.map((e) => e.via))].sort(comparePorts);
  return ports.length === 1 ? `${ports[0]} ${dir}` : `${ports.includes('*') ? '*' : ports.join(',')} ${dir}`;
}
