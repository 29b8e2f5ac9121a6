// `weft verify --target host` at test scale: the compiled object of each
// generated policy runs through BPF_PROG_TEST_RUN on at least 200,000
// generated packets (random, boundary, request/reply sequences, both
// families) per policy, every verdict compared with the stateful reference.
// Cells valid for any remote (ANY_REMOTE) run through the real programs on a
// hand-built share.

import { describe, expect, it } from 'vitest';
import { generateScenario, makeRng } from '../../orchestrator/testing/generate.ts';
import { verifyHost } from '../../targets/host/verify.ts';
import { ensureBpffs, kernelUnavailable, tempDir, writeHostBundle } from './host-helpers.ts';
import { join } from 'node:path';
import { buildObject } from '../../targets/host/build.ts';
import { TestRunner } from '../../targets/host/libbpf.ts';
import { activate, closeObject, loadObject, writeSlot } from '../../targets/host/loader.ts';
import { libbpf } from '../../targets/host/libbpf.ts';
import { LOCALS_BUCKET, LOCALS_BUCKETS, LOCALS_OVERFLOW } from '../../targets/host/abi.ts';
import { u32 } from '../../targets/host/encode.ts';
import { buildPacket } from '../../targets/host/packet.ts';
import { artefactRecords, computeShare, shareArtefacts } from '../../targets/host/share.ts';
import { ANY_REMOTE_EXPECTED, anyRemoteCells, anyRemoteFabric, anyRemoteIr } from '../fixtures/host-any-remote/fixture.ts';

const TC_ACT_SHOT = 2;
const XDP_DROP = 1;

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
        let early = 0;
        for (const [i, [name, input]] of ranked.entries()) {
          const packets = i === 0 ? PACKETS : 10_000;
          const r = await verifyHost(join(dir.path, 'devices', name), input, { packets, seed });
          total += r.tcPackets;
          early += r.xdpEarlyDrops;
          console.log(
            `host verify: ${name} seed ${seed}: ${r.tcPackets} TC packets + ${r.xdpPackets} XDP packets (${r.sequences} sequences, ${r.denied} denied, ${r.transit} transit, ${r.xdpEarlyDrops} XDP early drops), ${r.mismatches} mismatches`,
          );
          for (const ex of r.examples) console.log(`  ${ex}`);
          expect(r.mismatches).toBe(0);
          expect(r.tcPackets).toBeGreaterThanOrEqual(packets);
          expect(r.denied).toBeGreaterThan(packets / 20);
          expect(r.tcPackets - r.denied - r.transit).toBeGreaterThan(packets / 20);
        }
        expect(total).toBeGreaterThanOrEqual(PACKETS);
        // The XDP early stage took part, and its drops agreed with the reference above.
        expect(early).toBeGreaterThan(0);
      } finally {
        dir.remove();
      }
    }, 300_000);
  }

  it('tries the specific remote, then ANY_REMOTE, then the default, in TC and XDP', async () => {
    ensureBpffs();
    const fabric = anyRemoteFabric();
    const share = computeShare(anyRemoteIr(), fabric, fabric.devices[0], { cells: anyRemoteCells });
    const arts = shareArtefacts(share);
    const m = loadObject(await buildObject(), { sizes: share.maxEntries, statsStride: share.statsStride, seenMark: 0 });
    try {
      writeSlot(m, 0, artefactRecords(arts));
      activate(m, 0, 1);
      const tc = new TestRunner(m.progs.tc);
      const xdp = new TestRunner(m.progs.xdp);
      let xdpRuns = 0;
      const got = ANY_REMOTE_EXPECTED.map((e) => {
        const pkt = buildPacket(e.flow);
        const ingress = share.localAddresses.some((a) => a.family === e.flow.dst.family && a.value === e.flow.dst.value);
        if (ingress) xdpRuns++;
        return {
          why: e.why,
          tc: tc.run(pkt).retval === TC_ACT_SHOT ? 'deny' : 'allow',
          xdp: ingress ? (xdp.run(pkt).retval === XDP_DROP ? 'deny' : 'allow') : e.verdict,
        };
      });
      console.log(`host ANY_REMOTE: ${got.length} flows through TC, ${xdpRuns} of them through XDP`);
      expect(got).toEqual(ANY_REMOTE_EXPECTED.map((e) => ({ why: e.why, tc: e.verdict, xdp: e.verdict })));
    } finally {
      closeObject(m);
    }
  });

  it('judges alike when every locals bucket has overflowed (XDP then asks the identity table)', async () => {
    ensureBpffs();
    const fabric = anyRemoteFabric();
    const share = computeShare(anyRemoteIr(), fabric, fabric.devices[0], { cells: anyRemoteCells });
    const m = loadObject(await buildObject(), { sizes: share.maxEntries, statsStride: share.statsStride, seenMark: 0 });
    try {
      writeSlot(m, 0, artefactRecords(shareArtefacts(share)));
      activate(m, 0, 1);
      const xdp = new TestRunner(m.progs.xdp);
      // Every flow both ways, so that local and remote addresses meet XDP as source and as destination.
      const flows = ANY_REMOTE_EXPECTED.flatMap((e) => [e.flow, { ...e.flow, src: e.flow.dst, dst: e.flow.src, sport: e.flow.dport, dport: e.flow.sport }]);
      const run = () => flows.map((f) => (xdp.run(buildPacket(f)).retval === XDP_DROP ? 'deny' : 'allow'));
      const listed = run();
      const overflowed = Buffer.alloc(LOCALS_BUCKETS * LOCALS_BUCKET);
      for (let b = 0; b < LOCALS_BUCKETS; b++) overflowed.writeUInt32LE(LOCALS_OVERFLOW, b * LOCALS_BUCKET);
      for (const k of [0, 1]) libbpf.update(m.fds.locals, u32(k), overflowed);
      const fallback = run();
      console.log(`host locals overflow: ${flows.length} flows through XDP, ${listed.filter((v) => v === 'deny').length} dropped`);
      expect(listed.filter((v) => v === 'deny').length).toBeGreaterThan(0);
      expect(fallback).toEqual(listed);
    } finally {
      closeObject(m);
    }
  });

  it('lets the failsafe (management SSH on an endpoint address) through whatever the policy says', async () => {
    ensureBpffs();
    const { policy, fabric } = generateScenario(makeRng(13), { ipv6: true });
    const hostName = fabric.endpoints.find((e) => e.host && e.addresses.some((a) => a.family === 4))!.host!;
    const ep = fabric.endpoints.find((e) => e.host === hostName && e.addresses.some((a) => a.family === 4))!;
    const v4 = ep.addresses.find((a) => a.family === 4)!;
    const mgmt = [v4.value >> 24n, (v4.value >> 16n) & 255n, (v4.value >> 8n) & 255n, v4.value & 255n].join('.');
    fabric.devices = fabric.devices.map((d) => (d.name === hostName ? { ...d, mgmt: { address: mgmt, ssh: { user: 'root', port: 22 } } } : d));
    const dir = tempDir('weft-hv-fs');
    try {
      const inputs = await writeHostBundle(dir.path, policy, fabric);
      const r = await verifyHost(join(dir.path, 'devices', hostName), inputs.get(hostName)!, { packets: 50_000, seed: 13 });
      console.log(`host verify: failsafe ${mgmt}:22 on ${hostName}: ${r.tcPackets} TC packets, ${r.failsafeHits} failsafe hits, ${r.mismatches} mismatches`);
      expect(r.mismatches).toBe(0);
      expect(r.failsafeHits).toBeGreaterThan(0);
    } finally {
      dir.remove();
    }
  }, 300_000);
});
