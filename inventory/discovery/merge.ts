// Merges the facts of a walk into a fabric: one device per name (facts that
// reached the same device through two addresses become one), its kind, and
// one link per LLDP adjacency, seen from either end or both, with both ends
// named by device:ifname.

import type { DeviceKind, DpuProfile, Pipeline, PortRef } from '../model.ts';
import { combineFacts, PORT_ID_INTERFACE_NAME, PORT_ID_LOCAL, PORT_ID_MAC, type DeviceFacts, type NeighbourFact } from './facts.ts';
import { classify, type KindRule } from './kinds.ts';

export interface DiscoveredDevice {
  name: string;
  kind: DeviceKind;
  pipeline?: Pipeline;
  profile?: DpuProfile;
  attachedTo?: string;
  /** Why this kind (a --kind-map rule, sysDescr, LLDP capabilities). */
  kindReason: string;
  mgmt: { address: string; ssh?: { user: string; port: number; hostKey: string }; snmp?: { port: number } };
  sysDescr?: string;
  interfaces: string[];
  addresses: string[];
}

export interface DiscoveredLink {
  a: PortRef;
  b: PortRef;
}

/** A neighbour heard on a port that no discovered device accounts for. */
export interface UnresolvedNeighbour {
  at: PortRef;
  neighbour: string;
}

export interface DiscoveredFabric {
  devices: DiscoveredDevice[];
  links: DiscoveredLink[];
  unresolved: UnresolvedNeighbour[];
}

/** Fabric names end up in paths: characters outside [A-Za-z0-9._-] become '-', and a name starts with a letter or digit. */
function fabricName(raw: string): string {
  return raw.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
}

/** sysName, else the SSH hostname, else the address the device answered on. */
export function deviceName(f: DeviceFacts): string {
  return fabricName(f.sysName || f.hostname || '') || fabricName(f.address.replace(/[:.]/g, '-'));
}

export function linkKey(a: PortRef, b: PortRef): string {
  const [x, y] = [`${a.device}:${a.port}`, `${b.device}:${b.port}`].sort();
  return `${x} ${y}`;
}

/** Orders a link's ends and the list, so output is stable whatever order devices answered in. */
function sortLinks(links: DiscoveredLink[]): DiscoveredLink[] {
  return links
    .map((l) => (`${l.a.device}:${l.a.port}` <= `${l.b.device}:${l.b.port}` ? l : { a: l.b, b: l.a }))
    .sort((x, y) => linkKey(x.a, x.b).localeCompare(linkKey(y.a, y.b)));
}

/** The remote interface a neighbour's port id names, resolved against what the remote device reported. */
function remotePort(n: NeighbourFact, remote: DeviceFacts): string {
  if (n.portIdSubtype === PORT_ID_MAC) {
    const byMac = remote.interfaces.filter((i) => i.mac === n.portId);
    if (byMac.length === 1) return byMac[0].name;
  }
  const names = new Set(remote.interfaces.map((i) => i.name));
  if (n.portIdSubtype === PORT_ID_INTERFACE_NAME || (n.portIdSubtype === PORT_ID_LOCAL && names.has(n.portId))) return n.portId;
  if (n.portDesc && names.has(n.portDesc)) return n.portDesc;
  return n.portId;
}

export function mergeFacts(all: DeviceFacts[], rules: KindRule[] = []): DiscoveredFabric {
  const byName = new Map<string, DeviceFacts>();
  for (const f of all) {
    const name = deviceName(f);
    const prev = byName.get(name);
    byName.set(name, prev ? { ...combineFacts(prev, f), address: prev.address } : f);
  }
  const nameOfAddress = new Map<string, string>();
  for (const [name, f] of byName) for (const a of [f.address, ...f.addresses]) nameOfAddress.set(a, name);
  const resolve = (n: NeighbourFact): string | undefined => {
    if (n.sysName && byName.has(fabricName(n.sysName))) return fabricName(n.sysName);
    return n.mgmtAddresses.map((a) => nameOfAddress.get(a)).find((x) => x !== undefined);
  };

  // A device's capabilities: its own word, else what its neighbours heard it advertise.
  const heardCaps = new Map<string, NeighbourFact['capabilities']>();
  for (const f of byName.values()) for (const n of f.neighbours) {
    const r = resolve(n);
    if (r && n.capabilities) heardCaps.set(r, n.capabilities);
  }

  const links = new Map<string, DiscoveredLink>();
  const unresolved: UnresolvedNeighbour[] = [];
  for (const [name, f] of byName) {
    for (const n of f.neighbours) {
      const r = resolve(n);
      const at = { device: name, port: n.localPort };
      if (!r) {
        unresolved.push({ at, neighbour: n.sysName ?? n.mgmtAddresses[0] ?? n.portId });
        continue;
      }
      const b = { device: r, port: remotePort(n, byName.get(r) as DeviceFacts) };
      links.set(linkKey(at, b), { a: at, b });
    }
  }

  const devices: DiscoveredDevice[] = [...byName].map(([name, f]) => {
    const c = classify(name, f.sysDescr ?? f.osRelease?.PRETTY_NAME, f.capabilities ?? heardCaps.get(name), rules);
    const d: DiscoveredDevice = {
      name,
      kind: c.kind,
      kindReason: c.reason,
      mgmt: { address: f.address, ...(f.ssh ? { ssh: f.ssh } : {}), ...(f.snmp ? { snmp: f.snmp } : {}) },
      interfaces: f.interfaces.map((i) => i.name),
      addresses: f.addresses,
    };
    if (c.pipeline) d.pipeline = c.pipeline;
    if (c.profile) d.profile = c.profile;
    if (f.sysDescr) d.sysDescr = f.sysDescr;
    return d;
  });
  // A DPU sits in front of the one host it is linked to.
  const kindOf = new Map(devices.map((d) => [d.name, d.kind]));
  for (const d of devices) {
    if (d.kind !== 'dpu' && d.kind !== 'smartnic') continue;
    const hosts = [...links.values()].flatMap((l) => (l.a.device === d.name ? [l.b.device] : l.b.device === d.name ? [l.a.device] : [])).filter((x) => kindOf.get(x) === 'host');
    if (hosts.length === 1) d.attachedTo = hosts[0];
  }
  devices.sort((x, y) => x.name.localeCompare(y.name));
  unresolved.sort((x, y) => `${x.at.device}:${x.at.port}`.localeCompare(`${y.at.device}:${y.at.port}`));
  return { devices, links: sortLinks([...links.values()]), unresolved };
}
