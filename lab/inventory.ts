// The inventory a deployed lab writes (fabric.yaml, DESIGN §9): management
// addresses, transports, pinned SSH host keys and a file reference to the
// lab's client key. `weft apply` reads it like any other fabric.

import { stringify } from 'yaml';
import { formatIp } from '../orchestrator/net/ip.ts';
import { endpointAttachment, linksOf, type LabTopology } from './topology.ts';

export interface LabInventoryInput {
  topo: LabTopology;
  lab: string;
  /** Public host key line per SSH-managed node. */
  hostKeys: Map<string, string>;
  /** Client private key path, relative to the inventory file. */
  identityFile: string;
  /** Where a rollout copies bundles on a node: inside the lab's directory, so destroy removes them. */
  stagingDir: (node: string) => string;
}

export function renderLabInventory(input: LabInventoryInput): string {
  const { topo } = input;
  const deviceNodes = topo.nodes.filter((n) => n.role === 'host' || n.role === 'dpu' || n.role === 'smartnic' || n.role === 'switch');
  const isDevice = new Set(deviceNodes.map((n) => n.name));
  const devices = deviceNodes.map((n) => {
    const d: Record<string, unknown> = { name: n.name, kind: n.role };
    switch (n.role) {
      case 'switch': {
        d.pipeline = n.pipeline;
        const mgmt: Record<string, unknown> = { address: n.mgmtIpv4 };
        if (n.p4runtime) mgmt.p4runtime = { port: n.p4runtime.port, deviceId: n.p4runtime.deviceId };
        if (n.gnmi) mgmt.gnmi = { port: n.gnmi.port };
        d.mgmt = mgmt;
        if (n.capacity !== undefined) d.capacity = { aclEntries: n.capacity };
        break;
      }
      case 'dpu':
      case 'smartnic':
      case 'host': {
        if (n.role !== 'host') {
          d.profile = n.profile;
          if (n.attachedTo) d.attachedTo = n.attachedTo;
        }
        d.mgmt = {
          address: n.mgmtIpv4,
          ssh: { user: 'root', port: 22, hostKey: input.hostKeys.get(n.name), identityFile: input.identityFile, stagingDir: input.stagingDir(n.name) },
          snmp: { port: 161 },
        };
        break;
      }
      case 'endpoint':
      case 'bridge':
        break;
    }
    if (Object.keys(n.labels).length > 0) d.labels = n.labels;
    return d;
  });
  const links = topo.links
    .filter((l) => isDevice.has(l.a.node) && isDevice.has(l.b.node))
    .map((l) => ({ endpoints: [`${l.a.node}:${l.a.port}`, `${l.b.node}:${l.b.port}`] }));
  const endpoints = topo.nodes
    .filter((n) => n.role === 'endpoint')
    .map((n) => {
      const at = endpointAttachment(topo, n);
      const e: Record<string, unknown> = { name: n.name };
      if (at.host) e.host = at.host;
      // A managed endpoint also names the host port it plugs into, so the host
      // agent knows its endpoint-facing interface (and leaves mgmt0 alone).
      const [l] = linksOf(topo, n.name);
      const attach = at.attach ?? (at.host && l.peer.node === at.host ? l.peer : undefined);
      if (attach) e.attach = `${attach.node}:${attach.port}`;
      e.addresses = n.addresses.map((a) => formatIp(a.family, a.value));
      e.labels = n.labels;
      return e;
    });
  const doc = {
    apiVersion: 'weft.dev/v1',
    kind: 'Fabric',
    metadata: { name: input.lab },
    spec: { devices, links, endpoints },
  };
  return `# Inventory of the Weft lab "${input.lab}" (from ${topo.file}); written by weft lab deploy.\n${stringify(doc, { lineWidth: 0 })}`;
}
