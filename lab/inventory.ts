// The inventory a deployed lab writes (fabric.yaml): the topology's fabric
// with each device's management address in the lab, its SSH host key pinned,
// a file reference to the lab's client key and where a rollout stages
// bundles. `weft apply` reads it like any other fabric.

import { stringify } from 'yaml';
import type { Device, Mgmt } from '../inventory/model.ts';
import { formatIp } from '../orchestrator/net/ip.ts';
import type { LabTopology } from './topology.ts';

export interface LabInventoryInput {
  topo: LabTopology;
  lab: string;
  /** Public host key line per SSH-managed node. */
  hostKeys: Map<string, string>;
  /** Client private key path, relative to the inventory file. */
  identityFile: string;
  /** Where a rollout copies bundles on a node. */
  stagingDir: (node: string) => string;
  /** P4 leaves on bmv2: the device config they run, relative to the inventory file (the topology's own reference otherwise). */
  deviceConfigs?: Map<string, string>;
}

function mgmtOf(d: Device, input: LabInventoryInput, address: string): Record<string, unknown> {
  const m: Mgmt = d.mgmt;
  const out: Record<string, unknown> = { address };
  switch (d.kind) {
    case 'switch':
      if (d.pipeline === 'p4') {
        const deviceConfig = input.deviceConfigs?.get(d.name) ?? m.p4runtime?.deviceConfig;
        out.p4runtime = { port: m.p4runtime?.port ?? 9559, deviceId: m.p4runtime?.deviceId ?? 1, ...(deviceConfig ? { deviceConfig } : {}) };
      }
      else out.gnmi = { port: m.gnmi?.port ?? 57400 };
      // Lab switches answer SNMP too (sysName, IF-MIB, LLDP-MIB), for discovery.
      out.snmp = { port: 161 };
      break;
    case 'host':
    case 'dpu':
    case 'smartnic':
      // The lab's sshd listens on 22 as root and snmpd on 161, whatever the topology says.
      out.ssh = { user: 'root', port: 22, hostKey: input.hostKeys.get(d.name), identityFile: input.identityFile, stagingDir: input.stagingDir(d.name) };
      out.snmp = { port: 161 };
      break;
  }
  return out;
}

export function renderLabInventory(input: LabInventoryInput): string {
  const { topo } = input;
  const f = topo.fabric;
  const mgmtAddr = new Map(topo.nodes.map((n) => [n.name, n.mgmtIpv4]));
  const devices = f.devices.map((d) => {
    const o: Record<string, unknown> = { name: d.name, kind: d.kind };
    if (d.pipeline) o.pipeline = d.pipeline;
    if (d.profile) o.profile = d.profile;
    if (d.attachedTo) o.attachedTo = d.attachedTo;
    // Placement reads it: a DPU in front of a host without an agent enforces exactly.
    if (d.agent === false) o.agent = false;
    o.mgmt = mgmtOf(d, input, mgmtAddr.get(d.name) as string);
    if (d.capacity) o.capacity = d.capacity;
    if (Object.keys(d.labels).length > 0) o.labels = d.labels;
    return o;
  });
  const links = f.links.map((l) => ({ endpoints: [`${l.a.device}:${l.a.port}`, `${l.b.device}:${l.b.port}`] }));
  const endpoints = f.endpoints.map((e) => {
    const o: Record<string, unknown> = { name: e.name };
    if (e.host) o.host = e.host;
    if (e.attach) o.attach = `${e.attach.device}:${e.attach.port}`;
    o.addresses = e.addresses.map((a) => formatIp(a.family, a.value));
    o.labels = e.labels;
    return o;
  });
  const doc = { apiVersion: 'weft.dev/v1', kind: 'Fabric', metadata: { name: input.lab }, spec: { devices, links, endpoints } };
  return `# Inventory of the Weft lab "${input.lab}" (from ${topo.file}); written by weft lab deploy.\n${stringify(doc, { lineWidth: 0 })}`;
}
