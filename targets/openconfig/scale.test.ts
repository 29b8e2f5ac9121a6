// OpenConfig leaves of the data-center shapes (bench/scenarios.ts: labels
// drawn independently, correlated, and correlated with catch-all rules),
// generated at a small scale and parsed from their YAML as `weft compile`
// reads them, against the reference evaluator on sampled flows: exact ports
// equal, prefilter ports never drop an allowed flow. Both forms are checked:
// entries naming defined sets, and expanded entries.

import { describe, expect, it } from 'vitest';
import { shapeYaml, SHAPE_DEFAULTS, type Shape } from '../../bench/scenarios.ts';
import { parseInventory } from '../../inventory/load.ts';
import { parsePolicy } from '../../orchestrator/policy/load.ts';
import { generateFlows, makeRng } from '../../orchestrator/testing/generate.ts';
import { planAcl } from './codegen.ts';
import { aclDocumentJson } from './model.ts';
import { openconfigInputs } from './testing.ts';
import { checkAcl, readAclConfig } from './verify.ts';

const SCALE = { rules: 300, endpoints: 2_000, devices: 120, apps: 100 };
const FLOWS = 10_000;
/** Leaves checked per shape: those with both host (prefilter) and unmanaged (exact) ports first. */
const LEAVES = 3;

describe('openconfig leaves of the large scenario shapes vs reference', () => {
  for (const shape of ['independent', 'correlated', 'catch-all'] as const satisfies readonly Shape[]) {
    it(`${shape}: ${FLOWS} sampled flows per leaf, 0 mismatches`, () => {
      const files = shapeYaml(shape, { ...SHAPE_DEFAULTS, ...SCALE });
      const policy = parsePolicy(files.policy, 'policy.yaml');
      const fabric = parseInventory(files.fabric, 'fabric.yaml');
      const roles = (i: ReturnType<typeof openconfigInputs>[number]): Set<string> => new Set(i.devicePlacement.interfaces.map((x) => x.role));
      const inputs = openconfigInputs(policy, fabric)
        .filter((i) => roles(i).has('host') || roles(i).has('unmanaged-endpoint'))
        .sort((a, b) => roles(b).size - roles(a).size || a.device.name.localeCompare(b.device.name, 'en', { numeric: true }))
        .slice(0, LEAVES);
      expect(inputs.length).toBe(LEAVES);
      expect(inputs.some((i) => roles(i).has('host') && roles(i).has('unmanaged-endpoint'))).toBe(true);
      const flows = generateFlows(makeRng(SCALE.rules), policy, fabric, FLOWS);
      for (const [k, raw] of inputs.entries()) {
        // One leaf in three without defined sets: its entries are expanded.
        const expanded = k % 3 === 1;
        const input = expanded ? { ...raw, device: { ...raw.device, capabilities: { definedSets: false } } } : raw;
        const plan = planAcl(input);
        const config = readAclConfig(JSON.stringify(aclDocumentJson(plan.config)));
        expect(config.definedSets !== undefined).toBe(!expanded);
        expect(plan.config.sets.reduce((n, s) => n + s.entries.length, 0)).toBe(plan.stats.configEntries);
        if (expanded) expect(plan.stats.configEntries).toBe(plan.stats.entries);
        const r = checkAcl(config, input, flows);
        console.log(
          `openconfig ${shape} ${input.device.name} ${expanded ? 'expanded' : 'defined-sets'} [${[...roles(input)].join(',')}]: ` +
            `${r.flows} flow checks, ${r.mismatches} mismatches, ${plan.stats.entries} device entries in ${plan.stats.configEntries} acl entries, ` +
            `${r.replyApproximated} reply-approximated, ${r.failClosed} fail-closed`,
        );
        expect(r.examples).toEqual([]);
        expect(r.mismatches).toBe(0);
        expect(r.flows).toBeGreaterThanOrEqual(FLOWS);
      }
    });
  }
});
