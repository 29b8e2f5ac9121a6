// Parsing what the SSH facts commands print: `ip -j link`, `ip -j addr` and
// /etc/os-release (the lab test runs them for real).

import { describe, expect, it } from 'vitest';
import { addressesFromIpAddr, interfacesFromIpLink, parseOsRelease } from './ssh.ts';

describe('ssh facts parsing', () => {
  it('reads interfaces from ip -j link: MACs of Ethernet links only, operstate', () => {
    const link = JSON.stringify([
      { ifindex: 1, ifname: 'lo', operstate: 'UNKNOWN', link_type: 'loopback', address: '00:00:00:00:00:00' },
      { ifindex: 2, ifname: 'eth1', operstate: 'UP', link_type: 'ether', address: '0A:1b:2C:3d:4E:5f' },
      { ifindex: 3, ifname: 'br0', operstate: 'DOWN', link_type: 'ether', address: '02:00:00:00:00:01' },
    ]);
    expect(interfacesFromIpLink(link)).toEqual([
      { index: 1, name: 'lo', up: false },
      { index: 2, name: 'eth1', mac: '0a:1b:2c:3d:4e:5f', up: true },
      { index: 3, name: 'br0', mac: '02:00:00:00:00:01', up: false },
    ]);
  });

  it('reads every address of ip -j addr, both families, once', () => {
    const addr = JSON.stringify([
      { ifname: 'lo', addr_info: [{ local: '127.0.0.1' }, { local: '::1' }] },
      { ifname: 'mgmt0', addr_info: [{ local: '172.20.30.4' }] },
      { ifname: 'eth1', addr_info: [{ local: 'fe80::1' }, { local: '172.20.30.4' }] },
      { ifname: 'eth2' },
    ]);
    expect(addressesFromIpAddr(addr)).toEqual(['127.0.0.1', '172.20.30.4', '::1', 'fe80::1']);
  });

  it('reads os-release, quoted or not', () => {
    expect(parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID=\'12\'\n# comment\n\nbad line\n')).toEqual({
      PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)',
      ID: 'debian',
      VERSION_ID: '12',
    });
  });
});
