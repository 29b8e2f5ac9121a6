// Host datapath benchmark: per-packet cost of the TC and XDP programs
// (BPF_PROG_TEST_RUN) at 10 / 1,000 / 10,000 / 100,000 rules, with every
// size loaded at once and measured in interleaved rounds (median of ROUNDS),
// so that a busy machine slows every size alike; xdp-filter (xdp-tools) in
// the same rounds on the same packets with an equivalent deny set, for an
// allowed packet and a dropped one; map memory per host; the time of a
// one-rule policy change applied by `weft agent apply` in its own process (a
// map delta and a slot switch, not a reload), wall and CPU.
//
// WEFT_BENCH_HOST_BASELINE=<git ref> also loads that revision's datapath,
// built and filled by that revision's own loader and share code (extracted
// under the temporary directory), and times it in the same rounds: base_* figures and
// new/base ratios, old against new on the same machine at the same moment.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildIr } from '../orchestrator/ir/build.ts';
import { place } from '../orchestrator/placement/place.ts';
import { parseIp } from '../orchestrator/net/ip.ts';
import type { Flow } from '../orchestrator/flow.ts';
import { agentRemove, type ApplyResult } from '../targets/host/agent.ts';
import * as build from '../targets/host/build.ts';
import { hostCodegen } from '../targets/host/codegen.ts';
import { libbpf, TestRunner } from '../targets/host/libbpf.ts';
import * as loader from '../targets/host/loader.ts';
import { closeObject, possibleCpus, type HostMaps } from '../targets/host/loader.ts';
import { buildPacket } from '../targets/host/packet.ts';
import * as share from '../targets/host/share.ts';
import { ensureDistCurrent } from '../test/build-dist.ts';
import { BENCH_HOST, benchFabric, benchPolicy, remoteOf } from './host-policy.ts';

/** WEFT_BENCH_HOST_SIZES=10,1000 limits the sizes (the flatness ratios need 10 and 100,000). */
const SIZES = (process.env.WEFT_BENCH_HOST_SIZES ?? '10,1000,10000,100000').split(',').map(Number);
/** Rules of the policies the one-rule change is applied to (WEFT_BENCH_HOST_APPLY_SIZES). */
const APPLY_SIZES = (process.env.WEFT_BENCH_HOST_APPLY_SIZES ?? '10000,100000').split(',').map(Number);
/** WEFT_BENCH_HOST_PARTS=packets or =apply runs one half. */
const PARTS = new Set((process.env.WEFT_BENCH_HOST_PARTS ?? 'packets,apply').split(','));
/** A git ref whose datapath is timed beside this one (see the head of this file). */
const BASELINE = process.env.WEFT_BENCH_HOST_BASELINE;
const REPEAT = 200_000;
const ROUNDS = 7;
/** xdp-filter's address table holds at most this many entries. */
const XDP_FILTER_MAX_IPV4 = 10_000;
const TC_ACT_OK = 0;
const XDP_DROP = 1;
const WEFT_BIN = fileURLToPath(new URL('../bin/weft.js', import.meta.url));

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** One program on one packet, timed once per round. */
interface Probe {
  name: string;
  runner: TestRunner;
  pkt: Buffer;
  ns: number[];
}

function probe(name: string, runner: TestRunner, pkt: Buffer): Probe {
  runner.run(pkt, 1000); // warm caches and conntrack
  return { name, runner, pkt, ns: [] };
}

