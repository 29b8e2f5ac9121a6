// Host datapath benchmark: per-packet cost of the TC and XDP programs
// (BPF_PROG_TEST_RUN, 1e6 repeats, median of 3) at 10 / 1,000 / 10,000 /
// 100,000 rules; xdp-filter (xdp-tools) on the same packet with an equivalent
// deny set; map memory per host; the time of a one-rule policy change
// applied by the agent (a map delta and a slot switch, not a reload).

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildIr } from '../orchestrator/ir/build.ts';
import { place } from '../orchestrator/placement/place.ts';
import { parseIp } from '../orchestrator/net/ip.ts';
import type { Flow } from '../orchestrator/flow.ts';
import { agentApply, agentRemove } from '../targets/host/agent.ts';
import { buildObject } from '../targets/host/build.ts';
import { hostCodegen } from '../targets/host/codegen.ts';
import { libbpf, TestRunner } from '../targets/host/libbpf.ts';
import { activate, closeObject, loadObject, MAP_CONCERNS, mapMemory, possibleCpus, writeSlot } from '../targets/host/loader.ts';
import { buildPacket } from '../targets/host/packet.ts';
import { artefactRecords, computeShare, shareArtefacts } from '../targets/host/share.ts';
import { BENCH_HOST, benchFabric, benchPolicy, remoteOf } from './host-policy.ts';

const SIZES = [10, 1_000, 10_000, 100_000];
const REPEAT = 1_000_000;
/** xdp-filter's address table holds at most this many entries. */
const XDP_FILTER_MAX_IPV4 = 10_000;

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeIt(r: TestRunner, pkt: Buffer): number {
  r.run(pkt, 1000); // warm caches and conntrack
  return median([0, 1, 2].map(() => r.run(pkt, REPEAT).durationNs));
}

/** The measured packet: a new TCP flow from the middle rule's remote group to its local service, allowed. */
function probeFlow(n: number): Flow {
  const mid = Math.floor(n / 2) & ~1; // even rules allow
  const r = remoteOf(mid);
  return {
    src: { family: 4, value: r.addr },
    dst: parseIp(`192.168.0.${10 + (mid % 4)}`)!,
    proto: 6,
    sport: 40000,
    dport: r.port,
  };
}

async function datapathCost(objectPath: string, n: number) {
  const fabric = benchFabric();
  const ir = buildIr(benchPolicy(n), fabric);
  const share = computeShare(ir, fabric, fabric.devices[0]);
  // TEST_RUN repeats on one skb: with the seen mark on, every repeat after
  // the first would take the already-judged shortcut. Off, each one does the
  // full lookup path.
  const m = loadObject(objectPath, { sizes: share.maxEntries, statsStride: share.statsStride, seenMark: 0 });
  try {
    const arts = shareArtefacts(share);
    writeSlot(m, 0, artefactRecords(arts));
    activate(m, 0, 1);
    const pkt = buildPacket(probeFlow(n));
    const tc = new TestRunner(m.progs.tc);
    const xdp = new TestRunner(m.progs.xdp);
    if (tc.run(pkt).retval !== 0) throw new Error(`bench packet at ${n} rules was not allowed by TC`);
    const tcNs = timeIt(tc, pkt);
    const xdpNs = timeIt(xdp, pkt);
    let memory = 0;
    for (const c of MAP_CONCERNS) memory += mapMemory(m.fds[c]);
    return { tcNs, xdpNs, memory, policyEntries: share.policy.length, id4Entries: share.id4.length };
  } finally {
    closeObject(m);
  }
}

