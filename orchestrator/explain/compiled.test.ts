// A one-off `weft explain` builds only the identities of the addresses it
// is asked about (ScopedView) and places only the devices on the path; its
// explanation must equal, field by field, the one read from the whole IR and
// the whole placement, and its verdict the reference evaluator's.

import { describe, expect, it } from 'vitest';
import type { Fabric } from '../../inventory/model.ts';
import { loadInventory } from '../../inventory/load.ts';
import type { Flow } from '../flow.ts';
import { buildIr } from '../ir/build.ts';
import { place } from '../placement/place.ts';
import { loadPolicy } from '../policy/load.ts';
import type { Policy } from '../policy/model.ts';
import { ReferenceEvaluator } from '../reference/evaluator.ts';
import { generateFlows, generateScenario, makeRng } from '../testing/generate.ts';
import { Explainer } from './explain.ts';

interface Tally {
  flows: number;
  mismatches: number;
  referenceMismatches: number;
  denied: number;
}

function compare(policy: Policy, fabric: Fabric, flows: Flow[]): Tally {
  const ir = buildIr(policy, fabric);
  const whole = new Explainer(policy, fabric, ir, place(policy, fabric, ir));
  const scoped = new Explainer(policy, fabric);
  const reference = new ReferenceEvaluator(policy, fabric);
  const t: Tally = { flows: flows.length, mismatches: 0, referenceMismatches: 0, denied: 0 };
  for (const f of flows) {
    const a = whole.explain(f);
    const b = scoped.explain(f);
    const ref = reference.verdict(f);
    if (JSON.stringify(a) !== JSON.stringify(b)) t.mismatches++;
    if (b.verdict !== ref.verdict || b.compiledVerdict !== ref.verdict || (b.rule?.index ?? -1) !== ref.rule) t.referenceMismatches++;
    if (b.verdict === 'deny') t.denied++;
  }
  return t;
}

const add = (a: Tally, b: Tally): Tally => ({
  flows: a.flows + b.flows,
  mismatches: a.mismatches + b.mismatches,
  referenceMismatches: a.referenceMismatches + b.referenceMismatches,
  denied: a.denied + b.denied,
});

describe('explain without the whole IR (what `weft explain` runs)', () => {
  it('explains 12,000 generated flows on 24 generated scenarios and examples/ as the whole IR and placement do, with the reference verdict', () => {
    let total: Tally = { flows: 0, mismatches: 0, referenceMismatches: 0, denied: 0 };
    for (let seed = 1; seed <= 24; seed++) {
      const { policy, fabric } = generateScenario(makeRng(seed), seed % 3 === 0 ? { endpoints: 200, groups: 24 } : {});
      const dpu = fabric.devices.find((d) => d.kind === 'dpu' || d.kind === 'smartnic');
      if (dpu && seed % 2 === 0) fabric.devices.find((d) => d.name === dpu.attachedTo)!.agent = false;
      total = add(total, compare(policy, fabric, generateFlows(makeRng(500 + seed), policy, fabric, 400)));
    }
    const policy = loadPolicy('examples/policy.yaml');
    const fabric = loadInventory('examples/fabric.yaml');
    total = add(total, compare(policy, fabric, generateFlows(makeRng(7), policy, fabric, 2400)));
    console.log(`explain scoped vs whole IR and placement: ${JSON.stringify(total)}`);
    expect(total.flows).toBe(12_000);
    expect(total.mismatches).toBe(0);
    expect(total.referenceMismatches).toBe(0);
    expect(total.denied).toBeGreaterThan(0);
    expect(total.denied).toBeLessThan(total.flows);
  });
});
