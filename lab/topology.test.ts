// Topology resolution for the emulator: management subnet and addresses, lab
// port names, the spanning tree that breaks loops, the checked-in example
// topology being what `weft lab generate` makes of the example fabric, and
// the lab inventory carrying the fabric through.

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../orchestrator/diagnostics.ts';
import { formatIp } from '../orchestrator/net/ip.ts';
import { fabricToContainerlab, loadInventory } from '../inventory/load.ts';
import { blockedPorts } from './forwarding.ts';
import { renderLabInventory } from './inventory.ts';
import { loadTopology, parseTopology } from './topology.ts';

const repo = resolve(import.meta.dirname, '..');

function errorsOf(text: string): string[] {
  try {
    parseTopology(text, 't.clab.yml');
  } catch (e) {
    if (e instanceof InputError) return e.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code}@${d.span?.line}:${d.span?.col}`);
    throw e;
  }
  return [];
}

describe('parseTopology', () => {
  it('reports what a lab cannot build, with its position', () => {
    const text = [
      'name: x',
      'mgmt: {ipv4-subnet: 10.9.0.0/24}',
      'topology:',
      '  nodes:',
      '    a: {kind: linux, mgmt-ipv4: 10.8.0.5}',
      '    c: {kind: linux}',
      '    mgmt: {kind: linux}',
      '  links:',
      '    - endpoints: ["c:eth1", "host:veth-x"]',
      '    - endpoints: ["c:a-very-long-port-name", "a:eth1"]',
    ].join('\n');
    expect(errorsOf(text)).toEqual(['bad-mgmt-address@5:5', 'reserved-name@7:5', 'unsupported-link@9:7', 'bad-port@10:7']);
  });

  it('passes the inventory loader’s diagnostics through', () => {
    expect(errorsOf(['name: x', 'topology:', '  nodes:', '    a: {kind: podman_thing}'].join('\n'))[0]).toMatch(/^unknown-kind@4:/);
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

describe('the example topology', () => {
  it('is what weft lab generate makes of examples/fabric.yaml', () => {
    const generated = fabricToContainerlab(loadInventory(join(repo, 'examples/fabric.yaml')));
    const hint = 'regenerate: bin/weft.js lab generate --inventory examples/fabric.yaml --out lab/topologies/example.clab.yml';
    expect(readFileSync(join(repo, 'lab/topologies/example.clab.yml'), 'utf8').trim(), hint).toBe(generated.trim());
  });

  it('gives a lab inventory with the fabric’s devices, links and endpoints, management details added', () => {
    const fabric = loadInventory(join(repo, 'examples/fabric.yaml'));
    const topo = loadTopology(join(repo, 'lab/topologies/example.clab.yml'));
    const inv = parseYaml(
      renderLabInventory({ topo, lab: 'dc1', hostKeys: new Map([['host1', 'ssh-ed25519 AAAA']]), identityFile: 'keys/k', stagingDir: (n) => `/s/${n}` }),
    ) as { spec: { devices: { name: string; kind: string; mgmt: Record<string, unknown> }[]; links: { endpoints: string[] }[]; endpoints: { name: string; host?: string; attach?: string; addresses: string[] }[] } };
    expect(inv.spec.devices.map((d) => `${d.name}/${d.kind}/${d.mgmt.address as string}`)).toEqual(fabric.devices.map((d) => `${d.name}/${d.kind}/${d.mgmt.address}`));
    expect(inv.spec.links).toHaveLength(fabric.links.length);
    expect(inv.spec.endpoints.map((e) => `${e.name} ${e.host ?? '-'} ${e.addresses.join(',')}`)).toEqual(
      fabric.endpoints.map((e) => `${e.name} ${e.host ?? '-'} ${e.addresses.map((a) => formatIp(a.family, a.value)).join(',')}`),
    );
    const host1 = inv.spec.devices.find((d) => d.name === 'host1');
    expect(host1?.mgmt).toEqual({ address: '172.20.20.21', ssh: { user: 'root', port: 22, hostKey: 'ssh-ed25519 AAAA', identityFile: 'keys/k', stagingDir: '/s/host1' }, snmp: { port: 161 } });
    // Managed endpoints name the host port they plug into, so the host agent knows its endpoint-facing interface.
    expect(inv.spec.endpoints.find((e) => e.name === 'web-1')?.attach).toBe('host1:eth2');
    expect(inv.spec.endpoints.find((e) => e.name === 'storage-1')?.attach).toBe('leaf3:eth5');
  });

  it('keeps agent: false, which makes the DPU in front of that host exact', () => {
    const text = fabricToContainerlab(loadInventory(join(repo, 'examples/fabric.yaml'))).replace(/( *)weft\.role: host\n/, '$1weft.role: host\n$1weft.agent: "false"\n');
    const topo = parseTopology(text, 'agentless.clab.yml');
    const agentless = topo.fabric.devices.filter((d) => d.agent === false).map((d) => d.name);
    expect(agentless).toHaveLength(1);
    const inv = parseYaml(renderLabInventory({ topo, lab: 'dc1', hostKeys: new Map(), identityFile: 'keys/k', stagingDir: (n) => `/s/${n}` })) as {
      spec: { devices: { name: string; agent?: boolean }[] };
    };
    expect(inv.spec.devices.filter((d) => d.agent === false).map((d) => d.name)).toEqual(agentless);
  });
});
