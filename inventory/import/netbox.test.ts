// `weft import netbox` on realistic REST API output (NetBox 4 field shapes,
// a paginated resource, a NetBox 3.2-style cable): the written fabric.yaml
// parses with Weft's own reader and holds exactly the devices, links and
// endpoints the mapping promises; what is left out is a warning with its
// position; bad input is refused with file:line:col.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../orchestrator/diagnostics.ts';
import { formatIp } from '../../orchestrator/net/ip.ts';
import { parseFabric } from '../load.ts';
import { importNetbox } from './netbox.ts';

const DC1 = 'test/fixtures/import/netbox-dc1';

describe('weft import netbox', () => {
  it('maps roles, tags, cables and IP addresses to devices, links and endpoints', () => {
    const r = importNetbox(DC1, {});
    const f = parseFabric(r.text, 'fabric.yaml');
    expect(f.devices.map((d) => [d.name, d.kind, d.pipeline ?? d.profile ?? '', d.mgmt.address])).toEqual([
      ['leaf1', 'switch', 'p4', '172.20.20.11'],
      ['leaf2', 'switch', 'openconfig', '172.20.20.12'],
      ['host1', 'host', '', '172.20.20.21'],
      ['host2', 'host', '', '172.20.20.22'],
      ['dpu2', 'dpu', 'bluefield', '172.20.20.32'],
    ]);
    expect(f.devices.find((d) => d.name === 'dpu2')?.attachedTo).toBe('host2');
    expect(f.devices.find((d) => d.name === 'host1')?.labels).toEqual({ site: 'dc1', tenant: 'shop', role: 'server', env: 'prod' });
    expect(f.links.map((l) => `${l.a.device}:${l.a.port} ${l.b.device}:${l.b.port}`)).toEqual([
      'leaf1:Ethernet1 host1:eth1',
      'leaf2:Ethernet1 dpu2:p1',
      'host2:eth1 dpu2:p0',
      'leaf1:Ethernet3 host1:eth2',
      'leaf1:Ethernet2 leaf2:Ethernet2',
    ]);
    expect(f.endpoints.map((e) => [e.name, e.host ?? `${e.attach?.device}:${e.attach?.port}`, e.addresses.map((a) => formatIp(a.family, a.value)).join(','), e.labels.app ?? e.labels.zone])).toEqual([
      ['host1-eth1', 'host1', '10.0.1.11,fd00:1::11', 'web'],
      ['host1-eth2', 'host1', '10.0.1.12', 'db'],
      ['host2-eth1', 'host2', '10.0.2.21', 'api'],
      ['fw1', 'leaf2:Ethernet5', '10.0.9.1', 'edge'],
    ]);
    expect(r.counts).toEqual({ devices: 5, links: 5, endpoints: 4 });
    // Every entry names the NetBox object it came from.
    expect(r.text).toContain('# NetBox device leaf1 (id 1) at test/fixtures/import/netbox-dc1/devices.json:6:5');
    expect(r.text).toContain('# NetBox cable 7 at test/fixtures/import/netbox-dc1/cables.json:');
    expect(r.text).toContain('# NetBox IP address 10.0.9.1/24 (id 920) at test/fixtures/import/netbox-dc1/ip-addresses.json:');
    expect(r.warnings.map((w) => `${w.code} ${w.span?.file.replace(`${DC1}/`, '')}:${w.span?.line}`)).toEqual([
      'device-status devices.json:203',
      'unknown-role devices.json:632',
      'cable-status cables.json:336',
      'address-status ip-addresses.json:354',
      'unsupported-assignment ip-addresses.json:472',
    ]);
  });

  it('follows the options file: a site role becomes an endpoint, mgmt address order changes', () => {
    const r = importNetbox(DC1, { optionsFile: join(DC1, 'netbox-import.yaml'), name: 'dc1' });
    const f = parseFabric(r.text, 'fabric.yaml');
    expect(f.name).toBe('dc1');
    expect(r.warnings.map((w) => w.code)).not.toContain('unknown-role');
    expect(r.warnings.map((w) => w.code)).toContain('renamed-device');
    // leaf1 has only an OOB address, leaf2 only a primary one: both still get one.
    expect(f.devices.map((d) => d.mgmt.address)).toEqual(['172.20.20.11', '172.20.20.12', '172.20.20.21', '172.20.20.22', '172.20.20.32']);
  });

  it('refuses missing pages, malformed JSON and a bad options file with file:line:col', () => {
    const errors = (fn: () => unknown): string[] => {
      try {
        fn();
      } catch (e) {
        if (e instanceof InputError) return e.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.span?.line}:${d.span?.col}`);
        throw e;
      }
      return [];
    };
    expect(errors(() => importNetbox('test/fixtures/import/bad-netbox/missing-page', {}))).toEqual(['missing-pages 2:12']);
    expect(errors(() => importNetbox('test/fixtures/import/bad-netbox/not-json', {}))[0]).toBe('json-syntax 5:3');
    expect(errors(() => importNetbox(DC1, { optionsFile: 'test/fixtures/import/bad-netbox/options.yaml' }))).toEqual(['bad-option 2:9']);
    expect(errors(() => importNetbox('test/fixtures/import/no-such-dir', {}))).toEqual(['not-a-directory 1:1']);
  });
});
