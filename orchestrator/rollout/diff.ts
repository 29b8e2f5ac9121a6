// What a rollout of a bundle would change against what the fabric runs (the
// kept bundle each device's state names): per device unchanged, changed,
// added or removed, and for a changed device what its artefacts gain and lose
// in the target's own terms (host map entries, P4 table writes, OpenConfig
// acl entries).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TargetName } from '../../targets/contract.ts';
import { readHostEntries } from '../../targets/host/share.ts';

type HostEntries = ReturnType<typeof readHostEntries>;
import { diffAcl, readDeviceDir } from '../../targets/openconfig/driver.ts';
import { resolveDefinedSets, type AclConfig } from '../../targets/openconfig/model.ts';
import { diffEntries, readDeviceArtefacts } from '../../targets/p4/driver.ts';
import type { Bundle } from '../compile/bundle.ts';
import type { ManifestDevice } from '../compile/manifest.ts';
import type { RolloutState } from './rollout.ts';

export interface Counts {
  added: number;
  removed: number;
}

export type ArtefactDiff =
  | { kind: 'host'; defaultAction?: { from: string; to: string }; rules: Counts; maps: Record<string, Counts> }
  | { kind: 'p4'; inserted: number; modified: number; deleted: number }
  | { kind: 'openconfig'; entries: Counts; details: string[] };

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
      artefacts?: ArtefactDiff;
    };

/** Entries of `a` not in `b`, counted with multiplicity. */
function missingFrom(a: string[], b: string[]): number {
  const left = new Map<string, number>();
  for (const k of b) left.set(k, (left.get(k) ?? 0) + 1);
  let n = 0;
  for (const k of a) {
    const c = left.get(k) ?? 0;
    if (c > 0) left.set(k, c - 1);
    else n++;
  }
  return n;
}

function counts(before: string[], after: string[]): Counts {
  return { added: missingFrom(after, before), removed: missingFrom(before, after) };
}

const keyOf = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));

function hostDiff(before: HostEntries, after: HostEntries): ArtefactDiff {
  const maps: Record<string, Counts> = {};
  for (const name of [...new Set([...Object.keys(before.maps), ...Object.keys(after.maps)])].sort()) {
    const c = counts(before.maps[name] ?? [], after.maps[name] ?? []);
    if (c.added || c.removed) maps[name] = c;
  }
  return {
    kind: 'host',
    defaultAction: before.defaultAction !== after.defaultAction ? { from: before.defaultAction, to: after.defaultAction } : undefined,
    rules: counts(before.rules.map(keyOf), after.rules.map(keyOf)),
    maps,
  };
}

/** Entries as the device programs them: a changed set member shows as changed entries. */
function aclEntries(c: AclConfig): string[] {
  return resolveDefinedSets(c).sets.flatMap((s) => s.entries.map((e) => `${s.name} ${s.type} ${keyOf(e)}`));
}

async function artefactDiff(target: TargetName, beforeDir: string, afterDir: string): Promise<ArtefactDiff | undefined> {
  switch (target) {
    case 'host':
    case 'dpu': {
      const read = (d: string): HostEntries | undefined => (existsSync(join(d, 'maps.json')) ? readHostEntries(d) : undefined);
      const [b, a] = [read(beforeDir), read(afterDir)];
      return b && a ? hostDiff(b, a) : undefined;
    }
    case 'p4': {
      const updates = diffEntries((await readDeviceArtefacts(beforeDir)).entries, (await readDeviceArtefacts(afterDir)).entries);
      const n = (t: string): number => updates.filter((u) => u.type === t).length;
      return { kind: 'p4', inserted: n('INSERT'), modified: n('MODIFY'), deleted: n('DELETE') };
    }
    case 'openconfig': {
      const [b, a] = [(await readDeviceDir(beforeDir)).acl, (await readDeviceDir(afterDir)).acl];
      return { kind: 'openconfig', entries: counts(aclEntries(b), aclEntries(a)), details: diffAcl(b, a) };
    }
  }
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
      artefacts: old && oldMd && oldMd.target === md.target ? await artefactDiff(md.target, old.deviceDir(md.name), wanted.deviceDir(md.name)) : undefined,
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

function countsText(c: Counts): string {
  return `+${c.added} -${c.removed}`;
}

export function formatArtefacts(a: ArtefactDiff): string {
  switch (a.kind) {
    case 'host': {
      const parts = [`rules ${countsText(a.rules)}`, ...Object.entries(a.maps).map(([m, c]) => `${m} ${countsText(c)}`)];
      if (a.defaultAction) parts.unshift(`default ${a.defaultAction.from} -> ${a.defaultAction.to}`);
      return `maps.json: ${parts.join(', ')}`;
    }
    case 'p4':
      return `table entries: ${a.inserted} inserted, ${a.modified} modified, ${a.deleted} deleted`;
    case 'openconfig':
      return `acl entries ${countsText(a.entries)}${a.details.length ? `; ${a.details.join('; ')}` : ''}`;
  }
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
        return `${head} ${d.from.slice(0, 12)} -> ${d.to.slice(0, 12)}  ${d.artefacts ? formatArtefacts(d.artefacts) : `files ${d.files.join(', ')} (applied bundle no longer kept)`}`;
    }
  });
  const n = (c: DeviceDiff['change']): number => diffs.filter((d) => d.change === c).length;
  lines.push(`${n('changed')} changed, ${n('added')} added, ${n('removed')} removed, ${n('unchanged')} unchanged`);
  return lines.join('\n');
}