/** Every probe once per round, ROUNDS rounds: the medians compare like with like. */
function timeInterleaved(probes: Probe[]): Record<string, number> {
  for (let r = 0; r < ROUNDS; r++) for (const p of probes) p.ns.push(p.runner.run(p.pkt, REPEAT).durationNs);
  return Object.fromEntries(probes.map((p) => [p.name, median(p.ns)]));
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

/** The dropped packet: a new TCP flow from the next (deny) rule's remote group to its local service. */
const denyIndex = (n: number) => (Math.floor(n / 2) & ~1) + 1;

function denyFlow(n: number): Flow {
  const i = denyIndex(n);
  const r = remoteOf(i);
  return { src: { family: 4, value: r.addr }, dst: parseIp(`192.168.0.${10 + (i % 4)}`)!, proto: 6, sport: 40000, dport: r.port };
}

/** The modules that build, load and fill a datapath: this revision's, or a baseline's. */
interface Datapath {
  tag: string;
  build: typeof build;
  loader: typeof loader;
  share: typeof share;
}

const CURRENT: Datapath = { tag: '', build, loader, share };

/**
 * `ref`'s tree extracted outside the checkout (so no test runner picks up its
 * test files), with this checkout's node_modules linked in, its modules imported.
 */
async function baselineDatapath(ref: string): Promise<Datapath> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const sha = sh('git', ['-C', root, 'rev-parse', '--verify', `${ref}^{commit}`]).trim();
  const dir = join(tmpdir(), 'weft-bench-baseline', sha);
  if (!existsSync(dir)) {
    const tmp = `${dir}.${process.pid}.tmp`;
    mkdirSync(tmp, { recursive: true });
    execFileSync('sh', ['-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'sh', root, sha, tmp]);
    symlinkSync(join(root, 'node_modules'), join(tmp, 'node_modules'));
    // koffi names its types once per process: the baseline binds libbpf through this revision's module.
    writeFileSync(join(tmp, 'targets', 'host', 'libbpf.ts'), `export * from ${JSON.stringify(fileURLToPath(new URL('../targets/host/libbpf.ts', import.meta.url)))};\n`);
    renameSync(tmp, dir);
  }
  const load = (p: string) => import(pathToFileURL(join(dir, p)).href);
  return { tag: 'base_', build: await load('targets/host/build.ts'), loader: await load('targets/host/loader.ts'), share: await load('targets/host/share.ts') };
}

/** One size's datapath, loaded and filled, with its probes (closed by the caller). */
async function loadDatapath(d: Datapath, n: number) {
  const fabric = benchFabric();
  const ir = buildIr(benchPolicy(n), fabric);
  const hostShare = d.share.computeShare(ir, fabric, fabric.devices[0]);
  // TEST_RUN repeats on one skb: with the seen mark on, every repeat after
  // the first would take the already-judged shortcut. Off, each one does the
  // full lookup path.
  const m: HostMaps = d.loader.loadObject(await d.build.buildObject(), { sizes: hostShare.maxEntries, statsStride: hostShare.statsStride, seenMark: 0 });
  try {
    const arts = d.share.shareArtefacts(hostShare);
    d.loader.writeSlot(m, 0, d.share.artefactRecords(arts));
    d.loader.activate(m, 0, 1);
    const pkt = buildPacket(probeFlow(n));
    const deny = buildPacket(denyFlow(n));
    const tc = new TestRunner(m.progs.tc);
    const xdp = new TestRunner(m.progs.xdp);
    if (tc.run(pkt).retval !== TC_ACT_OK) throw new Error(`bench packet at ${n} rules was not allowed by TC`);
    if (xdp.run(deny).retval !== XDP_DROP) throw new Error(`bench deny packet at ${n} rules was not dropped by XDP`);
    let memory = 0;
    const memoryByMap: Record<string, number> = {};
    for (const c of d.loader.MAP_CONCERNS) {
      memoryByMap[c] = d.loader.mapMemory(m.fds[c]);
      memory += memoryByMap[c];
    }
    const t = d.tag;
    return {
      m,
      probes: [probe(`${t}tc_ns_${n}`, tc, pkt), probe(`${t}xdp_ns_${n}`, xdp, pkt), probe(`${t}xdp_drop_ns_${n}`, xdp, deny)],
      memory,
      memoryByMap,
      policyEntries: hostShare.policy.length,
    };
  } catch (e) {
    closeObject(m);
    throw e;
  }
}

/** xdp-filter in a throwaway namespace, its deny set written straight into its maps; `measure` runs while it is loaded. */
function withXdpFilter<T>(n: number, measure: (runner: TestRunner, entries: number) => T): T {
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
      // The measured deny rule's source first, then others up to xdp-filter's limit.
      const listed = new Set([denyIndex(n)]);
      for (let i = 1; i < n && listed.size < XDP_FILTER_MAX_IPV4; i += 2) listed.add(i);
      for (const i of listed) {
        const key = Buffer.alloc(4);
        key.writeUInt32BE(Number(remoteOf(i).addr), 0);
        libbpf.update(mapFd, key, value);
      }
      const entries = listed.size;
      const runner = new TestRunner(progFd);
      if (runner.run(buildPacket(denyFlow(n))).retval !== XDP_DROP) throw new Error('xdp-filter did not drop the deny packet');
      return measure(runner, entries);
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
    const results: { action: string; ms: number; cpuMs: number; threadCpuMs: number; written: number; deleted: number; phases: ApplyResult['phases']; processMs: number }[] = [];
    for (let v = 0; v < steps; v++) {
      const policy = benchPolicy(n, v);
      const ir = buildIr(policy, fabric);
      const placement = place(policy, fabric, ir);
      const device = fabric.devices[0];
      const out = await hostCodegen({ policy, fabric, ir, placement, device, devicePlacement: placement.devices.find((d) => d.device === BENCH_HOST)! });
      const ddir = join(dir, `v${v}`, 'devices', BENCH_HOST);
      mkdirSync(ddir, { recursive: true });
      for (const f of out.files) writeFileSync(join(ddir, f.path), f.content);
      // Its own process, as on a host: the compiler's heap here would otherwise stall it with collections.
      const started = performance.now();
      const r = JSON.parse(sh(process.execPath, [WEFT_BIN, 'agent', 'apply', join(dir, `v${v}`), '--device', BENCH_HOST, '--netns', ns, '--json'])) as ApplyResult;
      results.push({ action: r.action, ms: r.ms, cpuMs: r.cpuMs, threadCpuMs: r.threadCpuMs ?? NaN, written: r.entriesWritten, deleted: r.entriesDeleted, phases: r.phases, processMs: performance.now() - started });
    }
    agentRemove({ netns: ns });
    const deltas = results.slice(2);
    const tenth = (x: number) => Math.round(x * 10) / 10;
    const med = (f: (d: (typeof deltas)[number]) => number | undefined) => tenth(median(deltas.map((d) => f(d) ?? NaN)));
    const phases = Object.keys(deltas[0].phases).map((p) => `${p} ${med((d) => d.phases[p]?.ms)}/${med((d) => d.phases[p]?.cpuMs)}/${med((d) => d.phases[p]?.threadCpuMs)}`);
    return {
      firstLoadMs: Math.round(results[0].ms),
      deltaMs: med((d) => d.ms),
      /** Every thread of the process (V8 collects garbage and compiles on threads of its own). */
      deltaCpuMs: med((d) => d.cpuMs),
      /** The thread doing the apply: its wall time on an idle machine, less waits. */
      deltaThreadCpuMs: med((d) => d.threadCpuMs),
      /** Wall / process CPU / thread CPU ms per phase of the agent's own time, medians. */
      deltaPhasesMsWallCpu: phases.join(', '),
      /** The whole `weft agent apply` process, node start-up and module loading included (not agent time). */
      deltaProcessMs: med((d) => d.processMs),
      deltaEntriesWritten: median(deltas.map((d) => d.written)),
      deltaEntriesDeleted: median(deltas.map((d) => d.deleted)),
      actions: results.map((r) => r.action).join(','),
    };
  } finally {
    sh('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

/** Per-packet cost of every size and of xdp-filter (and of the baseline, if any), in the same rounds. */
async function packetFigures(out: Record<string, unknown>): Promise<void> {
  const datapaths = BASELINE ? [CURRENT, await baselineDatapath(BASELINE)] : [CURRENT];
  const loaded: Awaited<ReturnType<typeof loadDatapath>>[] = [];
  try {
    for (const d of datapaths) for (const n of SIZES) loaded.push(await loadDatapath(d, n));
    const last = SIZES[SIZES.length - 1];
    // xdp-filter at the largest size it holds, measured in the same rounds as every Weft size.
    const figures = withXdpFilter(last, (runner, entries) => {
      out.xdp_filter_entries = entries;
      return timeInterleaved([
        ...loaded.flatMap((l) => l.probes),
        probe('xdp_filter_ns', runner, buildPacket(probeFlow(last))),
        probe('xdp_filter_drop_ns', runner, buildPacket(denyFlow(last))),
      ]);
    });
    Object.assign(out, figures);
    const first = SIZES[0];
    datapaths.forEach((d, di) => {
      const t = d.tag;
      SIZES.forEach((n, i) => {
        const l = loaded[di * SIZES.length + i];
        out[`${t}map_memory_bytes_${n}`] = l.memory;
        out[`${t}policy_entries_${n}`] = l.policyEntries;
        if (n === last) out[`${t}map_memory_by_map_${n}`] = l.memoryByMap;
      });
      out[`${t}tc_ratio_${last}_vs_${first}`] = ratio(figures[`${t}tc_ns_${last}`], figures[`${t}tc_ns_${first}`]);
      out[`${t}xdp_ratio_${last}_vs_${first}`] = ratio(figures[`${t}xdp_ns_${last}`], figures[`${t}xdp_ns_${first}`]);
      out[`${t}xdp_drop_ratio_${last}_vs_${first}`] = ratio(figures[`${t}xdp_drop_ns_${last}`], figures[`${t}xdp_drop_ns_${first}`]);
      for (const n of SIZES) {
        out[`${t}weft_xdp_vs_xdp_filter_${n}`] = ratio(figures[`${t}xdp_ns_${n}`], figures.xdp_filter_ns);
        out[`${t}weft_xdp_drop_vs_xdp_filter_drop_${n}`] = ratio(figures[`${t}xdp_drop_ns_${n}`], figures.xdp_filter_drop_ns);
      }
    });
    if (BASELINE) {
      out.baseline = BASELINE;
      for (const n of SIZES) {
        for (const f of ['tc_ns', 'xdp_ns', 'xdp_drop_ns']) out[`new_vs_base_${f}_${n}`] = ratio(figures[`${f}_${n}`], figures[`base_${f}_${n}`]);
        out[`new_vs_base_map_memory_${n}`] = ratio(out[`map_memory_bytes_${n}`] as number, out[`base_map_memory_bytes_${n}`] as number);
      }
    }
  } finally {
    for (const l of loaded) closeObject(l.m);
  }
}

export async function run(): Promise<Record<string, unknown>> {
  // The one-rule change runs the real `weft agent apply`, which is the built dist/.
  ensureDistCurrent();
  sh('sh', ['-c', 'grep -q " /sys/fs/bpf bpf " /proc/self/mounts || mount -t bpf bpf /sys/fs/bpf']);
  const out: Record<string, unknown> = {};
  if (PARTS.has('packets')) await packetFigures(out);
  if (PARTS.has('apply')) for (const n of APPLY_SIZES) out[`one_rule_change_${n}`] = await oneRuleChange(n, 5);
  out.repeat = REPEAT;
  out.rounds = ROUNDS;
  return out;
}
