// What a rollout of a bundle would change against what the fabric runs (the
// kept bundle each device's state names): per device unchanged, changed,
// added or removed, and for a changed device what its artefacts gain and lose
// in the target's own terms (host map entries, P4 table writes, OpenConfig
// acl entries).

import type { ArtefactChange, TargetName } from '../../targets/contract.ts';
import { targetFor } from '../../targets/registry.ts';
import type { Bundle } from '../compile/bundle.ts';
import type { ManifestDevice } from '../compile/manifest.ts';
import type { RolloutState } from './rollout.ts';

export type DeviceDiff =
  | { device: string; target: TargetName; change: 'unchanged'; generation: string }
  | { device: string; target: TargetName; change: 'added'; generation: string }
  /** target is unknown when no kept bundle describes the device. */
  | { device: string; target?: TargetName; change: 'removed'; generation: string }
  | {
      device: string;
      target: TargetName;
      change: 'changed';
      from: string;
      to: string;
      /** Artefact files (relative to the device directory) added, removed or rewritten. */
      files: string[];
      /** Absent when the applied bundle is no longer kept. */
      artefacts?: ArtefactChange;
    };

/** What the device's target driver says moving between the two directories changes. */
async function artefactDiff(bundle: Bundle, name: string, beforeDir: string, afterDir: string): Promise<ArtefactChange> {
  const device = bundle.fabric.devices.find((d) => d.name === name);
  if (!device) throw new Error(`device ${name} is in the manifest but not in the bundle's inventory`);
  return (await targetFor(device).driver()).diff(beforeDir, afterDir);
}

function fileChanges(before: ManifestDevice, after: ManifestDevice): string[] {
  const b = new Map(before.files.map((f) => [f.path, f.sha256]));
  const a = new Map(after.files.map((f) => [f.path, f.sha256]));
  return [...new Set([...b.keys(), ...a.keys()])].filter((p) => b.get(p) !== a.get(p)).sort();
}

/**
 * Compares `wanted` with what `state` says each device runs; `kept` returns a
 * kept bundle by manifest digest (undefined when it is no longer kept).
 */
export async function diffRollout(wanted: Bundle, state: RolloutState | undefined, kept: (digest: string) => Promise<Bundle | undefined>): Promise<DeviceDiff[]> {
  const out: DeviceDiff[] = [];
  const applied = state?.devices ?? {};
  for (const md of wanted.manifest.devices) {
    const now = applied[md.name];
    if (!now) {
      out.push({ device: md.name, target: md.target, change: 'added', generation: md.generation });
      continue;
    }
    if (now.generation === md.generation) {
      out.push({ device: md.name, target: md.target, change: 'unchanged', generation: md.generation });
      continue;
    }
    const old = now.bundle ? await kept(now.bundle) : undefined;
    const oldMd = old?.manifest.devices.find((d) => d.name === md.name && d.generation === now.generation);
    out.push({
      device: md.name,
      target: md.target,
      change: 'changed',
      from: now.generation,
      to: md.generation,
      files: oldMd ? fileChanges(oldMd, md) : md.files.map((f) => f.path).sort(),
      artefacts: old && oldMd && oldMd.target === md.target ? await artefactDiff(wanted, md.name, old.deviceDir(md.name), wanted.deviceDir(md.name)) : undefined,
    });
  }
  const names = new Set(wanted.manifest.devices.map((d) => d.name));
  for (const [name, now] of Object.entries(applied).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (names.has(name)) continue;
    const old = now.bundle ? await kept(now.bundle) : undefined;
    out.push({ device: name, target: old?.manifest.devices.find((d) => d.name === name)?.target, change: 'removed', generation: now.generation });
  }
  return out;
}

export function formatDiff(diffs: DeviceDiff[]): string {
  const lines = diffs.map((d) => {
    const head = `  ${d.device.padEnd(12)} ${(d.target ?? '?').padEnd(10)} ${d.change.padEnd(9)}`;
    switch (d.change) {
      case 'unchanged':
      case 'added':
      case 'removed':
        return `${head} ${d.generation.slice(0, 12)}`;
      case 'changed':
        return `${head} ${d.from.slice(0, 12)} -> ${d.to.slice(0, 12)}  ${d.artefacts ? d.artefacts.summary : `files ${d.files.join(', ')} (applied bundle no longer kept)`}`;
    }
  });
  const n = (c: DeviceDiff['change']): number => diffs.filter((d) => d.change === c).length;
  lines.push(`${n('changed')} changed, ${n('added')} added, ${n('removed')} removed, ${n('unchanged')} unchanged`);
  return lines.join('\n');
}
