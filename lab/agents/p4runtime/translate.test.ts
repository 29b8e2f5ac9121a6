// The emulated P4 switch's translation of its tables: classifier prefixes
// into labelled intervals (longest prefix wins), fence ternaries back into
// port ranges, and, differentially, the whole translated table in the
// in-memory datapath against Weft's model of the P4 pipeline
// (targets/p4/semantics.ts) on generated packets, every port, IPv4, IPv6
// and non-IP.

import { describe, expect, it } from 'vitest';
import { buildIr } from '../../../orchestrator/ir/build.ts';
import { generateFlows, makeRng } from '../../../orchestrator/testing/generate.ts';
import { buildAclEntries, portNumber } from '../../../targets/p4/codegen.ts';
import { PIPELINE } from '../../../targets/p4/p4info.ts';
import { PipelineModel } from '../../../targets/p4/semantics.ts';
import { fenceEncode, fenceRangeTernaries } from '../../../targets/p4/ternary.ts';
import { packetOfFlow, type SwitchPacket } from '../../../targets/switch-common/index.ts';
import { p4Scenario } from '../../../test/p4/scenario.ts';
import { MemoryDatapath } from '../memory-datapath.ts';
import { labelIntervals, p4TablesToSwitchTable, portsOfFence } from './translate.ts';

const ip4 = (a: number, b: number, c: number, d: number): bigint => BigInt(((a << 24) >>> 0) + (b << 16) + (c << 8) + d);

describe('labelIntervals', () => {
  it('gives every address its longest-prefix label, 0 where no prefix covers, merging equal neighbours', () => {
    const iv = labelIntervals(
      [
        { addr: ip4(10, 0, 0, 0), len: 8, label: 1n },
        { addr: ip4(10, 1, 0, 0), len: 16, label: 2n },
        { addr: ip4(10, 1, 2, 3), len: 32, label: 3n },
        { addr: ip4(11, 0, 0, 0), len: 8, label: 0n },
      ],
      32,
    );
    expect(iv).toEqual([
      { lo: 0n, hi: ip4(9, 255, 255, 255), label: 0n },
      { lo: ip4(10, 0, 0, 0), hi: ip4(10, 0, 255, 255), label: 1n },
      { lo: ip4(10, 1, 0, 0), hi: ip4(10, 1, 2, 2), label: 2n },
      { lo: ip4(10, 1, 2, 3), hi: ip4(10, 1, 2, 3), label: 3n },
      { lo: ip4(10, 1, 2, 4), hi: ip4(10, 1, 255, 255), label: 2n },
      { lo: ip4(10, 2, 0, 0), hi: ip4(10, 255, 255, 255), label: 1n },
      { lo: ip4(11, 0, 0, 0), hi: 0xffffffffn, label: 0n },
    ]);
    expect(labelIntervals([], 128)).toEqual([{ lo: 0n, hi: (1n << 128n) - 1n, label: 0n }]);
    expect(labelIntervals([{ addr: 0n, len: 0, label: 5n }], 32)).toEqual([{ lo: 0n, hi: 0xffffffffn, label: 5n }]);
  });
});

describe('portsOfFence', () => {
  it('turns the fence ternaries of a range back into exactly that range', () => {
    const rng = makeRng(11);
    const cases: [number, number][] = [[0, 65535], [1, 65534], [80, 80], [8000, 8099], [1024, 65535], [0, 0], [65535, 65535]];
    for (let i = 0; i < 200; i++) {
      const a = rng.int(0, 65535);
      const b = rng.int(0, 65535);
      cases.push([Math.min(a, b), Math.max(a, b)]);
    }
    for (const [lo, hi] of cases) {
      const ports = fenceRangeTernaries([{ lo, hi }]).flatMap((t) => portsOfFence(t.value, t.mask));
      const sorted = ports.sort((x, y) => (x[0] < y[0] ? -1 : 1));
      const merged: [bigint, bigint][] = [];
      for (const [x, y] of sorted) {
        const last = merged[merged.length - 1];
        if (last && last[1] + 1n >= x) last[1] = y > last[1] ? y : last[1];
        else merged.push([x, y]);
      }
      expect(merged, `${lo}-${hi}`).toEqual([[BigInt(lo), BigInt(hi)]]);
    }
    console.log(`portsOfFence: ${cases.length} ranges turned into fence ternaries and back`);
  });

  it('agrees with the encoding port by port for a ternary that is not a range', () => {
    // Second digit 2-4 (bit 1 set, bit 4 clear), the others as in 0x0207: not one interval.
    const t = fenceRangeTernaries([{ lo: 0x0207, hi: 0x0207 }])[0];
    const field = (i: number): bigint => 0x7fffn << BigInt(15 * (3 - i));
    const mask = (t.mask & ~field(1)) | (0b10010n << 30n);
    const value = (t.value & ~field(1)) | (0b00010n << 30n);
    const want: bigint[] = [];
    for (let p = 0; p < 65536; p++) if ((fenceEncode(p) & mask) === value) want.push(BigInt(p));
    const got = portsOfFence(value, mask).flatMap(([lo, hi]) => Array.from({ length: Number(hi - lo) + 1 }, (_, k) => lo + BigInt(k)));
    expect(got).toEqual(want);
    expect(want).toEqual([0x0207n, 0x0307n, 0x0407n]);
  });
});

describe('the translated tables enforce what the pipeline model decides', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: generated packets on every port, IPv4, IPv6 and non-IP`, async () => {
      const s = p4Scenario(seed);
      const ir = buildIr(s.policy, s.fabric);
      const program = buildAclEntries({ policy: s.policy, ir, devicePlacement: s.dp, fabric: s.fabric });
      expect(program.classes.length).toBeGreaterThan(0);
      const names = new Map(s.dp.interfaces.map((i) => [portNumber(i.name), i.name]));
      const datapath = new MemoryDatapath();
      await datapath.program(p4TablesToSwitchTable(program.entries, program.classes, PIPELINE, [...names.keys()], (n) => names.get(n)!));
      const model = new PipelineModel(program.entries, program.classes);
      const rng = makeRng(seed * 7);
      const packets: SwitchPacket[] = [];
      const ports = [...names.values()];
      for (const f of generateFlows(rng, s.policy, s.fabric, 1500)) {
        for (const inPort of ports) {
          const p = packetOfFlow(f, { inPort });
          // SYN, then ACK-bearing, then a random flag byte: reply entries match on flags.
          packets.push(p, { ...p, tcpFlags: p.proto === 6 ? 0x10 : 0 }, { ...p, tcpFlags: p.proto === 6 ? rng.int(0, 255) : 0 });
        }
      }
      for (const inPort of ports) for (const etherType of [0x0806, 0x88cc]) packets.push({ inPort, etherType, proto: 0, sport: 0, dport: 0, tcpFlags: 0, icmpType: 0, icmpCode: 0 });
      let mismatches = 0;
      const examples: string[] = [];
      const verdicts = { permit: 0, deny: 0 };
      for (const p of packets) {
        const want = model.evaluate(p);
        const got = datapath.evaluate(p);
        verdicts[want]++;
        if (want !== got && mismatches++ < 3) examples.push(`${JSON.stringify(p, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v))}: model ${want}, datapath ${got}`);
      }
      console.log(`seed ${seed}: ${packets.length} packets, ${verdicts.permit} permit / ${verdicts.deny} deny by the model, ${mismatches} mismatches ${examples.join(' | ')}`);
      expect(mismatches).toBe(0);
      expect(verdicts.permit).toBeGreaterThan(0);
      expect(verdicts.deny).toBeGreaterThan(0);
    }, 120_000);
  }
});
