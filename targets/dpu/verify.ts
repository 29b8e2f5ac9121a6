// `weft verify --target dpu`: the device's artefacts against the stateful
// reference, by profile.
//   nfp, generic  offload.bpf.o runs in BPF_PROG_TEST_RUN on every generated
//                 packet, in one stream that also feeds a ReferenceConntrack:
//                 a drop of a packet the reference allows is a mismatch (a
//                 prefilter may pass more, never drop more); a verdict that
//                 differs from the artefact's interpreter (semantics.ts) is a
//                 mismatch too. It counts the denied packets the NIC dropped.
//   bluefield     the host datapath's own check (targets/host/verify.ts,
//                 exact: 0 mismatches), then the flower.tc interpreter on the
//                 packets leaving the host: it must never drop an allowed one.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodegenInput, VerifyOptions, VerifyReport } from '../contract.ts';
import type { Flow } from '../../orchestrator/flow.ts';
import { formatIp, type IpAddr } from '../../orchestrator/net/ip.ts';
import { logger } from '../../orchestrator/log.ts';
import { TestRunner } from '../host/libbpf.ts';
import { DPU_COUNTERS } from './abi.ts';
import { OFFLOAD_OBJECT, readDeviceJson, type DpuDeviceJson } from './device.ts';
import { framePacket, streamPackets } from './packets.ts';
import { FLOWER_FILE, FlowerTable, parseFlower } from './flower.ts';
import { closePrefilter, loadPrefilter, readCounters } from './loader.ts';
import { readPrefilterDir } from './prefilter.ts';
import { offloadReport } from './offload-gate.ts';
import { profileOf } from './profiles.ts';
import { PrefilterSemantics } from './semantics.ts';

const log = logger('dpu-verify');
const XDP_DROP = 1;

export interface DpuVerifyReport extends VerifyReport {
  profile: string;
  /** Packets the reference denied, of those the NIC judges (to or from an endpoint behind it). */
  denied: number;
  /** Of those, the packets the NIC (prefilter or flower rules) dropped. */
  nicDropped: number;
  /** The host datapath's packets (bluefield only). */
  datapathPackets?: number;
}

function describe(f: Flow): string {
  const a = (x: IpAddr) => formatIp(x.family, x.value);
  const l4 = f.proto === 6 || f.proto === 17 ? ` ${f.sport}->${f.dport}` : f.icmpType !== undefined ? ` type ${f.icmpType} code ${f.icmpCode ?? 0}` : '';
  return `${a(f.src)} -> ${a(f.dst)} proto ${f.proto}${l4}`;
}

function newReport(d: DpuDeviceJson): DpuVerifyReport {
  return { device: d.device, target: 'dpu', mode: d.mode, profile: d.profile, flows: 0, mismatches: 0, examples: [], denied: 0, nicDropped: 0 };
}

function mismatch(r: DpuVerifyReport, text: string): void {
  r.mismatches++;
  if (r.examples.length < 8) r.examples.push(text);
}

async function verifyPrefilter(deviceDir: string, d: DpuDeviceJson, input: CodegenInput, opts: VerifyOptions): Promise<DpuVerifyReport> {
  const dir = readPrefilterDir(deviceDir);
  const semantics = new PrefilterSemantics(dir.share);
  const report = newReport(d);
  // The object in the bundle, held against its profile's limits once more: a bundle edited or built elsewhere is caught here.
  const checked = offloadReport(profileOf(d.profile), new Uint8Array(readFileSync(join(deviceDir, OFFLOAD_OBJECT))), d.device);
  for (const v of checked?.violations ?? []) mismatch(report, `offload check: ${v.rule}: ${v.message}${v.source ? ` at ${v.source.file}:${v.source.line}:${v.source.col}` : ''}`);
  const p = loadPrefilter(join(deviceDir, OFFLOAD_OBJECT), dir);
  try {
    const run = new TestRunner(p.prog);
    report.flows = streamPackets(input, dir.share.localAddresses, opts, (f, want, local, ack) => {
      const got = run.run(framePacket(f, ack)).retval === XDP_DROP ? 'drop' : 'pass';
      const model = semantics.decide(f, ack).action;
      if (got !== model) mismatch(report, `${describe(f)}: program ${got}s, its artefact's interpreter ${model}s`);
      if (got === 'drop' && want === 'allow') mismatch(report, `${describe(f)}: dropped, but the reference allows it`);
      if (local && want === 'deny') {
        report.denied++;
        if (got === 'drop') report.nicDropped++;
      }
    });
    const counters = readCounters(p.fds.counters, DPU_COUNTERS.length);
    log.info({ ...report, examples: undefined, counters: Object.fromEntries(DPU_COUNTERS.map((c, i) => [c, String(counters[i])])) }, 'dpu prefilter verify done');
    return report;
  } finally {
    closePrefilter(p);
  }
}

async function verifyBluefield(deviceDir: string, d: DpuDeviceJson, input: CodegenInput, opts: VerifyOptions): Promise<DpuVerifyReport> {
  const { verifyHost } = await import('../host/verify.ts');
  const host = await verifyHost(deviceDir, input, opts);
  const report = newReport(d);
  report.mismatches = host.mismatches;
  report.examples = host.examples.map((e) => `datapath ${e}`);
  report.datapathPackets = host.flows;
  const flowerPath = join(deviceDir, FLOWER_FILE);
  if (!existsSync(flowerPath)) return { ...report, flows: host.flows };
  const table = new FlowerTable(parseFlower(readFileSync(flowerPath, 'utf8'), flowerPath));
  const { readMaps } = await import('../host/verify.ts');
  const locals = readMaps(deviceDir).share.localAddresses;
  const localSet = new Set(locals.map((a) => `${a.family}|${a.value}`));
  const flowerPackets = streamPackets(input, locals, opts, (f, want, local) => {
    // Flower sits on the host-facing port: it sees what the host sends.
    if (!localSet.has(`${f.src.family}|${f.src.value}`)) return;
    const got = table.decide(f);
    if (got === 'drop' && want === 'allow') mismatch(report, `flower ${describe(f)}: dropped, but the reference allows it`);
    if (local && want === 'deny') {
      report.denied++;
      if (got === 'drop') report.nicDropped++;
    }
  });
  report.flows = host.flows + flowerPackets;
  return report;
}

/** The summary line's share of denied traffic the NIC (prefilter or flower rules) dropped. */
function withDetail(r: DpuVerifyReport): DpuVerifyReport {
  const share = r.denied === 0 ? '' : ` (${((100 * r.nicDropped) / r.denied).toFixed(1)}%)`;
  return { ...r, detail: `${r.profile}: the NIC dropped ${r.nicDropped} of ${r.denied} denied packets${share}` };
}

export async function verifyDpu(deviceDir: string, input: CodegenInput, opts: VerifyOptions): Promise<DpuVerifyReport> {
  const d = readDeviceJson(deviceDir);
  switch (d.attach) {
    case 'xdp-offload':
    case 'xdp-native':
      return withDetail(await verifyPrefilter(deviceDir, d, input, opts));
    case 'dpu-linux':
      return withDetail(await verifyBluefield(deviceDir, d, input, opts));
    default: {
      const never: never = d.attach;
      return never;
    }
  }
}
