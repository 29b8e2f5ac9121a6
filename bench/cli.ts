// Benchmarks of the compile driver's own stages: placement on a large
// generated fabric, a full `weft compile` of examples/ through every real
// target, reading the bundle back, and `weft explain` throughput.

import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInventory } from '../inventory/load.ts';
import { readBundle } from '../orchestrator/compile/bundle.ts';
import { compileBundle } from '../orchestrator/compile/driver.ts';
import { Explainer } from '../orchestrator/explain/explain.ts';
import { buildIr } from '../orchestrator/ir/build.ts';
import { place } from '../orchestrator/placement/place.ts';
import { loadPolicy } from '../orchestrator/policy/load.ts';
import { generateFlows, generateScenario, makeRng } from '../orchestrator/testing/generate.ts';

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

export async function run(): Promise<Record<string, unknown>> {
  const figures: Record<string, unknown> = {};

  const big = generateScenario(makeRng(5), { rules: 400, groups: 40, endpoints: 5000, hosts: 200, switches: 20 });
  const bigIr = buildIr(big.policy, big.fabric);
  let t = performance.now();
  const placement = place(big.policy, big.fabric, bigIr);
  figures['place.rules'] = big.policy.rules.length;
  figures['place.endpoints'] = big.fabric.endpoints.length;
  figures['place.devices'] = big.fabric.devices.length;
  figures['place.identities'] = bigIr.identities.length;
  figures['place.ms'] = Math.round(performance.now() - t);
  figures['place.points'] = placement.rules.reduce((n, r) => n + r.points.length, 0);
  figures['place.jsonBytes'] = JSON.stringify(placement).length;

  const work = mkdtempSync(join(tmpdir(), 'weft-bench-cli-'));
  try {
    const outDir = join(work, 'out');
    const opts = { policyPath: 'examples/policy.yaml', inventoryPath: 'examples/fabric.yaml', outDir };
    t = performance.now();
    const manifest = await compileBundle(opts);
    figures['compile.example.ms'] = Math.round(performance.now() - t);
    figures['compile.example.devices'] = manifest.devices.length;
    figures['compile.example.bundleBytes'] = dirBytes(outDir);
    t = performance.now();
    await compileBundle(opts);
    figures['recompile.example.ms'] = Math.round(performance.now() - t);
    t = performance.now();
    await readBundle(outDir);
    figures['readBundle.example.ms'] = Math.round(performance.now() - t);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  const policy = loadPolicy('examples/policy.yaml');
  const fabric = loadInventory('examples/fabric.yaml');
  const ir = buildIr(policy, fabric);
  const explainer = new Explainer(policy, fabric, ir, place(policy, fabric, ir));
  const flows = generateFlows(makeRng(1), policy, fabric, 20_000);
  t = performance.now();
  for (const f of flows) explainer.explain(f);
  const s = (performance.now() - t) / 1000;
  figures['explain.flows'] = flows.length;
  figures['explain.perSecond'] = Math.round(flows.length / s);
  return figures;
}
