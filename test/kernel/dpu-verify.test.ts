// `weft verify --target dpu` at test scale, one generated policy per profile
// (orchestrator/testing/generate.ts), each on at least 200,000 packets:
//   nfp       offload.bpf.o holding the deny set only (the NIC is one entry
//             too small for the whole share), in BPF_PROG_TEST_RUN: never
//             drops a packet the stateful reference allows, agrees with its
//             artefact's interpreter on every packet
//   generic   the same program holding the whole share
//   bluefield the host datapath on the DPU, exact: 0 mismatches; and its
//             flower.tc never drops an allowed packet leaving the host
// Each reports how many denied packets the NIC dropped.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildIr } from '../../orchestrator/ir/build.ts';
import type { DpuProfile } from '../../inventory/model.ts';
import { prefilterShare } from '../../targets/dpu/prefilter.ts';
import { dpuScenario } from '../../targets/dpu/testing.ts';
import { verifyDpu } from '../../targets/dpu/verify.ts';
import { ensureBpffs, kernelUnavailable, tempDir } from './host-helpers.ts';
import { writeDpuBundle } from './dpu-helpers.ts';

const why = kernelUnavailable();
if (why && process.env.CI === 'true') throw new Error(`DPU kernel tests cannot run: ${why}`);

const PACKETS = 200_000;

/** The scenario, with an nfp NIC one entry too small for its whole share. */
function scenarioFor(seed: number, profile: DpuProfile) {
  if (profile !== 'nfp') return dpuScenario(seed, profile);
  const probe = dpuScenario(seed, profile, { capacity: 100_000_000 });
  const whole = prefilterShare(buildIr(probe.policy, probe.fabric), probe.fabric, probe.dpu);
  return dpuScenario(seed, profile, { capacity: whole.id4.length + whole.policy.length - 1 });
}

describe.skipIf(why !== undefined)('DPU artefacts against the reference (BPF_PROG_TEST_RUN)', () => {
  for (const [profile, seed] of [
    ['nfp', 21],
    ['generic', 22],
    ['bluefield', 23],
  ] as const) {
    it(`${profile}, generated policy seed ${seed}: ${PACKETS} packets`, async () => {
      ensureBpffs();
      const s = scenarioFor(seed, profile);
      const dir = tempDir('weft-dv');
      try {
        const done = await writeDpuBundle(dir.path, s.policy, s.fabric);
        const { input, out } = done.get(s.dpu.name)!;
        const r = await verifyDpu(join(dir.path, 'devices', s.dpu.name), input, { packets: PACKETS, seed });
        console.log(
          `dpu verify: ${profile} seed ${seed} (${input.devicePlacement.mode}): ${r.flows} packets, ${r.denied} denied behind the NIC, ${r.nicDropped} dropped at the NIC (${((100 * r.nicDropped) / Math.max(1, r.denied)).toFixed(1)}%), ${r.mismatches} mismatches`,
        );
        for (const n of out.notes) console.log(`  note: ${n}`);
        for (const ex of r.examples) console.log(`  ${ex}`);
        expect(r.mismatches).toBe(0);
        expect(r.flows).toBeGreaterThanOrEqual(PACKETS);
        expect(r.denied).toBeGreaterThan(PACKETS / 50);
        expect(r.nicDropped).toBeGreaterThan(0);
        if (profile === 'nfp') expect(out.notes.some((n) => /hold the deny set only/.test(n))).toBe(true);
        if (profile === 'bluefield') expect(r.datapathPackets).toBeGreaterThanOrEqual(PACKETS);
      } finally {
        dir.remove();
      }
    }, 900_000);
  }
});
