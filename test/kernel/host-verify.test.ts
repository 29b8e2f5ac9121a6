// `weft verify --target host` at test scale: the compiled object of each
// generated policy runs through BPF_PROG_TEST_RUN on at least 200,000
// generated packets (random, boundary, request/reply sequences, both
// families) per policy, every verdict compared with the stateful reference.

import { describe, expect, it } from 'vitest';
import { generateScenario, makeRng } from '../../orchestrator/testing/generate.ts';
import { verifyHost } from '../../targets/host/verify.ts';
import { ensureBpffs, kernelUnavailable, tempDir, writeHostBundle } from './host-helpers.ts';
import { join } from 'node:path';

const why = kernelUnavailable();
if (why && process.env.CI === 'true') throw new Error(`host kernel tests cannot run: ${why}`);

const PACKETS = 200_000;

describe.skipIf(why !== undefined)('host datapath against the reference (BPF_PROG_TEST_RUN)', () => {
  for (const seed of [11, 12]) {
    it(`generated policy seed ${seed}: ${PACKETS} packets, 0 mismatches`, async () => {
      ensureBpffs();
      const { policy, fabric } = generateScenario(makeRng(seed), { ipv6: true });
      const dir = tempDir('weft-hv');
      try {
        const inputs = await writeHostBundle(dir.path, policy, fabric);
        // The host with the most local endpoints gets the full run; the others a shorter one.
        const ranked = [...inputs.entries()].sort(
          (a, b) => fabric.endpoints.filter((e) => e.host === b[0]).length - fabric.endpoints.filter((e) => e.host === a[0]).length,
        );
        let total = 0;
        for (const [i, [name, input]] of ranked.entries()) {
          const packets = i === 0 ? PACKETS : 10_000;
          const r = await verifyHost(join(dir.path, 'devices', name), input, { packets, seed });
          total += r.tcPackets;
          console.log(
            `host verify: ${name} seed ${seed}: ${r.tcPackets} TC packets + ${r.xdpPackets} XDP packets (${r.sequences} sequences, ${r.denied} denied, ${r.transit} transit), ${r.mismatches} mismatches`,
          );
          for (const ex of r.examples) console.log(`  ${ex}`);
          expect(r.mismatches).toBe(0);
          expect(r.tcPackets).toBeGreaterThanOrEqual(packets);
          expect(r.denied).toBeGreaterThan(packets / 20);
          expect(r.tcPackets - r.denied - r.transit).toBeGreaterThan(packets / 20);
        }
        expect(total).toBeGreaterThanOrEqual(PACKETS);
      } finally {
        dir.remove();
      }
    }, 300_000);
  }
});
