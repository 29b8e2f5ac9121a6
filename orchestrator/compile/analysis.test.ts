// analysis.json: compile records exactly the warnings `weft validate` reports,
// and readAnalysis refuses a damaged file instead of showing half of it.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHADOWED_RULE, writeShadowedExamplePolicy } from '../testing/shadowed.ts';
import { loadInventory } from '../../inventory/load.ts';
import { analyze } from '../analysis/analyze.ts';
import { buildIr } from '../ir/build.ts';
import { loadPolicy } from '../policy/load.ts';
import { ANALYSIS_FILE, readAnalysis } from './analysis.ts';
import { compileBundle } from './driver.ts';
import { ManifestError } from './manifest.ts';


let work: string;
let policyPath: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'weft-analysis-test-'));
  policyPath = writeShadowedExamplePolicy(work);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('analysis.json', () => {
  it('holds the same warnings as validate, with their spans', async () => {
    const outDir = join(work, 'out');
    const manifest = await compileBundle({ policyPath, inventoryPath: 'examples/fabric.yaml', outDir });
    const policy = loadPolicy(policyPath);
    const fabric = loadInventory('examples/fabric.yaml');
    const expected = analyze(policy, fabric, buildIr(policy, fabric));
    const recorded = readAnalysis(outDir);
    expect(expected.some((d) => d.code === 'shadowed-rule' && d.message.includes(SHADOWED_RULE))).toBe(true);
    expect(recorded).toEqual(JSON.parse(JSON.stringify(expected)));
    expect(recorded!.every((d) => d.span?.file === policyPath || d.span?.file === 'examples/fabric.yaml')).toBe(true);
    // The manifest's counts agree with the full list.
    expect(Object.values(manifest.warnings).reduce((a, b) => a + b, 0)).toBe(recorded!.length);
  });

  it('is absent from bundles compiled before it existed, and refused when damaged', () => {
    const dir = mkdtempSync(join(work, 'damaged-'));
    expect(readAnalysis(dir)).toBeUndefined();
    writeFileSync(join(dir, ANALYSIS_FILE), '{"diagnostics": [{"code": 1}]}');
    expect(() => readAnalysis(dir)).toThrow(ManifestError);
    writeFileSync(join(dir, ANALYSIS_FILE), '{"diagnostics": [');
    expect(() => readAnalysis(dir)).toThrow(/not valid JSON/);
  });
});
