// The compile driver and the bundle it writes: round trip through
// readBundle, determinism of generation digests, and atomicity (a failing
// codegen or bad input leaves the previous bundle intact and no temp dir).

import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Device } from '../../inventory/model.ts';
import type { CodegenInput, Target } from '../../targets/contract.ts';
import { InputError } from '../diagnostics.ts';
import { readBundle } from './bundle.ts';
import { compileBundle } from './driver.ts';
import { ManifestError } from './manifest.ts';
import { fileTree } from '../testing/file-tree.ts';

/**
 * A target whose artefact is the device's placement and the rules placed on
 * it: enough to observe what the driver hands to codegen and writes out.
 */
function recordingTarget(fail?: string): Target {
  return {
    name: 'host',
    capabilities: { ipv6: true, stateful: false, modes: ['exact', 'prefilter'] },
    appliesTo: () => true,
    async codegen(input: CodegenInput) {
      if (input.device.name === fail) throw new Error('simulated codegen failure');
      const rules = input.placement.rules.filter((r) => r.points.some((p) => p.device === input.device.name)).map((r) => r.name);
      return {
        files: [
          { path: 'placement.json', content: JSON.stringify(input.devicePlacement) },
          { path: 'rules/placed.txt', content: rules.join('\n') },
        ],
        notes: [`${rules.length} rules placed`],
        stats: { rules: rules.length },
      };
    },
    async verify() {
      throw new Error('not used here');
    },
    async driver() {
      throw new Error('not used here');
    },
  };
}

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'weft-compile-test-'));
});
afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

const base = { policyPath: 'examples/policy.yaml', inventoryPath: 'examples/fabric.yaml' };
const target = recordingTarget();
const targetFor = (_d: Device) => target;

