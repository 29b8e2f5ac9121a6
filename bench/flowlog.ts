// Flow log benchmark: what `log: true` costs the host datapath per packet
// (BPF_PROG_TEST_RUN on TC, 1,000 rules, median of interleaved rounds), for
// the same allowed packet judged by a rule without logging, by a logged
// rule whose events the per-CPU rate limit suppresses (the flood case), and
// by a logged rule that emits every event (limit out of reach; the ring is
// drained between runs, so every event is reserved and submitted); and how
// fast the agent's reader takes events out of the ring.

import { execFileSync } from 'node:child_process';
import { parseIp } from '../orchestrator/net/ip.ts';
import { buildIr } from '../orchestrator/ir/build.ts';
import type { Flow } from '../orchestrator/flow.ts';
import { buildObject } from '../targets/host/build.ts';
import { RingReader, TestRunner } from '../targets/host/libbpf.ts';
import { activate, closeObject, loadObject, readPerCpu, writeSlot } from '../targets/host/loader.ts';
import { COUNTERS } from '../targets/host/abi.ts';
import { buildPacket } from '../targets/host/packet.ts';
import { artefactRecords, computeShare, shareArtefacts } from '../targets/host/share.ts';
import { benchFabric, benchPolicy, remoteOf } from './host-policy.ts';

const RULES = 1_000;
/** Events per run: well inside the ring (about 3,600), so none is lost when it is drained between runs. */
const REPEAT = 2_000;
const ROUNDS = 25;
const TC_ACT_OK = 0;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The middle (allow) rule's flow, as bench/host.ts measures it. */
function flow(): { f: Flow; rule: number } {
  const rule = Math.floor(RULES / 2) & ~1;
  const r = remoteOf(rule);
  return { f: { src: { family: 4, value: r.addr }, dst: parseIp(`192.168.0.${10 + (rule % 4)}`)!, proto: 6, sport: 40000, dport: r.port }, rule };
}

function load(objectPath: string, logged: boolean, logRate: number) {
  const fabric = benchFabric();
  const { rule } = flow();
  const policy = benchPolicy(RULES);
  policy.rules = policy.rules.map((r) => (r.index === rule ? { ...r, log: logged } : r));
  const share = computeShare(buildIr(policy, fabric), fabric, fabric.devices[0]);
  // Seen mark off: TEST_RUN repeats one skb, and each repeat must take the full path.
  const m = loadObject(objectPath, { sizes: share.maxEntries, statsStride: share.statsStride, seenMark: 0, logRate });
  writeSlot(m, 0, artefactRecords(shareArtefacts(share)));
  activate(m, 0, 1);
  return m;
}

export async function run(): Promise<Record<string, unknown>> {
  execFileSync('sh', ['-c', 'grep -q " /sys/fs/bpf bpf " /proc/self/mounts || mount -t bpf bpf /sys/fs/bpf']);
  const objectPath = await buildObject();
  const pkt = buildPacket(flow().f);
  const variants = [
    { name: 'tc_ns_unlogged', m: load(objectPath, false, 100) },
    { name: 'tc_ns_logged_suppressed', m: load(objectPath, true, 1) },
    { name: 'tc_ns_logged_emitted', m: load(objectPath, true, 1_000_000) },
  ];
  try {
    let events = 0;
    let readNs = 0n;
    const rings = variants.map((v) => new RingReader(v.m.fds.flowlog, () => events++));
    const runners = variants.map((v) => new TestRunner(v.m.progs.tc));
    const ns: number[][] = variants.map(() => []);
    for (const [i, r] of runners.entries()) if (r.run(pkt, 100).retval !== TC_ACT_OK) throw new Error(`${variants[i].name}: the bench packet was not allowed`);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, r] of runners.entries()) {
        ns[i].push(r.run(pkt, REPEAT).durationNs);
        const t0 = process.hrtime.bigint();
        rings[i].consume();
        readNs += process.hrtime.bigint() - t0;
      }
    }
    rings.forEach((r) => r.close());
    const count = (v: (typeof variants)[number], c: (typeof COUNTERS)[number]) => Number(readPerCpu(v.m.fds.counters, COUNTERS.indexOf(c), 1)[0]);
    const out: Record<string, unknown> = { rules: RULES, packets_per_run: REPEAT, rounds: ROUNDS };
    variants.forEach((v, i) => (out[v.name] = median(ns[i])));
    const emitted = variants[2];
    out.events_emitted = count(emitted, 'log_emitted');
    out.events_lost = count(emitted, 'log_lost');
    out.events_suppressed_at_1_per_s = count(variants[1], 'log_suppressed');
    out.events_read = events;
    out.reader_ns_per_event = events ? Number(readNs) / events : 0;
    return out;
  } finally {
    for (const v of variants) closeObject(v.m);
  }
}
