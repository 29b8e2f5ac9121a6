// The OpenConfig artefact against the reference evaluator on generated
// policies: exact ports equal (apart from the counted, documented stateless
// and fail-closed cases), prefilter ports never drop an allowed flow, and on
// request/reply sequences no reply the stateful reference allows is dropped.
// Seed 12 compiles for a switch without openconfig-defined-sets (expanded
// entries); the others reference prefix-sets and port-sets.

import { describe, expect, it } from 'vitest';
import { generateFlows, generatePacketSequences, generateScenario, makeRng } from '../../orchestrator/testing/generate.ts';
import { formatApproximations } from '../switch-common/index.ts';
import type { CodegenInput } from '../contract.ts';
import { planAcl } from './codegen.ts';
import { aclDocumentJson } from './model.ts';
import { nameableDenies, openconfigInputs } from './testing.ts';
import { checkAcl, checkAclSequences, readAclConfig } from './verify.ts';

/** The input as compiled for a switch with (default) or without openconfig-defined-sets. */
function formFor(seed: number, input: CodegenInput): { input: CodegenInput; form: string } {
  if (seed !== 12) return { input, form: 'defined-sets' };
  return { input: { ...input, device: { ...input.device, capabilities: { definedSets: false } } }, form: 'expanded' };
}

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
      for (const raw of inputs) {
        const { input, form } = formFor(seed, raw);
        const plan = planAcl(input);
        expect(plan.config.definedSets !== undefined).toBe(form === 'defined-sets');
        // Through the text artefact, as verify reads it.
        const config = readAclConfig(JSON.stringify(aclDocumentJson(plan.config)));
        const r = checkAcl(config, input, flows);
        const modes = input.devicePlacement.interfaces.map((i) => i.role).join(',');
        console.log(
          `openconfig verify seed ${seed} ${input.device.name} ${form} [${modes}]: ${r.flows} flow checks, ${r.mismatches} mismatches, ` +
            `${plan.stats.entries} entries, ${r.repliesChecked} replies, ${r.replyApproximated} reply-approximated, ${r.failClosed} fail-closed`,
        );
        expect(r.examples).toEqual([]);
        expect(r.mismatches).toBe(0);
        expect(r.flows).toBeGreaterThanOrEqual(FLOWS);
      }
    });
  }

  it('a prefilter cut down to a small capacity still never drops an allowed flow', () => {
    const rng = makeRng(21);
    const sc = generateScenario(rng, { switches: 2 });
    const flows = generateFlows(rng, sc.policy, sc.fabric, 100_000);
    let dropping = 0;
    for (const full of openconfigInputs(sc.policy, sc.fabric)) {
      for (const capacity of [40, 150, 400]) {
        const input = {
          ...full,
          device: { ...full.device, capacity: { aclEntries: capacity } },
          devicePlacement: { ...full.devicePlacement, interfaces: full.devicePlacement.interfaces.filter((i) => i.role !== 'unmanaged-endpoint') },
        };
        if (input.devicePlacement.interfaces.length === 0) continue;
        const plan = planAcl(input);
        expect(plan.stats.entries).toBeLessThanOrEqual(capacity);
        const drops = plan.config.sets.reduce((n, s) => n + s.entries.filter((e) => e.action === 'DROP').length, 0);
        if (drops > 0) dropping++;
        const r = checkAcl(plan.config, input, flows);
        const left = plan.notes.find((n) => n.includes('to fit capacity')) ?? 'every deny fits';
        console.log(`openconfig verify prefilter at capacity ${capacity} ${input.device.name}: ${r.flows} flow checks, ${r.mismatches} mismatches, ${plan.stats.entries} entries (${drops} drop); ${left}`);
        expect(r.examples).toEqual([]);
        expect(r.mismatches).toBe(0);
      }
    }
    expect(dropping).toBeGreaterThan(0);
  });

  for (const seed of [11, 12, 14]) {
    it(`seed ${seed}: request/reply sequences, every reply the stateful reference allows passes`, () => {
      const rng = makeRng(seed);
      const sc = generateScenario(rng, { switches: 2 });
      const policy = nameableDenies(sc.policy);
      const sequences = generatePacketSequences(makeRng(seed + 50), policy, sc.fabric, 40_000);
      let exactPorts = 0;
      for (const raw of openconfigInputs(policy, sc.fabric)) {
        const { input, form } = formFor(seed, raw);
        const config = readAclConfig(JSON.stringify(aclDocumentJson(planAcl(input).config)));
        expect(config.definedSets !== undefined).toBe(form === 'defined-sets');
        const r = checkAclSequences(config, input, sequences);
        const roles = input.devicePlacement.interfaces.map((i) => i.role);
        exactPorts += roles.filter((x) => x === 'unmanaged-endpoint').length;
        console.log(
          `openconfig stateful seed ${seed} ${input.device.name} ${form} [${roles.join(',')}]: ${r.sequences} sequences, ${r.packets} packets, ${r.replies} allowed replies, ` +
            `${r.carried} allowed packets carried, ${r.mismatches} mismatches; approximations: ${formatApproximations(r.approximated)}`,
        );
        expect(r.examples).toEqual([]);
        expect(r.mismatches).toBe(0);
        if (r.packets > 0) expect(r.replies).toBeGreaterThan(0);
      }
      expect(exactPorts).toBeGreaterThan(0);
    });
  }
});
