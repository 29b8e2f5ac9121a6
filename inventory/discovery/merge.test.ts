// Merge, kinds, diff and fabric writing on hand-made facts: links seen from
// one end or both become one, MAC port ids resolve through the remote
// device's interfaces, kinds follow --kind-map, sysDescr and capabilities,
// the diff lists each side's extras, and --update keeps hand-set fields.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../orchestrator/diagnostics.ts';
import { parseInventory } from '../load.ts';
import { diffFabric, formatFabricDiff } from './diff.ts';
import { capabilitiesOf, type DeviceFacts } from './facts.ts';
import { classify, parseKindRule } from './kinds.ts';
import { linkKey, mergeFacts } from './merge.ts';
import { renderFabric, updateFabric, writeFabricFile } from './write.ts';

function facts(sysName: string, address: string, more: Partial<DeviceFacts> = {}): DeviceFacts {
  return { address, via: ['snmp'], sysName, interfaces: [], addresses: [address], neighbours: [], snmp: { port: 161 }, ...more };
}

const eth = (name: string, mac?: string): DeviceFacts['interfaces'][number] => ({ name, ...(mac ? { mac } : {}), up: true });

/** leaf1 (bridge) - host1 (station) seen from both ends; leaf1 - leaf2 from leaf1 only, leaf2 naming its port by MAC. */
function sample(): DeviceFacts[] {
  return [
    facts('leaf1', '10.0.0.1', {
      sysDescr: 'Weft lab switch: emulated P4Runtime pipeline',
      capabilities: ['bridge'],
      interfaces: [eth('eth1'), eth('eth2')],
      neighbours: [
        { localPort: 'eth2', sysName: 'host1', portIdSubtype: 5, portId: 'eth1', mgmtAddresses: ['10.0.0.3'], capabilities: ['station'] },
        { localPort: 'eth1', sysName: 'leaf2', portIdSubtype: 3, portId: '02:00:00:00:00:21', mgmtAddresses: ['10.0.0.2'], capabilities: ['bridge', 'router'] },
        { localPort: 'eth9', sysName: 'stranger', portIdSubtype: 5, portId: 'ge-0/0/1', mgmtAddresses: ['10.9.9.9'] },
      ],
    }),
    facts('leaf2', '10.0.0.2', { sysDescr: 'Arista EOS', interfaces: [eth('Ethernet1', '02:00:00:00:00:21')] }),
    facts('host1', '10.0.0.3', {
      via: ['snmp', 'ssh'],
      capabilities: ['station'],
      interfaces: [eth('eth1')],
      neighbours: [{ localPort: 'eth1', sysName: 'leaf1', portIdSubtype: 5, portId: 'eth2', mgmtAddresses: ['10.0.0.1'] }],
      ssh: { user: 'root', port: 22, hostKey: 'ssh-ed25519 AAAAtest' },
    }),
  ];
}

const dir = mkdtempSync(join(tmpdir(), 'weft-discover-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('merge', () => {
  it('makes one link per adjacency, resolves MAC port ids, and reports neighbours nobody accounts for', () => {
    const f = mergeFacts(sample());
    expect(f.devices.map((d) => `${d.name} ${d.kind}${d.pipeline ? `/${d.pipeline}` : ''}`)).toEqual(['host1 host', 'leaf1 switch/p4', 'leaf2 switch/openconfig']);
    expect(f.links.map((l) => linkKey(l.a, l.b))).toEqual(['host1:eth1 leaf1:eth2', 'leaf1:eth1 leaf2:Ethernet1']);
    expect(f.unresolved).toEqual([{ at: { device: 'leaf1', port: 'eth9' }, neighbour: 'stranger' }]);
    // leaf2 reported no capabilities of its own: what leaf1 heard it advertise decides.
    expect(f.devices.find((d) => d.name === 'leaf2')?.kindReason).toMatch(/bridge,router/);
  });

  it('merges facts that reached one device through two addresses', () => {
    const twice = [...sample(), facts('leaf1', '192.0.2.1', { addresses: ['192.0.2.1'], interfaces: [eth('eth3')] })];
    const f = mergeFacts(twice);
    expect(f.devices.filter((d) => d.name === 'leaf1')).toHaveLength(1);
    expect(f.devices.find((d) => d.name === 'leaf1')?.mgmt.address).toBe('10.0.0.1');
    expect(f.devices.find((d) => d.name === 'leaf1')?.interfaces).toContain('eth3');
  });

  it('resolves a neighbour without sysName by its management address, and a DPU to the host it is linked to', () => {
    const all = [
      facts('hostA', '10.0.1.1', { capabilities: ['station'], interfaces: [eth('eth1')], neighbours: [{ localPort: 'eth1', portIdSubtype: 5, portId: 'p0', mgmtAddresses: ['10.0.1.2'] }] }),
      facts('bf-1', '10.0.1.2', { sysDescr: 'NVIDIA BlueField-2 DPU', interfaces: [eth('p0')] }),
    ];
    const f = mergeFacts(all);
    expect(f.links.map((l) => linkKey(l.a, l.b))).toEqual(['bf-1:p0 hostA:eth1']);
    expect(f.devices.find((d) => d.name === 'bf-1')).toMatchObject({ kind: 'dpu', profile: 'bluefield', attachedTo: 'hostA' });
  });
});

