// Path finding over a hand-built leaf-spine fabric: shortest paths through
// the DPU, never through a host, deterministic among equal-cost spines.

import { describe, expect, it } from 'vitest';
import type { Device, Fabric, Link } from '../../inventory/model.ts';
import { findPath, formatPath, pathToFabric } from './path.ts';

const span = { file: 'fabric.yaml', line: 1, col: 1 };

function fabric(): Fabric {
  const dev = (name: string, kind: Device['kind'], extra: Partial<Device> = {}): Device => ({ name, kind, mgmt: {}, labels: {}, span, ...extra });
  const link = (a: string, b: string): Link => {
    const [ad, ap] = a.split(':');
    const [bd, bp] = b.split(':');
    return { a: { device: ad, port: ap }, b: { device: bd, port: bp }, span };
  };
  return {
    file: 'fabric.yaml',
    name: 'test',
    digest: '',
    devices: [
      dev('spine2', 'switch', { pipeline: 'p4' }),
      dev('spine1', 'switch', { pipeline: 'p4' }),
      dev('leaf1', 'switch', { pipeline: 'p4' }),
      dev('leaf2', 'switch', { pipeline: 'openconfig' }),
      dev('hostA', 'host'),
      dev('hostB', 'host'),
      dev('dpuB', 'dpu', { attachedTo: 'hostB', profile: 'generic' }),
      dev('hostM', 'host'),
    ],
    links: [
      link('leaf1:eth49', 'spine2:eth1'),
      link('leaf1:eth48', 'spine1:eth1'),
      link('leaf2:eth49', 'spine2:eth2'),
      link('leaf2:eth48', 'spine1:eth2'),
      link('hostA:eth1', 'leaf1:eth1'),
      link('hostB:eth1', 'dpuB:pf0'),
      link('dpuB:p0', 'leaf2:eth1'),
      // dual-homed host: must not become a shortcut between the leaves
      link('hostM:eth1', 'leaf1:eth2'),
      link('hostM:eth2', 'leaf2:eth2'),
    ],
    endpoints: [],
  };
}

describe('findPath', () => {
  it('crosses leaf, spine, leaf and the DPU, picking spine1 among equal costs', () => {
    const hops = findPath(fabric(), { device: 'hostA' }, { device: 'hostB' })!;
    expect(formatPath(hops)).toBe('hostA:eth1 -> eth1:leaf1:eth48 -> eth1:spine1:eth2 -> eth48:leaf2:eth1 -> p0:dpuB:pf0 -> eth1:hostB');
  });

  it('starts and ends at switch ports for unmanaged endpoints', () => {
    const hops = findPath(fabric(), { device: 'leaf1', port: 'eth7' }, { device: 'leaf1', port: 'eth8' })!;
    expect(hops).toEqual([{ device: 'leaf1', in: 'eth7', out: 'eth8' }]);
  });

  it('never transits a host', () => {
    const hops = findPath(fabric(), { device: 'leaf1', port: 'eth7' }, { device: 'leaf2', port: 'eth9' })!;
    expect(hops.map((h) => h.device)).toEqual(['leaf1', 'spine1', 'leaf2']);
    // but a dual-homed host reaches either leaf directly
    expect(findPath(fabric(), { device: 'hostM' }, { device: 'leaf2', port: 'eth9' })!.map((h) => h.device)).toEqual(['hostM', 'leaf2']);
  });

  it('reports no path between disconnected devices', () => {
    const f = fabric();
    f.links = f.links.filter((l) => l.a.device !== 'hostA');
    expect(findPath(f, { device: 'hostA' }, { device: 'hostB' })).toBeUndefined();
  });

  it('finds the way from a host to the fabric through its DPU', () => {
    expect(formatPath(pathToFabric(fabric(), { device: 'hostB' })!)).toBe('hostB:eth1 -> pf0:dpuB:p0 -> eth1:leaf2');
  });
});
