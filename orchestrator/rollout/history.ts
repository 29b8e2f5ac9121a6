// Rollout history: every bundle applied in full is kept beside the rollout
// state (bundles/<manifest digest>/), so `weft rollback` can push an earlier
// one through the same apply path, a failed apply can restore the devices it
// had already changed, and `weft diff` can compare against what runs. Only
// the last KEEP_GENERATIONS are kept, plus any a device still runs.

import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { MANIFEST_FILE, readBundle, type Bundle } from '../compile/bundle.ts';
import { sha256 } from '../compile/manifest.ts';
import type { RolloutState } from './rollout.ts';

export const KEEP_GENERATIONS = 3;

/** A bundle's generation: the sha256 of its manifest, which names every artefact's digest. */
export function bundleDigest(bundle: Bundle): string {
  return sha256(readFileSync(join(bundle.dir, MANIFEST_FILE)));
}

/** Where the kept bundles of a state file live. */
export function historyDir(statePath: string): string {
  return join(dirname(resolve(statePath)), 'bundles');
}

export function keptBundleDir(statePath: string, digest: string): string {
  return join(historyDir(statePath), digest);
}

/**
 * Kept bundles this process has read, by directory. A kept bundle never
 * changes (it is copied beside and renamed into place, under its manifest's
 * digest), and `weft status` asks for one per device.
 */
const keptRead = new Map<string, Promise<Bundle>>();

/** A kept bundle, read and checked like any other (once per process); undefined when it is no longer kept. */
export async function readKept(statePath: string, digest: string): Promise<Bundle | undefined> {
  const dir = keptBundleDir(statePath, digest);
  if (!existsSync(join(dir, MANIFEST_FILE))) return undefined;
  let bundle = keptRead.get(dir);
  if (!bundle) {
    bundle = readBundle(dir);
    keptRead.set(dir, bundle);
  }
  return bundle;
}

/**
 * Copies a bundle into the history (unless it is there already) before a run
 * starts, so a crashed run can be resumed or undone even when the bundle was
 * compiled into a temporary directory. Returns its digest.
 */
export function keepBundle(statePath: string, bundle: Bundle): string {
  const digest = bundleDigest(bundle);
  const dest = keptBundleDir(statePath, digest);
  if (resolve(bundle.dir) !== dest && !existsSync(join(dest, MANIFEST_FILE))) {
    // Copy beside, then rename: a half-copied bundle is never taken for a kept one.
    const tmp = `${dest}.${process.pid}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    copyTree(bundle.dir, tmp);
    renameSync(tmp, dest);
  }
  return digest;
}

/**
 * Copies a directory of plain files and directories (a bundle holds nothing
 * else). fs.cpSync stats every source and destination path several times,
 * which for a thousand-device bundle cost the run seconds of CPU.
 */
function copyTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    const [src, dst] = [join(from, e.name), join(to, e.name)];
    if (e.isDirectory()) copyTree(src, dst);
    else if (e.isFile()) copyFileSync(src, dst);
    else throw new Error(`${src}: not a file or directory; a bundle holds only those`);
  }
}

/**
 * Records a bundle applied without failure: copies it into the history
 * (unless it is already there), makes it the current generation when every
 * device runs it, and
 * drops the generations beyond the last KEEP_GENERATIONS no device runs.
 */
export function recordGeneration(statePath: string, state: RolloutState, bundle: Bundle, how: 'apply' | 'rollback'): string {
  const digest = keepBundle(statePath, bundle);
  const gens = (state.generations ?? []).filter((g) => g.digest !== digest);
  gens.push({ digest, policy: bundle.manifest.policy.name, at: new Date().toISOString(), how });
  // Current only once every device runs it (a --limit run leaves the others on what they ran).
  if (bundle.manifest.devices.every((d) => state.devices[d.name]?.generation === d.generation)) state.current = digest;
  const inUse = new Set(Object.values(state.devices).map((d) => d.bundle));
  const keep = new Set(gens.slice(-KEEP_GENERATIONS).map((g) => g.digest));
  state.generations = gens.filter((g) => keep.has(g.digest) || inUse.has(g.digest));
  const kept = new Set(state.generations.map((g) => g.digest));
  for (const name of readdirSync(historyDir(statePath))) {
    if (/^[0-9a-f]{64}$/.test(name) && !kept.has(name)) rmSync(join(historyDir(statePath), name), { recursive: true, force: true });
  }
  return digest;
}

/**
 * The generation `weft rollback` goes to: the one named by a digest prefix,
 * else the one applied before the current one (so a second rollback undoes
 * the first, as `cd -` does).
 */
export function rollbackTarget(state: RolloutState, to: string | undefined): { digest: string } | { error: string } {
  const gens = state.generations ?? [];
  if (gens.length === 0) return { error: 'no generation is kept yet (apply a policy first)' };
  if (to !== undefined) {
    const hits = gens.filter((g) => g.digest.startsWith(to.toLowerCase()));
    if (hits.length === 1) return { digest: hits[0].digest };
    const known = gens.map((g) => `${g.digest.slice(0, 12)} (${g.policy})`).join(', ');
    return { error: hits.length === 0 ? `no kept generation starts with "${to}" (kept: ${known})` : `"${to}" names more than one kept generation (kept: ${known})` };
  }
  const before = gens.filter((g) => g.digest !== state.current);
  if (before.length === 0) return { error: 'only the current generation is kept; there is nothing to roll back to' };
  return { digest: before[before.length - 1].digest };
}
