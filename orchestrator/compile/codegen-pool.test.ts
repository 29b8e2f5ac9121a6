// Codegen on worker threads: a fabric large enough for a worker compiles to
// the same bundle, file for file and byte for byte, as on one thread, with
// devices done on both threads; the thread count is checked.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SHAPE_DEFAULTS, shapeYaml } from '../../bench/scenarios.ts';
import { InputError } from '../diagnostics.ts';
import { compileThreads, MIN_DEVICES_PER_WORKER, THREADS_ENV, workersFor } from './codegen-pool.ts';
import { compileBundle, type DeviceTiming } from './driver.ts';
import { fileTree } from '../testing/file-tree.ts';

const work = mkdtempSync(join(tmpdir(), 'weft-pool-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('codegen on worker threads', () => {
  it('writes the same bundle as one thread, with devices done on the worker', async () => {
    const files = shapeYaml('correlated', { ...SHAPE_DEFAULTS, rules: 150, endpoints: 1500, devices: 2 * MIN_DEVICES_PER_WORKER + 4, apps: 100 });
    const policyPath = join(work, 'policy.yaml');
    const inventoryPath = join(work, 'fabric.yaml');
    writeFileSync(policyPath, files.policy);
    writeFileSync(inventoryPath, files.fabric);
    const runs: { dir: string; devices: DeviceTiming[] }[] = [];
    for (const threads of [1, 2]) {
      const devices: DeviceTiming[] = [];
      const dir = join(work, `out-${threads}`);
      await compileBundle({ policyPath, inventoryPath, outDir: dir, threads, onDevice: (d) => devices.push(d) });
      runs.push({ dir, devices });
    }
    const [one, two] = runs;
    const onWorker = two.devices.filter((d) => d.thread === 1).length;
    console.log(`codegen pool: ${two.devices.length} devices, ${onWorker} of them on the worker; ${Object.keys(fileTree(one.dir)).length} files compared`);
    expect(one.devices.every((d) => d.thread === 0)).toBe(true);
    expect(onWorker).toBeGreaterThan(0);
    expect(onWorker).toBeLessThan(two.devices.length);
    expect(fileTree(two.dir)).toEqual(fileTree(one.dir));
  }, 300_000);

  it('takes its thread count from the option, then the environment, and refuses nonsense', () => {
    const saved = process.env[THREADS_ENV];
    try {
      process.env[THREADS_ENV] = '3';
      expect(compileThreads()).toBe(3);
      expect(compileThreads(1)).toBe(1);
      for (const bad of ['0', '-1', '1.5', 'many']) {
        process.env[THREADS_ENV] = bad;
        expect(() => compileThreads()).toThrow(InputError);
        expect(() => compileThreads()).toThrow(new RegExp(`${THREADS_ENV} must be a whole number from 1 to 256, not "${bad}"`));
      }
    } finally {
      if (saved === undefined) delete process.env[THREADS_ENV];
      else process.env[THREADS_ENV] = saved;
    }
    expect(workersFor(MIN_DEVICES_PER_WORKER - 1, 8)).toBe(0);
    expect(workersFor(MIN_DEVICES_PER_WORKER, 8)).toBe(1);
    expect(workersFor(100 * MIN_DEVICES_PER_WORKER, 4)).toBe(3);
    expect(workersFor(100 * MIN_DEVICES_PER_WORKER, 1)).toBe(0);
  });
});