/** xdp-filter in a throwaway namespace, its deny set written straight into its maps. */
function xdpFilterCost(n: number): { ns: number; entries: number } {
  const ns = `weft-bx-${process.pid}`;
  sh('ip', ['netns', 'add', ns]);
  try {
    sh('ip', ['-n', ns, 'link', 'add', 'wb0', 'type', 'veth', 'peer', 'name', 'wb1']);
    sh('ip', ['-n', ns, 'link', 'set', 'wb0', 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'wb1', 'up']);
    // ip netns exec gives the command its own /sys: bpffs must be mounted there for xdp-filter.
    sh('ip', ['netns', 'exec', ns, 'sh', '-c', 'mount -t bpf bpf /sys/fs/bpf && xdp-filter load wb0 -m skb -f ipv4,tcp -p allow']);
    const link = sh('ip', ['-n', ns, '-d', 'link', 'show', 'wb0']);
    const id = Number(/prog\/xdp id (\d+)/.exec(link)?.[1]);
    if (!id) throw new Error('xdp-filter loaded no program');
    const info = JSON.parse(sh('bpftool', ['prog', 'show', 'id', String(id), '--json'])) as { map_ids: number[] };
    const ipv4 = info.map_ids.find((mid) => (JSON.parse(sh('bpftool', ['map', 'show', 'id', String(mid), '--json'])) as { name: string }).name === 'filter_ipv4');
    if (ipv4 === undefined) throw new Error('xdp-filter has no filter_ipv4 map');
    const mapFd = libbpf.mapFdById(ipv4);
    const progFd = libbpf.progFdById(id);
    try {
      // The equivalent deny set: every deny rule's remote source, as xdp-filter can only list addresses.
      const cpus = possibleCpus();
      const value = Buffer.alloc(8 * cpus);
      for (let c = 0; c < cpus; c++) value.writeBigUInt64LE(1n, 8 * c); // MODE_SRC
      let entries = 0;
      for (let i = 1; i < n && entries < XDP_FILTER_MAX_IPV4; i += 2) {
        const key = Buffer.alloc(4);
        key.writeUInt32BE(Number(remoteOf(i).addr), 0);
        libbpf.update(mapFd, key, value);
        entries++;
      }
      const pkt = buildPacket(probeFlow(n));
      return { ns: timeIt(new TestRunner(progFd), pkt), entries };
    } finally {
      libbpf.closeFd(mapFd);
      libbpf.closeFd(progFd);
    }
  } finally {
    sh('ip', ['netns', 'del', ns]);
  }
}

/** Agent apply of successive one-rule changes, after both slots hold a generation. */
async function oneRuleChange(n: number, steps: number) {
  const ns = `weft-ba-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-'));
  sh('ip', ['netns', 'add', ns]);
  try {
    sh('ip', ['-n', ns, 'link', 'add', 'wb0', 'type', 'veth', 'peer', 'name', 'wb1']);
    sh('ip', ['-n', ns, 'link', 'set', 'wb0', 'up']);
    const fabric = benchFabric();
    const results: { action: string; ms: number; written: number; deleted: number }[] = [];
    for (let v = 0; v < steps; v++) {
      const policy = benchPolicy(n, v);
      const ir = buildIr(policy, fabric);
      const placement = place(policy, fabric, ir);
      const device = fabric.devices[0];
      const out = await hostCodegen({ policy, fabric, ir, placement, device, devicePlacement: placement.devices.find((d) => d.device === BENCH_HOST)! });
      const ddir = join(dir, `v${v}`, 'devices', BENCH_HOST);
      mkdirSync(ddir, { recursive: true });
      for (const f of out.files) writeFileSync(join(ddir, f.path), f.content);
      const r = agentApply(join(dir, `v${v}`), BENCH_HOST, { netns: ns });
      results.push({ action: r.action, ms: r.ms, written: r.entriesWritten, deleted: r.entriesDeleted });
    }
    agentRemove({ netns: ns });
    const deltas = results.slice(2);
    return {
      firstLoadMs: Math.round(results[0].ms),
      deltaMs: Math.round(median(deltas.map((d) => d.ms)) * 10) / 10,
      deltaEntriesWritten: median(deltas.map((d) => d.written)),
      deltaEntriesDeleted: median(deltas.map((d) => d.deleted)),
      actions: results.map((r) => r.action).join(','),
    };
  } finally {
    sh('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<Record<string, unknown>> {
  sh('sh', ['-c', 'grep -q " /sys/fs/bpf bpf " /proc/self/mounts || mount -t bpf bpf /sys/fs/bpf']);
  const objectPath = await buildObject();
  const out: Record<string, unknown> = {};
  const cost: Record<number, { tcNs: number; xdpNs: number }> = {};
  for (const n of SIZES) {
    const c = await datapathCost(objectPath, n);
    cost[n] = c;
    out[`tc_ns_${n}`] = c.tcNs;
    out[`xdp_ns_${n}`] = c.xdpNs;
    out[`map_memory_bytes_${n}`] = c.memory;
    out[`policy_entries_${n}`] = c.policyEntries;
  }
  const last = SIZES[SIZES.length - 1];
  out.tc_ratio_100k_vs_10 = Math.round((cost[last].tcNs / cost[10].tcNs) * 100) / 100;
  out.xdp_ratio_100k_vs_10 = Math.round((cost[last].xdpNs / cost[10].xdpNs) * 100) / 100;
  for (const n of SIZES) {
    const x = xdpFilterCost(n);
    out[`xdp_filter_ns_${n}`] = x.ns;
    out[`xdp_filter_entries_${n}`] = x.entries;
    out[`weft_xdp_vs_xdp_filter_${n}`] = Math.round((cost[n].xdpNs / x.ns) * 100) / 100;
  }
  const change10k = await oneRuleChange(10_000, 5);
  out.one_rule_change_10k = change10k;
  const change100k = await oneRuleChange(100_000, 4);
  out.one_rule_change_100k = change100k;
  out.repeat = REPEAT;
  return out;
}
