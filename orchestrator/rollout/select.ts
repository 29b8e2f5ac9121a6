// `--limit`: which devices of a bundle a plan, apply, status or rollback
// touches. A pattern names a device, a glob over device names (`leaf*`), a
// label (`rack=r1`), a device kind (`switch`) or a target (`p4`); a list
// separated by commas selects the union. A pattern that selects nothing is
// an error, so a typo never turns into an empty rollout.

import type { Device } from '../../inventory/model.ts';
import type { TargetName } from '../../targets/contract.ts';

export class SelectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelectionError';
  }
}

export interface Selectable {
  device: Device;
  target: TargetName;
}

function globRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

function matches(pattern: string, d: Selectable): boolean {
  const eq = pattern.indexOf('=');
  if (eq > 0) return d.device.labels[pattern.slice(0, eq)] === pattern.slice(eq + 1);
  if (pattern === d.device.kind || pattern === d.target) return true;
  return /[*?]/.test(pattern) ? globRegExp(pattern).test(d.device.name) : pattern === d.device.name;
}

/** The names selected by `limit` (undefined: every device). */
export function selectDevices(limit: string | undefined, devices: Selectable[]): Set<string> {
  if (limit === undefined) return new Set(devices.map((d) => d.device.name));
  const patterns = limit.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (patterns.length === 0) throw new SelectionError('--limit is empty (give DEVICE, a glob such as leaf*, a label key=value, a kind or a target)');
  const out = new Set<string>();
  for (const p of patterns) {
    const hit = devices.filter((d) => matches(p, d));
    if (hit.length === 0) {
      const names = devices.map((d) => d.device.name);
      throw new SelectionError(
        `--limit "${p}" selects no device (devices: ${names.slice(0, 10).join(', ')}${names.length > 10 ? `, ... ${names.length - 10} more` : ''}; also valid: a glob such as leaf*, a label key=value, a kind host|dpu|smartnic|switch, a target host|dpu|p4|openconfig)`,
      );
    }
    for (const d of hit) out.add(d.device.name);
  }
  return out;
}