describe('kinds', () => {
  it('decodes LLDP capability bits (most significant bit first)', () => {
    expect(capabilitiesOf(Buffer.from([0x20]))).toEqual(['bridge']);
    expect(capabilitiesOf(Buffer.from([0x01]))).toEqual(['station']);
    expect(capabilitiesOf(Buffer.from([0x28, 0x00]))).toEqual(['bridge', 'router']);
  });

  it('applies --kind-map rules before sysDescr and capabilities', () => {
    const rules = [parseKindRule('^tor-=switch/p4'), parseKindRule('Mellanox=dpu/bluefield')];
    expect(classify('tor-7', 'Cumulus Linux', ['station'], rules)).toMatchObject({ kind: 'switch', pipeline: 'p4' });
    expect(classify('x', 'Mellanox firmware', [], rules)).toMatchObject({ kind: 'dpu', profile: 'bluefield' });
    expect(classify('x', 'Weft lab DPU (nfp profile) on Linux', undefined, [])).toMatchObject({ kind: 'dpu', profile: 'nfp' });
    expect(classify('x', 'Arista EOS', ['router'], [])).toMatchObject({ kind: 'switch', pipeline: 'openconfig' });
    expect(classify('x', 'Linux', ['station'], [])).toMatchObject({ kind: 'host' });
  });

  it('refuses malformed --kind-map rules with what is valid', () => {
    for (const bad of ['switch', 'x=router', 'x=host/p4', 'x=switch/tofino', '(=host']) {
      expect(() => parseKindRule(bad), bad).toThrow(InputError);
    }
    try {
      parseKindRule('x=router');
    } catch (e) {
      expect((e as InputError).diagnostics[0].hint).toMatch(/valid: .*host, dpu, smartnic, switch/);
    }
  });
});

describe('diff', () => {
  const inventory = parseInventory(
    `apiVersion: weft.dev/v1
kind: Fabric
metadata: {name: t}
spec:
  devices:
    - {name: leaf1, kind: switch, pipeline: p4, mgmt: {address: 10.0.0.1}}
    - {name: leaf2, kind: switch, pipeline: p4, mgmt: {address: 10.0.0.22}}
    - {name: host1, kind: host}
    - {name: host9, kind: host, mgmt: {address: 10.0.0.9}}
  links:
    - endpoints: ["leaf2:Ethernet1", "leaf1:eth1"]
    - endpoints: ["host9:eth1", "leaf1:eth3"]
`,
    'inv.yaml',
  );

  it('lists devices, links and addresses missing on either side, and kinds that differ', () => {
    const d = diffFabric(mergeFacts(sample()), inventory);
    expect(d.equal).toBe(false);
    expect(d.devices).toEqual({ onlyDiscovered: [], onlyInventory: ['host9'], kindDiffers: [{ device: 'leaf2', discovered: 'switch/openconfig', inventory: 'switch/p4' }] });
    expect(d.links).toEqual({ onlyDiscovered: ['host1:eth1 leaf1:eth2'], onlyInventory: ['host9:eth1 leaf1:eth3'] });
    expect(d.addresses).toEqual({
      onlyDiscovered: [{ device: 'host1', address: '10.0.0.3' }, { device: 'leaf2', address: '10.0.0.2' }],
      onlyInventory: [{ device: 'leaf2', address: '10.0.0.22' }],
    });
    const text = formatFabricDiff(d, 'inv.yaml');
    expect(text).toContain('- device host9');
    expect(text).toContain('+ link host1:eth1 <-> leaf1:eth2');
    expect(text).toContain('~ device leaf2: discovered as switch/openconfig, inventory says switch/p4');
  });

  it('is equal against the fabric it wrote', () => {
    const found = mergeFacts(sample().map((f) => ({ ...f, neighbours: f.neighbours.filter((n) => n.sysName !== 'stranger') })));
    const d = diffFabric(found, parseInventory(renderFabric(found, 'x'), 'x.yaml'));
    expect(d.equal).toBe(true);
  });
});

