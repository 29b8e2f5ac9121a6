// The prefilter's share and its interpreter against the stateful reference,
// without a kernel: on generated policies it never drops a packet the
// reference allows (replies of allowed connections included), it drops a
// good part of what the reference denies, and a NIC too small for the whole
// share keeps that promise with its deny set only, or is refused when it
// cannot hold even the deny set.

import { describe, expect, it } from 'vitest';
import { buildIr } from '../../orchestrator/ir/build.ts';
import { InputError } from '../../orchestrator/diagnostics.ts';
import { streamPackets } from './packets.ts';
import { prefilterShare, type PrefilterShare } from './prefilter.ts';
import { PrefilterSemantics } from './semantics.ts';
import { dpuScenario } from './testing.ts';
import { CAPACITY_EXCEEDED } from '../contract.ts';

const PACKETS = 30_000;

function run(share: PrefilterShare, scenario: ReturnType<typeof dpuScenario>, seed: number) {
  const nic = new PrefilterSemantics(share);
  const r = { packets: 0, allowedDropped: 0, denied: 0, dropped: 0, examples: [] as string[] };
  r.packets = streamPackets(scenario, share.localAddresses, { packets: PACKETS, seed }, (f, want, local, ack) => {
    const got = nic.decide(f, ack).action;
    if (got === 'drop' && want === 'allow') {
      r.allowedDropped++;
      if (r.examples.length < 5) r.examples.push(JSON.stringify(f, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
    }
    if (local && want === 'deny') {
      r.denied++;
      if (got === 'drop') r.dropped++;
    }
  });
  return r;
}

describe('DPU prefilter share (interpreter against the reference)', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`seed ${seed}: never drops an allowed packet, drops denied ones`, () => {
      // Generated policies are port-range heavy: the NIC is sized to hold the whole share here.
      const s = dpuScenario(seed, 'nfp', { capacity: 100_000_000 });
      const share = prefilterShare(buildIr(s.policy, s.fabric), s.fabric, s.dpu);
      expect(share.scope).toBe('whole');
      const r = run(share, s, seed);
      console.log(`dpu prefilter seed ${seed}: ${r.packets} packets, ${r.denied} denied behind the NIC, ${r.dropped} dropped at the NIC, ${r.allowedDropped} allowed dropped`);
      for (const e of r.examples) console.log(`  ${e}`);
      expect(r.packets).toBeGreaterThanOrEqual(PACKETS);
      expect(r.allowedDropped).toBe(0);
      expect(r.denied).toBeGreaterThan(0);
      expect(r.dropped).toBeGreaterThan(0);
    });
  }

  it('a NIC too small for the whole share holds the deny set, names what stays on the host, and still never drops an allowed packet', () => {
    const full = dpuScenario(5, 'nfp', { capacity: 100_000_000 });
    const whole = prefilterShare(buildIr(full.policy, full.fabric), full.fabric, full.dpu);
    expect(whole.scope).toBe('whole');
    const small = dpuScenario(5, 'nfp', { capacity: whole.id4.length + whole.policy.length - 1 });
    const share = prefilterShare(buildIr(small.policy, small.fabric), small.fabric, small.dpu);
    expect(share.scope).toBe('deny-set');
    expect(share.defaultAction).toBe('allow');
    expect(share.allowEntriesLeftToHost).toBeGreaterThan(0);
    expect(share.policy.every((e) => e.verdict === 'deny' || e.remote !== 0)).toBe(true);
    const r = run(share, small, 5);
    const rWhole = run(whole, full, 5);
    console.log(`dpu prefilter seed 5: whole share drops ${rWhole.dropped} of ${rWhole.denied} denied; deny set drops ${r.dropped} of ${r.denied}`);
    expect(r.allowedDropped).toBe(0);
    expect(rWhole.allowedDropped).toBe(0);
    expect(r.dropped).toBeGreaterThan(0);
    expect(r.dropped).toBeLessThanOrEqual(rWhole.dropped);
  });

  it('refuses a NIC that cannot hold even the deny set, naming the device line', () => {
    const s = dpuScenario(6, 'nfp', { capacity: 3 });
    s.dpu.span = { file: 'fabric.yaml', line: 42, col: 7 };
    const ir = buildIr(s.policy, s.fabric);
    let err: unknown;
    try {
      prefilterShare(ir, s.fabric, s.dpu);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toMatch(/^fabric\.yaml:42:7: error: dpu-nfp: its nfp NIC holds 3 entries, but even the deny set of its share needs \d+/);
    expect((err as InputError).diagnostics[0].code).toBe(CAPACITY_EXCEEDED);
  });
});
