// The OpenConfig artefact against the reference evaluator on generated
// policies: exact ports equal (apart from the counted, documented stateless
// and fail-closed cases), prefilter ports never drop an allowed flow.

import { describe, expect, it } from 'vitest';
import { generateFlows, generateScenario, makeRng } from '../../orchestrator/testing/generate.ts';
import { planAcl } from './codegen.ts';
import { aclDocumentJson } from './model.ts';
import { nameableDenies, openconfigInputs } from './testing.ts';
import { checkAcl, readAclConfig } from './verify.ts';

describe('openconfig artefact vs reference', () => {
  const FLOWS = 200_000;
  for (const seed of [11, 12, 13]) {
    it(`seed ${seed}: ${FLOWS} flows per switch, 0 mismatches`, () => {
      const rng = makeRng(seed);
      const sc = generateScenario(rng, { switches: 2 });
      const policy = nameableDenies(sc.policy);
      const inputs = openconfigInputs(policy, sc.fabric);
      expect(inputs.length).toBeGreaterThan(0);
      const flows = generateFlows(rng, policy, sc.fabric, FLOWS);
      for (const input of inputs) {
        const plan = planAcl(input);
        // Through the text artefact, as verify reads it.
        const config = readAclConfig(JSON.stringify(aclDocumentJson(plan.config)));
        const r = checkAcl(config, input, flows);
        const modes = input.devicePlacement.interfaces.map((i) => i.role).join(',');
        console.log(
          `openconfig verify seed ${seed} ${input.device.name} [${modes}]: ${r.flows} flow checks, ${r.mismatches} mismatches, ` +
            `${plan.stats.entries} entries, ${r.repliesChecked} replies, ${r.replyApproximated} reply-approximated, ${r.failClosed} fail-closed`,
        );
        expect(r.examples).toEqual([]);
        expect(r.mismatches).toBe(0);
        expect(r.flows).toBeGreaterThanOrEqual(FLOWS);
      }
    });
  }
});