describe('write', () => {
  it('renders a fabric that loads back with the same devices, links and pinned host key', () => {
    const found = mergeFacts(sample());
    const back = parseInventory(renderFabric(found, 'dc9'), 'dc9.yaml');
    expect(back.name).toBe('dc9');
    expect(back.devices.map((d) => d.name)).toEqual(['host1', 'leaf1', 'leaf2']);
    expect(back.devices.find((d) => d.name === 'host1')?.mgmt.ssh?.hostKey).toBe('ssh-ed25519 AAAAtest');
    expect(back.links.map((l) => linkKey(l.a, l.b))).toEqual(found.links.map((l) => linkKey(l.a, l.b)));
  });

  it('updates a fabric: adds what is new, fills what a device lacks, keeps hand-set values and comments', () => {
    const hand = `# hand-written
apiVersion: weft.dev/v1
kind: Fabric
metadata: {name: dc1}
spec:
  devices:
    - name: leaf1
      kind: switch
      pipeline: openconfig   # operator knows better
      mgmt: {address: 10.0.0.1, gnmi: {port: 6030}}
      capacity: {aclEntries: 512}
    - name: host1
      kind: host
      mgmt: {ssh: {user: admin}}
  links: []
  endpoints:
    - {name: web-1, host: host1, addresses: [10.1.0.1], labels: {app: web}}
`;
    const { text, report } = updateFabric(hand, 'dc1.yaml', mergeFacts(sample()));
    expect(report.devices).toEqual(['leaf2']);
    expect(report.links).toEqual(['host1:eth1 leaf1:eth2', 'leaf1:eth1 leaf2:Ethernet1']);
    expect(report.fields).toEqual(['host1 mgmt.address', 'host1 mgmt.ssh.port', 'host1 mgmt.ssh.hostKey', 'host1 mgmt.snmp', 'leaf1 mgmt.snmp']);
    expect(text).toContain('# hand-written');
    expect(text).toContain('# operator knows better');
    const back = parseInventory(text, 'dc1.yaml');
    const leaf1 = back.devices.find((d) => d.name === 'leaf1');
    expect(leaf1).toMatchObject({ pipeline: 'openconfig', capacity: { aclEntries: 512 }, mgmt: { gnmi: { port: 6030 } } });
    expect(back.devices.find((d) => d.name === 'host1')?.mgmt.ssh).toMatchObject({ user: 'admin', hostKey: 'ssh-ed25519 AAAAtest' });
    expect(back.endpoints.map((e) => e.name)).toEqual(['web-1']);
    // A second update finds nothing new.
    const again = updateFabric(text, 'dc1.yaml', mergeFacts(sample()));
    expect(again.report).toEqual({ devices: [], links: [], fields: [] });
  });

  it('refuses to update a containerlab file, and writes nothing when the result does not load', () => {
    const clab = 'name: x\ntopology:\n  nodes:\n    a: {kind: linux}\n';
    expect(() => updateFabric(clab, 'x.clab.yml', mergeFacts(sample()))).toThrow(/not a Weft fabric/);
    const out = join(dir, 'bad.yaml');
    expect(() => writeFabricFile(out, 'apiVersion: weft.dev/v1\nkind: Fabric\nmetadata: {name: x}\nspec:\n  devices:\n    - {name: s, kind: switch}\n')).toThrow(InputError);
    expect(() => readFileSync(out)).toThrow();
  });
});
