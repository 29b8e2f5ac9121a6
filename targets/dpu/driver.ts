// The DPU driver. A DPU or SmartNIC is reached like a host: over SSH, with
// the shipped agent, which installs whatever its profile runs (dpu.json
// says). Reading back goes through the same agent status. Only the diff of
// two generations differs for a NIC prefilter, whose maps are its own: it is
// counted per record file, entry by entry. A NIC prefilter keeps no earlier
// generation to go back to, so only a DPU running the host datapath holds a
// commit-confirmed revert itself.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ArtefactChange, TargetDriver } from '../contract.ts';
import { agentSelfRevert, hostDriver } from '../host/driver.ts';
import { DEVICE_FILE, readDeviceJson } from './device.ts';

const isPrefilter = (dir: string): boolean => existsSync(join(dir, DEVICE_FILE)) && readDeviceJson(dir).attach !== 'dpu-linux';

/** The fixed-size records of every record file maps.json names, as hex strings per map. */
function prefilterRecords(dir: string): Map<string, string[]> {
  const maps = (JSON.parse(readFileSync(join(dir, 'maps.json'), 'utf8')) as { maps: Record<string, { records?: { file: string; count: number } }> }).maps;
  const out = new Map<string, string[]>();
  for (const [name, m] of Object.entries(maps)) {
    if (!m.records || m.records.count === 0) continue;
    const data = readFileSync(join(dir, m.records.file));
    const size = data.length / m.records.count;
    out.set(name, Array.from({ length: m.records.count }, (_, i) => data.toString('hex', i * size, (i + 1) * size)));
  }
  return out;
}

async function diff(beforeDir: string, afterDir: string): Promise<ArtefactChange> {
  if (!isPrefilter(beforeDir) || !isPrefilter(afterDir)) return hostDriver.diff(beforeDir, afterDir);
  const [before, after] = [prefilterRecords(beforeDir), prefilterRecords(afterDir)];
  let added = 0;
  let removed = 0;
  const parts: string[] = [];
  for (const name of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const b = new Set(before.get(name) ?? []);
    const a = new Set(after.get(name) ?? []);
    const plus = [...a].filter((k) => !b.has(k)).length;
    const minus = [...b].filter((k) => !a.has(k)).length;
    added += plus;
    removed += minus;
    if (plus || minus) parts.push(`${name} +${plus} -${minus}`);
  }
  const objectChanged = !readFileSync(join(beforeDir, 'offload.bpf.o')).equals(readFileSync(join(afterDir, 'offload.bpf.o')));
  if (objectChanged) parts.unshift('program rebuilt');
  return { added, removed, modified: objectChanged ? 1 : 0, summary: `NIC prefilter: ${parts.join(', ') || 'no entry changes'}` };
}

export const dpuDriver: TargetDriver = {
  ...hostDriver,
  diff,
  selfRevert: {
    ...agentSelfRevert,
    unsupported: async (_ctx, art) => (isPrefilter(art.deviceDir) ? 'it runs a NIC prefilter, which keeps no earlier generation to go back to' : undefined),
  },
};
