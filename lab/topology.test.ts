// Topology resolution: roles from labels or kinds, errors with spans and
// hints, management addresses, the spanning tree that breaks loops, and the
// fabric -> topology -> inventory round trip.

import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../orchestrator/diagnostics.ts';
import { parseIp, type IpAddr } from '../orchestrator/net/ip.ts';
import type { Fabric } from '../inventory/model.ts';
import { blockedPorts } from './forwarding.ts';
import { fabricToTopology } from './generate.ts';
import { renderLabInventory } from './inventory.ts';
import { parseTopology } from './topology.ts';

function errorsOf(text: string): string[] {
  try {
    parseTopology(text, 't.clab.yml');
  } catch (e) {
    if (e instanceof InputError) return e.diagnostics.map((d) => `${d.code}@${d.span?.line}:${d.span?.col}`);
    throw e;
  }
  return [];
}

describe('parseTopology', () => {
  it('reports unknown kinds, roles, nodes and ports with their position', () => {
    const text = [
      'name: x',
      'topology:',
      '  nodes:',
      '    a: {kind: podman_thing}',
      '    b: {kind: linux, labels: {weft.role: router}}',
      '    c: {kind: linux}',
      '  links:',
      '    - endpoints: ["c:eth1", "zz:eth1"]',
      '    - endpoints: ["c:mgmt0", "c:eth2"]',
    ].join('\n');
    expect(errorsOf(text)).toEqual(['unknown-kind@4:5', 'bad-role@5:5', 'unknown-node@8:7', 'bad-port@9:7']);
  });

  it('assigns management addresses after the gateway, skipping explicit ones', () => {
    const t = parseTopology(
      ['name: x', 'mgmt: {ipv4-subnet: 10.9.0.0/24}', 'topology:', '  nodes:', '    a: {kind: linux}', '    b: {kind: linux, mgmt-ipv4: 10.9.0.2}', '    c: {kind: linux}'].join('\n'),
      't.clab.yml',
    );
    expect(t.mgmtGateway).toBe('10.9.0.1');
    expect(t.nodes.map((n) => `${n.name}=${n.mgmtIpv4}`)).toEqual(['a=10.9.0.3', 'b=10.9.0.2', 'c=10.9.0.4']);
  });

  it('leaves the links that close loops out of forwarding', () => {
    const t = parseTopology(
      [
        'name: x',
        'topology:',
        '  nodes:',
        '    s1: {kind: sonic-vs}',
        '    s2: {kind: sonic-vs}',
        '    l1: {kind: sonic-vs}',
        '    l2: {kind: sonic-vs}',
        '  links:',
        '    - endpoints: ["l1:e1", "s1:e1"]',
        '    - endpoints: ["l1:e2", "s2:e1"]',
        '    - endpoints: ["l2:e1", "s1:e2"]',
        '    - endpoints: ["l2:e2", "s2:e2"]',
      ].join('\n'),
      't.clab.yml',
    );
    expect(Object.fromEntries(blockedPorts(t))).toEqual({ l2: ['e2'], s2: ['e2'] });
  });
});

describe('fabric -> topology -> inventory', () => {
  const span = { file: 'f.yaml', line: 1, col: 1 };
  const ip = (s: string): IpAddr => parseIp(s) as IpAddr;
  const fabric: Fabric = {
    file: 'f.yaml',
    name: 'dc',
    digest: '',
    devices: [
      { name: 'leaf1', kind: 'switch', pipeline: 'p4', mgmt: { address: '172.20.20.11', p4runtime: { port: 9559, deviceId: 7 } }, capacity: { aclEntries: 64 }, labels: {}, span },
      { name: 'leaf2', kind: 'switch', pipeline: 'openconfig', mgmt: { address: '172.20.20.12', gnmi: { port: 57400 } }, labels: {}, span },
      { name: 'h1', kind: 'host', mgmt: { address: '172.20.20.21', ssh: { user: 'root', port: 22 } }, labels: { rack: 'r1' }, span },
      { name: 'd1', kind: 'dpu', profile: 'bluefield', attachedTo: 'h1', mgmt: { address: '172.20.20.31', ssh: { user: 'root', port: 22 } }, labels: {}, span },
    ],
    links: [
      { a: { device: 'h1', port: 'eth1' }, b: { device: 'd1', port: 'eth1' }, span },
      { a: { device: 'd1', port: 'eth2' }, b: { device: 'leaf1', port: 'eth1' }, span },
      { a: { device: 'leaf1', port: 'eth2' }, b: { device: 'leaf2', port: 'eth1' }, span },
    ],
    endpoints: [
      { name: 'web', host: 'h1', addresses: [ip('10.0.0.1'), ip('fd00::1')], labels: { app: 'web' }, span },
      { name: 'box', attach: { device: 'leaf2', port: 'eth5' }, addresses: [ip('10.0.0.9')], labels: { app: 'box' }, span },
    ],
  };

  it('carries devices, transports and endpoints through the topology into the lab inventory', () => {
    const text = fabricToTopology(fabric, { name: 'dc' });
    const topo = parseTopology(text, 'dc.clab.yml');
    const inv = parseYaml(renderLabInventory({ topo, lab: 'dc', hostKeys: new Map([['h1', 'ssh-ed25519 AAAA'], ['d1', 'ssh-ed25519 BBBB']]), identityFile: 'keys/k', stagingDir: (n) => `/s/${n}` })) as {
      spec: { devices: Record<string, unknown>[]; links: { endpoints: string[] }[]; endpoints: Record<string, unknown>[] };
    };
    expect(inv.spec.devices).toEqual([
      { name: 'leaf1', kind: 'switch', pipeline: 'p4', mgmt: { address: '172.20.20.11', p4runtime: { port: 9559, deviceId: 7 } }, capacity: { aclEntries: 64 } },
      { name: 'leaf2', kind: 'switch', pipeline: 'openconfig', mgmt: { address: '172.20.20.12', gnmi: { port: 57400 } } },
      { name: 'h1', kind: 'host', mgmt: { address: '172.20.20.21', ssh: { user: 'root', port: 22, hostKey: 'ssh-ed25519 AAAA', identityFile: 'keys/k', stagingDir: '/s/h1' }, snmp: { port: 161 } }, labels: { rack: 'r1' } },
      { name: 'd1', kind: 'dpu', profile: 'bluefield', attachedTo: 'h1', mgmt: { address: '172.20.20.31', ssh: { user: 'root', port: 22, hostKey: 'ssh-ed25519 BBBB', identityFile: 'keys/k', stagingDir: '/s/d1' }, snmp: { port: 161 } } },
    ]);
    expect(inv.spec.links.map((l) => l.endpoints.join(' '))).toEqual(['h1:eth1 d1:eth1', 'd1:eth2 leaf1:eth1', 'leaf1:eth2 leaf2:eth1']);
    expect(inv.spec.endpoints).toEqual([
      { name: 'web', host: 'h1', attach: 'h1:eth2', addresses: ['10.0.0.1', 'fd00::1'], labels: { app: 'web' } },
      { name: 'box', attach: 'leaf2:eth5', addresses: ['10.0.0.9'], labels: { app: 'box' } },
    ]);
  });
});
