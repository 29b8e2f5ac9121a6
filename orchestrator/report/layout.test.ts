// The report's layered layout: bands by role (switch tiers by distance from
// the edge), lower bands ordered under their neighbours, and no overlap at
// a thousand devices.

import { describe, expect, it } from 'vitest';
import type { Device, DeviceKind, Endpoint, Fabric, Link } from '../../inventory/model.ts';
import { layoutFabric, NODE_H, NODE_W, type Layout } from './layout.ts';

const SPAN = { file: 'fabric.yaml', line: 1, col: 1 };

function fabricOf(devices: [string, DeviceKind][], links: [string, string][], unmanaged: [string, string][] = []): Fabric {
  const ports = new Map<string, number>();
  const port = (d: string): string => {
    const n = (ports.get(d) ?? 0) + 1;
    ports.set(d, n);
    return `eth${n}`;
  };
  const ds: Device[] = devices.map(([name, kind]) => ({ name, kind, mgmt: {}, labels: {}, span: SPAN, ...(kind === 'switch' ? { pipeline: 'p4' as const } : {}) }));
  const ls: Link[] = links.map(([a, b]) => ({ a: { device: a, port: port(a) }, b: { device: b, port: port(b) }, span: SPAN }));
  const eps: Endpoint[] = unmanaged.map(([name, sw]) => ({ name, attach: { device: sw, port: port(sw) }, addresses: [], labels: {}, span: SPAN }));
  return { file: 'fabric.yaml', name: 'f', devices: ds, links: ls, endpoints: eps, digest: '' };
}

function overlaps(l: Layout): string[] {
  const out: string[] = [];
  const sorted = [...l.nodes].sort((a, b) => a.y - b.y || a.x - b.x);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1];
    const b = sorted[i];
    if (a.y === b.y && b.x < a.x + NODE_W) out.push(`${a.name} and ${b.name}`);
  }
  for (const n of l.nodes) if (n.x < 0 || n.y < 0 || n.x + NODE_W > l.width || n.y + NODE_H > l.height) out.push(`${n.name} outside the drawing`);
  return out;
}

describe('layoutFabric', () => {
  it('puts switch tiers above leaves, then DPUs, hosts and unmanaged endpoints, each under its neighbours', () => {
    const f = fabricOf(
      [
        ['super1', 'switch'],
        ['spine1', 'switch'],
        ['spine2', 'switch'],
        ['leafA', 'switch'],
        ['leafB', 'switch'],
        ['host-z', 'host'],
        ['host-a', 'host'],
        ['host-m', 'host'],
        ['dpu1', 'dpu'],
      ],
      [
        ['super1', 'spine1'],
        ['super1', 'spine2'],
        ['spine1', 'leafA'],
        ['spine1', 'leafB'],
        ['spine2', 'leafA'],
        ['spine2', 'leafB'],
        ['host-z', 'leafA'],
        ['host-a', 'leafB'],
        ['host-m', 'dpu1'],
        ['dpu1', 'leafA'],
      ],
      [['nas', 'leafB']],
    );
    const l = layoutFabric(f);
    expect(l.bands.map((b) => b.label)).toEqual(['spines', 'tier 2 switches', 'leaves', 'DPUs', 'hosts', 'unmanaged endpoints']);
    const node = (n: string) => l.nodes.find((x) => x.name === n)!;
    expect([node('super1').tier, node('spine1').tier, node('leafA').tier]).toEqual([3, 2, 1]);
    expect(node('super1').y).toBeLessThan(node('spine1').y);
    expect(node('spine1').y).toBeLessThan(node('leafA').y);
    expect(node('leafA').y).toBeLessThan(node('dpu1').y);
    expect(node('dpu1').y).toBeLessThan(node('host-a').y);
    expect(node('host-a').y).toBeLessThan(node('nas').y);
    // Hosts follow their neighbours above, whatever their names: host-z (on leafA, left) and
    // host-m (behind dpu1, centred as the only DPU) come before host-a (on leafB, right).
    const hosts = l.nodes.filter((n) => n.role === 'host').sort((a, b) => a.x - b.x).map((n) => n.name);
    expect(hosts).toEqual(['host-z', 'host-m', 'host-a']);
    expect(l.edges).toHaveLength(f.links.length + 1);
    expect(overlaps(l)).toEqual([]);
  });

  it('draws containerlab bridges between the switches and the hosts behind them', () => {
    const f = fabricOf([['srl1', 'switch'], ['srv1', 'host'], ['srv2', 'host']], [['srv1', 'srl1']]);
    f.bridges = [{ name: 'br1', labels: {}, span: SPAN, links: [{ a: { device: 'srv2', port: 'eth1' }, b: { device: 'br1', port: 'eth1' }, span: SPAN }, { a: { device: 'br1', port: 'eth2' }, b: { device: 'srl1', port: 'e1-2' }, span: SPAN }] }];
    const l = layoutFabric(f);
    expect(l.bands.map((b) => b.label)).toEqual(['switches', 'bridges', 'hosts']);
    expect(l.edges).toEqual([['srv1', 'srl1'], ['srv2', 'br1'], ['br1', 'srl1']]);
    expect(l.nodes.find((n) => n.name === 'br1')!.role).toBe('bridge');
  });

  it('lays out a thousand devices in wrapped bands without overlap', () => {
    const devices: [string, DeviceKind][] = [];
    const links: [string, string][] = [];
    const unmanaged: [string, string][] = [];
    for (let s = 0; s < 4; s++) devices.push([`spine${s}`, 'switch']);
    for (let i = 0; i < 40; i++) {
      devices.push([`leaf${i}`, 'switch']);
      for (let s = 0; s < 4; s++) links.push([`leaf${i}`, `spine${s}`]);
      unmanaged.push([`box${i}`, `leaf${i}`]);
    }
    for (let h = 0; h < 936; h++) {
      devices.push([`host${h}`, 'host']);
      links.push([`host${h}`, `leaf${h % 40}`]);
    }
    for (let d = 0; d < 20; d++) {
      devices.push([`dpu${d}`, 'dpu']);
      links.push([`dpu${d}`, `leaf${d}`]);
    }
    const l = layoutFabric(fabricOf(devices, links, unmanaged));
    expect(l.nodes).toHaveLength(1040);
    expect(new Set(l.nodes.map((n) => n.name)).size).toBe(1040);
    expect(overlaps(l)).toEqual([]);
    // Wrapped, not one 100,000-pixel row: the drawing stays within a few screens each way.
    expect(l.width).toBeLessThan(6000);
    expect(l.height).toBeLessThan(2500);
    const hostBand = l.bands.find((b) => b.label === 'hosts')!;
    expect(hostBand.height).toBeGreaterThan(10 * NODE_H);
  });
});
