// `weft verify --target host`: runs the compiled object of one device, with
// the maps its maps.json lists, through BPF_PROG_TEST_RUN on generated packets
// and compares every verdict with the stateful reference.
//
// Every packet goes through the XDP program, then the TC program, in one
// stream that also feeds a ReferenceConntrack, so random flows, boundary flows
// and request/reply sequences are all judged with state. The conntrack map and
// the reference are reset together every CHUNK packets so the LRU never has to
// evict (the reference never forgets).
//
// Expected verdicts:
//   - from or to a local address: the reference conntrack's verdict, except
//     that a listed failsafe (address, proto, port) always passes;
//   - neither address local: pass (another enforcement point's business);
//   - XDP on a packet to a local address: the same verdict as TC (it consults
//     the same policy and the conntrack replies, and only drops); to any
//     other address: pass.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodegenInput, VerifyOptions, VerifyReport } from '../contract.ts';
import type { Flow } from '../../orchestrator/flow.ts';
import { formatIp, type IpAddr } from '../../orchestrator/net/ip.ts';
import { ReferenceEvaluator } from '../../orchestrator/reference/evaluator.ts';
import { ReferenceConntrack } from '../../orchestrator/reference/stateful.ts';
import { generateFlows, generatePacketSequences, makeRng, type Rng } from '../../orchestrator/testing/generate.ts';
import { COUNTERS, CT_KEY, DEFAULT_SEEN_MARK } from './abi.ts';
import { TestRunner } from './libbpf.ts';
import { activate, clearMap, closeObject, loadObject, readPerCpu, writeFailsafe, writeSlot } from './loader.ts';
import { buildPacket } from './packet.ts';
import { checkMapsJson, dirRecords, readHostRules, shareFromArtefacts, type HostShare, type MapsJson, type RecordSource } from './share.ts';
import { logger } from '../../orchestrator/log.ts';

const log = logger('host-verify');

const TC_ACT_SHOT = 2;
const XDP_DROP = 1;
const CHUNK = 4096;

export interface HostVerifyReport extends VerifyReport {
  tcPackets: number;
  xdpPackets: number;
  sequences: number;
  transit: number;
  failsafeHits: number;
  /** Packets the reference denied (a run that denies nothing proves little). */
  denied: number;
  /** XDP drops decided by the early stage (source denied everything, no reply possible). */
  xdpEarlyDrops: number;
}

function describe(f: Flow): string {
  const a = (x: IpAddr) => formatIp(x.family, x.value);
  const l4 = f.proto === 6 || f.proto === 17 ? ` ${f.sport}->${f.dport}` : f.icmpType !== undefined ? ` type ${f.icmpType} code ${f.icmpCode ?? 0} id ${f.icmpId ?? 0}` : '';
  return `${a(f.src)} -> ${a(f.dst)} proto ${f.proto}${l4}`;
}

/** The flow with other addresses (no object spread: it is slow in hot loops on this Node). */
function moved(f: Flow, src: IpAddr, dst: IpAddr): Flow {
  return { src, dst, proto: f.proto, sport: f.sport, dport: f.dport, icmpType: f.icmpType, icmpCode: f.icmpCode, icmpId: f.icmpId };
}

/** A device's maps.json and record files, and the share they hold. */
export function readMaps(deviceDir: string): { records: RecordSource; share: HostShare } {
  const file = join(deviceDir, 'maps.json');
  const records = dirRecords(deviceDir, checkMapsJson(JSON.parse(readFileSync(file, 'utf8')) as MapsJson, file));
  return { records, share: shareFromArtefacts(records, readHostRules(deviceDir), file) };
}

