// `weft status`: asks every device what it runs through its target's driver
// (agent status over SSH, P4Runtime Read of entries and pipeline, gNMI Get of
// /acl) and compares it with what it should run: the given bundle, or else
// the kept bundle the state names for that device. Per device: in sync,
// drifted (with the entry-level differences) or unreachable.

import type { TargetName, Transport } from '../../targets/contract.ts';
import type { Bundle } from '../compile/bundle.ts';
import { artefactsOf, contextMaker, deviceHandles, inPool, message, DEFAULT_PARALLEL, type RolloutState } from './rollout.ts';

export interface DeviceStatus {
  device: string;
  target: TargetName;
  transport: Transport;
  state: 'in-sync' | 'drifted' | 'unreachable' | 'unknown';
  /** The generation it should run. */
  wanted?: string;
  /** Entries (or rules) it runs, when read. */
  entries?: number;
  differences: string[];
  detail?: string;
}

export interface StatusOptions {
  /** The fabric's devices and their drivers; what each should run comes from `wanted` or the state. */
  fabric: Bundle;
  /** Compare every device with this bundle (undefined: with the kept bundle its state names). */
  wanted?: Bundle;
  state: RolloutState;
  keptBundle: (digest: string) => Promise<Bundle | undefined>;
  inventoryPath: string;
  identity?: string;
  timeoutMs?: number;
  parallel?: number;
  selected?: Set<string>;
}

export async function readStatus(opts: StatusOptions): Promise<DeviceStatus[]> {
  const handles = (await deviceHandles(opts.fabric)).filter((h) => !opts.selected || opts.selected.has(h.device.name));
  const ctxOf = contextMaker(opts);
  const kept = new Map<string, Promise<Bundle | undefined>>();
  const keptOnce = (digest: string): Promise<Bundle | undefined> => {
    if (!kept.has(digest)) kept.set(digest, opts.keptBundle(digest));
    return kept.get(digest) as Promise<Bundle | undefined>;
  };
  return inPool(handles, opts.parallel ?? DEFAULT_PARALLEL, async (h): Promise<DeviceStatus> => {
    const name = h.device.name;
    const base = { device: name, target: h.target, transport: h.driver.transport, differences: [] as string[] };
    const recorded = opts.state.devices[name];
    const source = opts.wanted ?? (recorded?.bundle ? await keptOnce(recorded.bundle) : undefined);
    if (!source || !source.manifest.devices.some((d) => d.name === name)) {
      return { ...base, state: 'unknown', detail: recorded ? `the bundle of its recorded generation ${recorded.generation.slice(0, 12)} is no longer kept` : 'nothing applied yet (give --policy or --bundle to compare)' };
    }
    const art = artefactsOf(source, name);
    try {
      const rb = await h.driver.readBack(ctxOf(h.device), art);
      return { ...base, state: rb.differences.length ? 'drifted' : 'in-sync', wanted: art.generation, entries: rb.entries, differences: rb.differences };
    } catch (e) {
      return { ...base, state: 'unreachable', wanted: art.generation, detail: message(e) };
    }
  });
}

export function formatStatus(rows: DeviceStatus[]): string {
  const lines: string[] = [];
  for (const r of rows) {
    lines.push(`  ${r.device.padEnd(12)} ${r.target.padEnd(10)} ${r.state.padEnd(11)} ${r.wanted ? `wanted ${r.wanted.slice(0, 12)}` : ''}${r.entries !== undefined ? `  ${r.entries} entries` : ''}${r.detail ? `  ${r.detail}` : ''}`);
    for (const d of r.differences.slice(0, 10)) lines.push(`      ${d}`);
    if (r.differences.length > 10) lines.push(`      ... ${r.differences.length - 10} more`);
  }
  const n = (s: DeviceStatus['state']): number => rows.filter((r) => r.state === s).length;
  lines.push(`${n('in-sync')} in sync, ${n('drifted')} drifted, ${n('unreachable')} unreachable${n('unknown') ? `, ${n('unknown')} unknown` : ''}`);
  return lines.join('\n');
}
