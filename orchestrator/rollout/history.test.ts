// Rollout history and diff without devices: kept bundles are pruned to the
// last three (never one a device still runs), rollback picks the previous or
// a named generation, and diffRollout names each device's change in its
// target's terms against the kept bundle it runs.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { readBundle, type Bundle } from '../compile/bundle.ts';
import { compileBundle } from '../compile/driver.ts';
import { diffRollout } from './diff.ts';
import { bundleDigest, KEEP_GENERATIONS, keptBundleDir, readKept, recordGeneration, rollbackTarget } from './history.ts';
import type { RolloutState } from './rollout.ts';

const repo = resolve(import.meta.dirname, '../..');
const inventory = join(repo, 'lab/topologies/two-leaf.clab.yml');
const work = mkdtempSync(join(tmpdir(), 'weft-history-'));
const bundles: Bundle[] = [];

/** Policy i: the lab fixture with one more denied tcp port per step, so every device's artefacts differ. */
async function compileVariant(i: number): Promise<Bundle> {
  const doc = parseYaml(readFileSync(join(repo, 'test/fixtures/lab-two-leaf/policy.yaml'), 'utf8')) as { metadata: { name: string }; spec: { rules: unknown[] } };
  doc.metadata.name = `two-leaf-${i}`;
  for (let k = 0; k < i; k++) doc.spec.rules.push({ name: `deny-${k}`, from: ['any'], to: ['any'], ports: [{ protocol: 'tcp', port: 6000 + k }], action: 'deny' });
  const policyPath = join(work, `policy-${i}.yaml`);
  writeFileSync(policyPath, stringify(doc));
  await compileBundle({ policyPath, inventoryPath: inventory, outDir: join(work, `out-${i}`) });
  return readBundle(join(work, `out-${i}`));
}

/** Marks every device of `b` as running it, as a clean apply does. */
function runAll(state: RolloutState, b: Bundle): void {
  for (const d of b.manifest.devices) state.devices[d.name] = { generation: d.generation, at: 'now', bundle: bundleDigest(b) };
}

beforeAll(async () => {
  for (let i = 0; i < 5; i++) bundles.push(await compileVariant(i));
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('rollout history', () => {
  it('keeps the last three generations, moves a re-applied one to the end, and rolls back like cd -', () => {
    const statePath = join(work, 'h1/rollout.json');
    const state: RolloutState = { fabric: bundles[0].manifest.fabric.name, devices: {} };
    expect(rollbackTarget(state, undefined)).toEqual({ error: 'no generation is kept yet (apply a policy first)' });
    const digests = bundles.map(bundleDigest);
    expect(new Set(digests).size).toBe(5);
    for (const b of bundles.slice(0, 4)) {
      runAll(state, b);
      recordGeneration(statePath, state, b, 'apply');
    }
    expect(state.generations?.map((g) => g.digest)).toEqual(digests.slice(4 - KEEP_GENERATIONS, 4));
    expect(existsSync(keptBundleDir(statePath, digests[0]))).toBe(false);
    for (const d of digests.slice(1, 4)) expect(existsSync(join(keptBundleDir(statePath, d), 'manifest.json'))).toBe(true);
    expect(state.current).toBe(digests[3]);

    expect(rollbackTarget(state, undefined)).toEqual({ digest: digests[2] });
    expect(rollbackTarget(state, digests[1].slice(0, 10))).toEqual({ digest: digests[1] });
    expect('error' in rollbackTarget(state, digests[0].slice(0, 10))).toBe(true);

    // Rolling back to 2 makes it current; the next rollback goes to 3 again.
    runAll(state, bundles[2]);
    recordGeneration(statePath, state, bundles[2], 'rollback');
    expect(state.generations?.map((g) => `${g.digest} ${g.how}`)).toEqual([`${digests[1]} apply`, `${digests[3]} apply`, `${digests[2]} rollback`]);
    expect(rollbackTarget(state, undefined)).toEqual({ digest: digests[3] });
  });

  it('never drops a generation a device still runs', () => {
    const statePath = join(work, 'h2/rollout.json');
    const state: RolloutState = { fabric: bundles[0].manifest.fabric.name, devices: {} };
    runAll(state, bundles[0]);
    recordGeneration(statePath, state, bundles[0], 'apply');
    // leaf1 stays on generation 0 (say it was offline) while the others move on.
    const leaf1 = state.devices.leaf1;
    for (const b of bundles.slice(1, 5)) {
      runAll(state, b);
      state.devices.leaf1 = leaf1;
      recordGeneration(statePath, state, b, 'apply');
    }
    const digests = bundles.map(bundleDigest);
    expect(state.generations?.map((g) => g.digest)).toEqual([digests[0], digests[2], digests[3], digests[4]]);
    expect(existsSync(keptBundleDir(statePath, digests[1]))).toBe(false);
    expect(existsSync(keptBundleDir(statePath, digests[0]))).toBe(true);
  });
});

describe('diffRollout', () => {
  it('names per device what changes in the terms of each target, and nothing for the running bundle', async () => {
    const statePath = join(work, 'd/rollout.json');
    const state: RolloutState = { fabric: bundles[0].manifest.fabric.name, devices: {} };
    runAll(state, bundles[1]);
    recordGeneration(statePath, state, bundles[1], 'apply');
    const kept = (d: string): Promise<Bundle | undefined> => readKept(statePath, d);

    const same = await diffRollout(bundles[1], state, kept);
    expect(same.map((d) => d.change)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);

    // One more denied port: the P4 table gains entries, the acl gains entries, the host policy map changes.
    const next = await diffRollout(bundles[2], state, kept);
    const by = new Map(next.map((d) => [d.device, d]));
    for (const d of next) expect(d.change, d.device).toBe('changed');
    const art = (name: string) => {
      const d = by.get(name);
      if (d?.change !== 'changed' || !d.artefacts) throw new Error(`${name}: no artefact diff`);
      return d.artefacts;
    };
    const p4 = art('leaf1');
    expect(p4.added).toBeGreaterThan(0);
    expect(p4.summary).toMatch(/^table entries: \d+ inserted/);
    const oc = art('leaf2');
    expect(oc.added).toBeGreaterThan(0);
    expect(oc.summary).toMatch(/^acl entries \+\d+/);
    const host = art('host1');
    expect(host.added).toBeGreaterThan(0);
    expect(host.summary).toMatch(/^maps.json: rules \+[1-9]/);

    // A device the state does not know is added; one it knows that the bundle lacks is removed.
    delete state.devices.host2;
    state.devices.gone = { generation: 'f'.repeat(64), at: 'then' };
    const moved = await diffRollout(bundles[1], state, kept);
    expect(moved.map((d) => `${d.device} ${d.change}`)).toEqual(['leaf1 unchanged', 'leaf2 unchanged', 'host1 unchanged', 'host2 added', 'gone removed']);
  });
});