export async function verifyHost(deviceDir: string, input: CodegenInput, opts: VerifyOptions): Promise<HostVerifyReport> {
  const { records, share } = readMaps(deviceDir);
  const maps = loadObject(join(deviceDir, 'policy.bpf.o'), {
    sizes: share.maxEntries,
    statsStride: share.statsStride,
    seenMark: DEFAULT_SEEN_MARK,
  });
  const report: HostVerifyReport = {
    device: share.device,
    target: 'host',
    mode: input.devicePlacement.mode,
    flows: 0,
    mismatches: 0,
    examples: [],
    tcPackets: 0,
    xdpPackets: 0,
    sequences: 0,
    transit: 0,
    failsafeHits: 0,
    denied: 0,
    xdpEarlyDrops: 0,
  };
  try {
    writeSlot(maps, 0, records);
    writeFailsafe(maps, records.maps);
    activate(maps, 0, 1);
    const tc = new TestRunner(maps.progs.tc);
    const xdp = new TestRunner(maps.progs.xdp);
    const evaluator = new ReferenceEvaluator(input.policy, input.fabric);
    let conntrack = new ReferenceConntrack(evaluator);
    const local = new Set(share.localAddresses.map((a) => `${a.family}|${a.value}`));
    const isLocal = (a: IpAddr) => local.has(`${a.family}|${a.value}`);
    const failsafe = new Set(share.failsafe.map((f) => `${f.address.family}|${f.address.value}|${f.proto}|${f.port}`));
    const failsafeHit = (f: Flow) =>
      (f.proto === 6 || f.proto === 17) &&
      (failsafe.has(`${f.dst.family}|${f.dst.value}|${f.proto}|${f.dport}`) || failsafe.has(`${f.src.family}|${f.src.value}|${f.proto}|${f.sport}`));
    let sinceReset = 0;

    const mismatch = (what: string, f: Flow, got: string, want: string) => {
      report.mismatches++;
      if (report.examples.length < 8) report.examples.push(`${what}: ${describe(f)}: datapath ${got}, reference ${want}`);
    };

    const send = (f: Flow) => {
      if (sinceReset >= CHUNK) {
        clearMap(maps.fds.ct, CT_KEY);
        conntrack = new ReferenceConntrack(evaluator);
        sinceReset = 0;
      }
      sinceReset++;
      const pkt = buildPacket(f);
      const srcLocal = isLocal(f.src);
      const dstLocal = isLocal(f.dst);
      let want: 'allow' | 'deny';
      if (failsafeHit(f)) {
        report.failsafeHits++;
        want = 'allow';
      } else if (srcLocal || dstLocal) {
        want = conntrack.packet(f);
      } else {
        report.transit++;
        want = 'allow';
      }
      if (want === 'deny') report.denied++;
      // XDP sees every packet too: to a local address it agrees with TC, to any other it passes.
      const x = xdp.run(pkt).retval === XDP_DROP ? 'deny' : 'allow';
      report.xdpPackets++;
      if (x !== (dstLocal ? want : 'allow')) mismatch('xdp', f, x, dstLocal ? want : 'allow');
      const t = tc.run(pkt).retval === TC_ACT_SHOT ? 'deny' : 'allow';
      report.tcPackets++;
      if (t !== want) mismatch('tc', f, t, want);
    };

    const rng = makeRng(opts.seed);
    const byFamily = (fam: 4 | 6) => share.localAddresses.filter((a) => a.family === fam);
    const locals = { 4: byFamily(4), 6: byFamily(6) };
    const pickLocal = (r: Rng, fam: 4 | 6): IpAddr | undefined => (locals[fam].length ? r.pick(locals[fam]) : undefined);

    const target = opts.packets;
    const seqShare = Math.floor(target / 4);
    // Stateless-looking flows, aimed at this host: as generated, and with one
    // side moved onto a local address (egress and ingress views).
    while (report.tcPackets < target - seqShare) {
      const flows = generateFlows(rng, input.policy, input.fabric, 2048);
      for (const f of flows) {
        send(f);
        const l = pickLocal(rng, f.src.family);
        if (l) {
          send(moved(f, l, f.dst));
          send(moved(f, f.src, pickLocal(rng, f.src.family) ?? l));
        }
        if (report.tcPackets >= target - seqShare) break;
      }
    }
    // Request/reply sequences with one end moved onto a local address.
    while (report.tcPackets < target) {
      const seqs = generatePacketSequences(rng, input.policy, input.fabric, 512);
      for (const seq of seqs) {
        const first = seq[0];
        const l = pickLocal(rng, first.src.family);
        let mapped = seq;
        if (l && !seq.some((p) => isLocal(p.src) || isLocal(p.dst))) {
          const from = rng.chance(0.5) ? first.src : first.dst;
          const swap = (a: IpAddr) => (a.family === from.family && a.value === from.value ? l : a);
          mapped = seq.map((p) => moved(p, swap(p.src), swap(p.dst)));
        }
        for (const p of mapped) send(p);
        report.sequences++;
        if (report.tcPackets >= target) break;
      }
    }
    report.flows = report.tcPackets + report.xdpPackets;
    report.xdpEarlyDrops = Number(readPerCpu(maps.fds.counters, COUNTERS.indexOf('xdp_drop_early'), 1)[0]);
    log.info({ ...report, examples: undefined }, 'host verify done');
    return report;
  } finally {
    closeObject(maps);
  }
}
