// --limit: names, globs, labels, kinds and targets select devices; a pattern
// that selects nothing is an error naming what is valid.

import { describe, expect, it } from 'vitest';
import type { Device } from '../../inventory/model.ts';
import { selectDevices, SelectionError, type Selectable } from './select.ts';

const span = { file: 'fabric.yaml', line: 1, col: 1 };
const dev = (name: string, kind: Device['kind'], target: Selectable['target'], labels: Record<string, string> = {}): Selectable => ({
  device: { name, kind, mgmt: {}, labels, span } as unknown as Device,
  target,
});
const fleet = [dev('leaf1', 'switch', 'p4', { rack: 'r1' }), dev('leaf2', 'switch', 'openconfig', { rack: 'r2' }), dev('host1', 'host', 'host', { rack: 'r1' }), dev('dpu1', 'dpu', 'dpu')];
const names = (limit: string | undefined): string[] => [...selectDevices(limit, fleet)].sort();

describe('selectDevices', () => {
  it('selects by name, glob, label, kind and target, and the union of a list', () => {
    expect(names(undefined)).toEqual(['dpu1', 'host1', 'leaf1', 'leaf2']);
    expect(names('leaf2')).toEqual(['leaf2']);
    expect(names('leaf*')).toEqual(['leaf1', 'leaf2']);
    expect(names('?pu1')).toEqual(['dpu1']);
    expect(names('rack=r1')).toEqual(['host1', 'leaf1']);
    expect(names('switch')).toEqual(['leaf1', 'leaf2']);
    expect(names('openconfig')).toEqual(['leaf2']);
    expect(names('host1, dpu')).toEqual(['dpu1', 'host1']);
    // A glob's dot is a dot, not any character.
    expect(() => names('leaf.')).toThrow(SelectionError);
  });

  it('refuses a pattern that selects nothing, and an empty list', () => {
    expect(() => names('rack=r9')).toThrow(/--limit "rack=r9" selects no device \(devices: leaf1, leaf2, host1, dpu1; also valid: a glob/);
    expect(() => names(' , ')).toThrow(/--limit is empty/);
  });
});
