// Scenarios for the DPU tests and benchmark: a generated policy and fabric
// (orchestrator/testing/generate.ts) with a DPU of the given profile in front
// of its busiest host, linked between that host and a leaf.

import type { Device, DpuProfile, Fabric } from '../../inventory/model.ts';
import type { Policy } from '../../orchestrator/policy/model.ts';
import { generateScenario, makeRng, type ScenarioOptions } from '../../orchestrator/testing/generate.ts';

/** A two-rule policy file for a web endpoint behind one host: small fabrics in the DPU input tests compile it. */
export const SMALL_POLICY_YAML = `apiVersion: weft.dev/v1
kind: Policy
metadata: {name: p}
spec:
  defaultAction: deny
  groups:
    web: {selector: {app: web}}
    ops: {cidrs: [10.250.0.0/16]}
  rules:
    - {name: ops-ssh, from: [ops], to: [web], ports: [{protocol: tcp, port: 22}], action: allow}
    - {name: no-telnet, from: [any], to: [web], ports: [{protocol: tcp, port: 23}], action: deny}
`;

export interface DpuScenario {
  policy: Policy;
  fabric: Fabric;
  dpu: Device;
}

export function dpuScenario(seed: number, profile: DpuProfile, opts: ScenarioOptions & { hostAgent?: boolean; capacity?: number } = {}): DpuScenario {
  const { policy, fabric } = generateScenario(makeRng(seed), { ipv6: true, ...opts });
  const span = { file: 'generated/fabric.yaml', line: 1, col: 1 };
  const count = (h: string) => fabric.endpoints.filter((e) => e.host === h).length;
  const hosts = fabric.devices.filter((d) => d.kind === 'host').sort((a, b) => count(b.name) - count(a.name));
  const host = hosts[0];
  if (opts.hostAgent === false) host.agent = false;
  const uplink = fabric.links.find((l) => l.a.device === host.name || l.b.device === host.name);
  const dpu: Device = {
    name: `dpu-${profile}`,
    kind: 'dpu',
    profile,
    attachedTo: host.name,
    mgmt: { address: '172.20.20.250', ssh: { user: 'root', port: 22 } },
    capacity: opts.capacity === undefined ? undefined : { aclEntries: opts.capacity },
    labels: {},
    span,
  };
  const devices = fabric.devices.filter((d) => d.kind !== 'dpu' && d.kind !== 'smartnic');
  const links = [...fabric.links, { a: { device: dpu.name, port: 'eth0' }, b: { device: host.name, port: 'eth9' }, span }];
  if (uplink) {
    const leaf = uplink.a.device === host.name ? uplink.b : uplink.a;
    links.push({ a: { device: dpu.name, port: 'eth1' }, b: { device: leaf.device, port: `${leaf.port}d` }, span });
  }
  return { policy, fabric: { ...fabric, devices: [...devices, dpu], links }, dpu };
}