describe('compileBundle', () => {
  it('writes a bundle that readBundle accepts, with sources, IR and placement', async () => {
    const outDir = join(work, 'out');
    const m = await compileBundle({ ...base, outDir, targetFor });
    expect(m).toMatchObject({ apiVersion: 'weft.dev/v1', kind: 'Bundle', schemaVersion: 1, fabric: { name: 'dc1' }, policy: { name: 'dc1-segmentation' } });
    expect(m.devices.map((d) => d.name)).toContain('dpu3');
    expect(m.devices.find((d) => d.name === 'dpu3')).toMatchObject({ kind: 'dpu', target: 'dpu', mode: 'prefilter' });
    expect(m.devices.find((d) => d.name === 'leaf4')).toMatchObject({ target: 'openconfig', mode: 'exact' });
    expect(readFileSync(join(outDir, 'source/policy.yaml'), 'utf8')).toBe(readFileSync('examples/policy.yaml', 'utf8'));
    expect(existsSync(join(outDir, 'source/inventory.yaml'))).toBe(true);
    const b = await readBundle(outDir);
    expect(b.manifest).toEqual(m);
    expect(b.policy.rules.map((r) => r.name)).toContain('web-to-api');
    expect(b.ir.identities.length).toBeGreaterThan(1);
    expect(b.placement.devices.map((d) => d.device)).toEqual(m.devices.map((d) => d.name));
    expect(readFileSync(join(b.deviceDir('host1'), 'rules/placed.txt'), 'utf8')).toContain('web-to-api');
    expect(readdirSync(work)).toEqual(['out']);
  });

  it('is deterministic: recompiling gives the same manifest, and only a changed device gets a new generation', async () => {
    const outDir = join(work, 'out');
    const first = await compileBundle({ ...base, outDir, targetFor });
    const second = await compileBundle({ ...base, outDir, targetFor });
    expect(second).toEqual(first);
    // Open a port to db-1 only: host5 (its host) and the hosts of api change; host6 does not.
    const policy = readFileSync('examples/policy.yaml', 'utf8').replace(
      '        - name: db-backup',
      '        - name: api-to-db-metrics\n          from: [api]\n          to: [db]\n          ports: [{protocol: tcp, port: 9187}]\n          action: allow\n        - name: db-backup',
    );
    writeFileSync(join(work, 'policy.yaml'), policy);
    const third = await compileBundle({ ...base, policyPath: join(work, 'policy.yaml'), outDir, targetFor });
    const gen = (m: typeof first, n: string) => m.devices.find((d) => d.name === n)!.generation;
    expect(gen(third, 'host6')).toBe(gen(first, 'host6'));
    expect(gen(third, 'host5')).not.toBe(gen(first, 'host5'));
    expect(third.policy.digest).not.toBe(first.policy.digest);
  });

  it('leaves the previous bundle intact and no temp dir when a codegen fails', async () => {
    const outDir = join(work, 'out');
    await compileBundle({ ...base, outDir, targetFor });
    const before = fileTree(outDir, 'utf8');
    const failing = recordingTarget('host2');
    await expect(compileBundle({ ...base, outDir, targetFor: () => failing })).rejects.toThrow(/compile host2: host codegen: simulated codegen failure/);
    expect(fileTree(outDir, 'utf8')).toEqual(before);
    expect(readdirSync(work)).toEqual(['out']);
  });

  it('tries every device when some are refused, reports all refusals together, and writes nothing', async () => {
    const outDir = join(work, 'out');
    await compileBundle({ ...base, outDir, targetFor });
    const before = fileTree(outDir, 'utf8');
    const refusing: Target = {
      ...target,
      codegen: async (input) => {
        if (input.device.kind !== 'host') return target.codegen(input);
        throw new InputError([{ code: 'capacity-exceeded', severity: 'error', message: `${input.device.name}: too big` }]);
      },
    };
    const seen: { device: string; refused: boolean }[] = [];
    const phases: string[] = [];
    const err = await compileBundle({
      ...base,
      outDir,
      targetFor: () => refusing,
      onDevice: (d) => seen.push({ device: d.device, refused: d.refused !== undefined }),
      onPhase: (t) => phases.push(t.phase),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    const refusedHosts = seen.filter((d) => d.refused).map((d) => d.device);
    expect(refusedHosts.length).toBeGreaterThan(1);
    expect((err as InputError).diagnostics.map((d) => d.message)).toEqual(refusedHosts.map((h) => `${h}: too big`));
    expect(seen.some((d) => !d.refused)).toBe(true);
    expect(phases).toEqual(['parse', 'rules', 'placement', 'budget', 'documents', 'codegen']);
    expect(fileTree(outDir, 'utf8')).toEqual(before);
    expect(readdirSync(work)).toEqual(['out']);
  });

  it('refuses a device whose share is over budget before any codegen, naming it, and writes nothing', async () => {
    const outDir = join(work, 'out');
    let codegens = 0;
    const counting: Target = { ...target, codegen: async (input) => (codegens++, target.codegen(input)) };
    const err = await compileBundle({ ...base, outDir, targetFor: () => counting, maxShareTriples: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    const [d] = (err as InputError).diagnostics;
    expect(d.code).toBe('share-too-large');
    expect(d.message).toMatch(/^device \S+ \(examples\/fabric\.yaml:\d+:\d+\): its share of the policy needs up to [\d,]+ .* triples, more than the budget of 10; largest rules: rule \S+ \(examples\/policy\.yaml:\d+:\d+\)/);
    expect(d.span?.file).toBe('examples/policy.yaml');
    expect(codegens).toBe(0);
    expect(readdirSync(work)).toEqual([]);
  });

  it('writes nothing on bad input, and reports every error with file:line:col', async () => {
    const outDir = join(work, 'out');
    const err = await compileBundle({ ...base, policyPath: 'test/fixtures/bad-policy/policy.yaml', outDir, targetFor }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    const ds = (err as InputError).diagnostics.filter((d) => d.severity === 'error');
    expect(ds.length).toBeGreaterThanOrEqual(3);
    for (const d of ds) expect(d.span?.file).toBe('test/fixtures/bad-policy/policy.yaml');
    expect(readdirSync(work)).toEqual([]);
  });

  it('refuses to replace a directory that is not a bundle', async () => {
    const outDir = join(work, 'src');
    mkdirSync(outDir);
    writeFileSync(join(outDir, 'precious.txt'), 'keep me');
    await expect(compileBundle({ ...base, outDir, targetFor })).rejects.toThrow(/not a Weft bundle/);
    expect(fileTree(outDir, 'utf8')).toEqual({ 'precious.txt': 'keep me' });
    expect(readdirSync(work)).toEqual(['src']);
  });
});

describe('readBundle', () => {
  it('refuses a bundle whose artefact changed after compile', async () => {
    const outDir = join(work, 'out');
    await compileBundle({ ...base, outDir, targetFor });
    writeFileSync(join(outDir, 'devices/leaf1/rules/placed.txt'), 'tampered');
    const e = await readBundle(outDir).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ManifestError);
    expect((e as ManifestError).problems).toEqual(['devices/leaf1/rules/placed.txt changed after compile (sha256 differs)']);
  });

  it('refuses a bundle written by a newer Weft', async () => {
    const outDir = join(work, 'out');
    await compileBundle({ ...base, outDir, targetFor });
    const m = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8'));
    writeFileSync(join(outDir, 'manifest.json'), JSON.stringify({ ...m, schemaVersion: 7 }));
    await expect(readBundle(outDir)).rejects.toMatchObject({ code: 'newer-manifest' });
  });

  it('refuses a directory that is not a bundle, and a copy missing its sources', async () => {
    await expect(readBundle(work)).rejects.toThrow(/is not a Weft bundle/);
    const outDir = join(work, 'out');
    await compileBundle({ ...base, outDir, targetFor });
    const copy = join(work, 'copy');
    cpSync(outDir, copy, { recursive: true });
    rmSync(join(copy, 'source'), { recursive: true });
    await expect(readBundle(copy)).rejects.toThrow(/source\/policy\.yaml is missing from the bundle/);
  });
});
