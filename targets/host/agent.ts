// The host agent (`weft agent apply|status|remove`): installs one device's
// artefacts from a bundle into the kernel, switches generations, reports, and
// removes everything it created. The confirm timer (confirm.ts) and the flow
// log reader (flowlog.ts) build on it.
//
// Kernel state lives in two places, both named by scope (the network
// namespace name, or "host"):
//   /sys/fs/bpf/weft/<scope>/   pinned maps and programs (survive the agent)
//   /run/weft/<scope>/          state.json (generation, attach points, sizes)
//                               and slot<N>/ (the record files and rules of
//                               what each map slot holds, so the next apply
//                               writes only the delta; hard links to the
//                               bundle's files where the filesystem allows)
// Attachments: TC filters (clsact, cls_bpf, handle/priority below) and XDP
// on the interfaces of the bundle's interfaces.json, inside --netns if given.
//
// apply is a delta when the object is unchanged and the new share fits the
// loaded maps: write the inactive slot, flip. Otherwise a reload: a new object
// adopting the pinned conntrack map, its programs replacing the attached ones
// in place (tc replace, XDP replace), then the pins are swapped.

import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COUNTERS, DEFAULT_SEEN_MARK, MAP, PROG, type MapConcern } from './abi.ts';
import { INTERFACES_FORMAT, type InterfacesJson } from './interfaces.ts';
import {
  BPF_TC_EGRESS,
  BPF_TC_INGRESS,
  CLONE_NEWNET,
  libbpf,
  XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_SKB_MODE,
} from './libbpf.ts';
import { activate, closeObject, DEFAULT_LOG_RATE, loadObject, MAP_CONCERNS, mapMemory, readCtl, readPerCpu, readRuleHits, writeFailsafe, writeSlot, type MapFds } from './loader.ts';
import { checkMapsJson, dirRecords, readHostRules, readRuleSources, RECORD_MAPS, recordsFile, RULE_SOURCES_FILE, RULES_FILE, sizesFromJson, type HostRule, type MapsJson, type MapSizes, type RecordSource } from './share.ts';
import type { SourceSpan } from '../../orchestrator/diagnostics.ts';
import { AGENT_VERSION, checkAgentVersion } from './agent-version.ts';
import { readPendingConfirm, type PendingConfirm } from './pending.ts';
import { logger } from '../../orchestrator/log.ts';

const log = logger('host-agent');

export const TC_HANDLE = 1;
export const TC_PRIORITY = 0x5746;
const STATE_FORMAT = 'weft.host.agent-state/v3';

export interface AgentOptions {
  netns?: string;
  bpffs?: string; // default /sys/fs/bpf
  runDir?: string; // default /run/weft
  /** apply: flow log events per second per CPU (a change reloads the object); default DEFAULT_LOG_RATE. */
  logRate?: number;
}

export type Hook = 'tc-ingress' | 'tc-egress' | 'xdp';

export interface AttachPoint {
  iface: string;
  hook: Hook;
  progId: number;
  /** XDP only. */
  mode?: 'native' | 'generic';
}

interface AgentState {
  format: typeof STATE_FORMAT;
  device: string;
  bundle: string;
  netns?: string;
  generation: number;
  activeSlot: number;
  objectDigest: string;
  mapsDigest: string;
  statsStride: number;
  logRate: number;
  maxEntries: MapSizes;
  attach: AttachPoint[];
  /** Interfaces whose clsact qdisc this agent created (removed again on remove). */
  createdClsact: string[];
  /** Entries each slot holds (null: empty), to decide whether a delta fits. */
  slotCounts: (SlotCounts | null)[];
  appliedAt: string;
}

interface SlotCounts {
  id4: number;
  id6: number;
  policy: number;
}

function countsOf(j: MapsJson): SlotCounts {
  return { id4: j.maps[MAP.id4].records.count, id6: j.maps[MAP.id6].records.count, policy: j.maps[MAP.policy].records.count };
}

export interface ApplyResult {
  device: string;
  scope: string;
  generation: number;
  action: 'load' | 'reload' | 'delta' | 'unchanged';
  entriesWritten: number;
  entriesDeleted: number;
  attach: AttachPoint[];
  /** Wall time from reading the bundle to the flipped slot (and attached hooks). */
  ms: number;
  /** CPU time this process spent on it (user + system), every thread. */
  cpuMs: number;
  /** CPU time of the thread doing it: what the wall time is on an idle machine, less the waits. */
  threadCpuMs?: number;
  /** The same, per phase in the order they ran (read, diff, write, record, flip, attach, state; a load: load instead of diff). */
  phases: Record<string, PhaseTime>;
}

export interface PhaseTime {
  ms: number;
  /** CPU time of the whole process (every thread: V8 compiles and collects garbage on its own threads too). */
  cpuMs: number;
  /** CPU time of the thread doing the apply (Linux schedstat), what wall time comes down to on an idle machine; absent where unknown. */
  threadCpuMs?: number;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/** CPU time of this thread in ms (first field of /proc/thread-self/schedstat, ns), or undefined where the kernel has none. */
function threadCpuMs(): number | undefined {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]) / 1e6;
  } catch {
    return undefined;
  }
}

interface ClockReading {
  wall: number;
  cpu: NodeJS.CpuUsage;
  thread: number | undefined;
}

const reading = (): ClockReading => ({ wall: nowMs(), cpu: process.cpuUsage(), thread: threadCpuMs() });

function between(a: ClockReading, b: ClockReading): PhaseTime {
  const t: PhaseTime = { ms: b.wall - a.wall, cpuMs: (b.cpu.user - a.cpu.user + b.cpu.system - a.cpu.system) / 1000 };
  if (a.thread !== undefined && b.thread !== undefined) t.threadCpuMs = b.thread - a.thread;
  return t;
}

/** Wall and CPU time of one apply, phase by phase (CPU time shows the work on a busy machine, where wall time mostly waits). */
class PhaseClock {
  private readonly start = reading();
  private last = this.start;
  readonly phases: Record<string, PhaseTime> = {};

  /** Ends the phase running since the previous mark. */
  mark(phase: string): void {
    const now = reading();
    this.phases[phase] = between(this.last, now);
    this.last = now;
  }

  total(): PhaseTime & { phases: Record<string, PhaseTime> } {
    return { ...between(this.start, reading()), phases: this.phases };
  }
}

export interface RuleCounters {
  packets: string;
  bytes: string;
}

export interface StatusResult {
  /** The weft-agent version reporting. */
  agentVersion: string;
  scope: string;
  device: string;
  bundle: string;
  generation: number;
  activeSlot: number;
  appliedAt: string;
  attach: (AttachPoint & { attached: boolean })[];
  /** Per rule of the active generation; hits is packets (kept for readers of earlier versions). */
  /** span: where the rule is written, when the bundle recorded it (rule-sources.json). */
  rules: (HostRule & { span?: SourceSpan; hits: string } & RuleCounters)[];
  defaultHits: string;
  /** Rule id (IR index, or "default" for the default action) -> counters of the active generation. */
  ruleCounters: Record<string, RuleCounters>;
  logRate: number;
  /** Set while an apply with --confirm-within awaits `weft agent confirm`. */
  pendingConfirm?: PendingConfirm;
  counters: Record<string, string>;
  mapMemoryBytes: number;
  maps: Record<string, { maxEntries: number }>;
}

export function paths(o: AgentOptions) {
  const scope = o.netns ?? 'host';
  const bpffs = o.bpffs ?? '/sys/fs/bpf';
  return {
    scope,
    bpffs,
    pinDir: join(bpffs, 'weft', scope),
    runDir: join(o.runDir ?? '/run/weft', scope),
  };
}

/** Environment checks with errors that say what to do. */
export function preflight(o: AgentOptions): void {
  if (typeof process.geteuid === 'function' && process.geteuid() !== 0) {
    throw new Error('weft agent needs root (CAP_BPF and CAP_NET_ADMIN to load and attach eBPF); run it as root');
  }
  const { bpffs } = paths(o);
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '));
  if (!mounts.some((m) => m[1] === bpffs && m[2] === 'bpf')) {
    throw new Error(`no BPF filesystem mounted at ${bpffs}: mount it with \`mount -t bpf bpf ${bpffs}\``);
  }
  if (o.netns !== undefined) netnsPath(o.netns);
}

function netnsPath(ns: string): string {
  for (const dir of ['/run/netns', '/var/run/netns']) {
    const p = join(dir, ns);
    if (existsSync(p)) return p;
  }
  let known: string[] = [];
  try {
    known = readdirSync('/run/netns');
  } catch {
    // no namespaces at all
  }
  throw new Error(`network namespace "${ns}" does not exist (known: ${known.length ? known.join(', ') : 'none'})`);
}

/**
 * Runs f with this thread in the namespace. Only this (the JS) thread moves,
 * and only its network namespace: bpffs paths stay those of the caller.
 */
export function inNetns<T>(ns: string | undefined, f: () => T): T {
  if (ns === undefined) return f();
  const self = openSync('/proc/thread-self/ns/net', 'r');
  const target = openSync(netnsPath(ns), 'r');
  try {
    libbpf.setns(target, CLONE_NEWNET);
    try {
      return f();
    } finally {
      libbpf.setns(self, CLONE_NEWNET);
    }
  } finally {
    closeSync(target);
    closeSync(self);
  }
}

function ifindexOf(name: string, ns: string | undefined): number {
  const i = libbpf.ifIndex(name);
  if (i === 0) throw new Error(`interface ${name} (from the fabric's links) does not exist${ns ? ` in network namespace ${ns}` : ''}`);
  return i;
}

function sha(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

export function readState(runDir: string): AgentState | undefined {
  const f = join(runDir, 'state.json');
  if (!existsSync(f)) return undefined;
  const s = JSON.parse(readFileSync(f, 'utf8')) as AgentState;
  if (s.format !== STATE_FORMAT) throw new Error(`${f}: unknown state format "${String(s.format)}"; run \`weft agent remove\` first`);
  return s;
}

export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, typeof value === 'string' ? value : `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, file);
}

export const slotDir = (runDir: string, slot: number) => join(runDir, `slot${slot}`);

/** What a slot holds, as recorded when it was written (undefined: empty or unknown). */
function readSlot(runDir: string, slot: number): RecordSource | undefined {
  const dir = slotDir(runDir, slot);
  if (!existsSync(join(dir, RULES_FILE))) return undefined;
  const f = join(dir, 'maps.json');
  return dirRecords(dir, checkMapsJson(JSON.parse(readFileSync(f, 'utf8')) as MapsJson, f));
}

/**
 * Records what a slot now holds: the device's record files and rules,
 * swapped in whole. Bundles are written once and replaced by rename, never
 * edited, so a hard link is as good as a copy and costs nothing.
 */
function recordSlot(runDir: string, slot: number, dev: DeviceArtefacts): void {
  const dir = slotDir(runDir, slot);
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  // rules.json last: its presence says the slot record is complete. Bundles from before rule-sources.json have none.
  for (const f of ['maps.json', ...RECORD_MAPS.map(recordsFile), ...(existsSync(join(dev.dir, RULE_SOURCES_FILE)) ? [RULE_SOURCES_FILE] : []), RULES_FILE]) {
    try {
      linkSync(join(dev.dir, f), join(tmp, f));
    } catch {
      copyFileSync(join(dev.dir, f), join(tmp, f));
    }
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

function forgetSlot(runDir: string, slot: number): void {
  rmSync(slotDir(runDir, slot), { recursive: true, force: true });
}

function openPinnedMaps(pinDir: string): MapFds {
  const fds = {} as Record<MapConcern, number>;
  for (const c of MAP_CONCERNS) {
    const fd = libbpf.objGet(join(pinDir, MAP[c]));
    if (fd < 0) {
      for (const open of Object.values(fds)) libbpf.closeFd(open);
      throw new Error(`pinned map ${join(pinDir, MAP[c])} is missing; run \`weft agent remove\` and apply again`);
    }
    fds[c] = fd;
  }
  return { fds };
}

function closeFds(m: MapFds): void {
  for (const fd of Object.values(m.fds)) libbpf.closeFd(fd);
}

function readDevice(bundleDir: string, device: string) {
  const dir = join(bundleDir, 'devices', device);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    let known: string[] = [];
    try {
      known = readdirSync(join(bundleDir, 'devices'));
    } catch {
      throw new Error(`${bundleDir} is not a weft bundle (no devices/ folder); run \`weft compile\` first`);
    }
    throw new Error(`bundle ${bundleDir} has no device "${device}" (devices: ${known.join(', ') || 'none'})`);
  }
  // maps.json is small (the large tables are record files it names, with their digests), so its text identifies the share.
  const mapsText = readFileSync(join(dir, 'maps.json'), 'utf8');
  const maps = checkMapsJson(JSON.parse(mapsText) as MapsJson, join(dir, 'maps.json'));
  const records = dirRecords(dir, maps);
  const ifaces = JSON.parse(readFileSync(join(dir, 'interfaces.json'), 'utf8')) as InterfacesJson;
  if (ifaces.format !== INTERFACES_FORMAT) throw new Error(`${join(dir, 'interfaces.json')}: unknown format "${String(ifaces.format)}"`);
  checkAgentVersion(ifaces.agentVersion, join(dir, 'interfaces.json'));
  const objectPath = join(dir, 'policy.bpf.o');
  return { dir, mapsText, maps, records, ifaces, objectPath, objectDigest: sha(readFileSync(objectPath)) };
}

type DeviceArtefacts = ReturnType<typeof readDevice>;

function fits(state: AgentState, next: MapsJson): boolean {
  const a = state.slotCounts[state.activeSlot] ?? { id4: 0, id6: 0, policy: 0 };
  const n = countsOf(next);
  return (
    a.id4 + n.id4 <= state.maxEntries.id4 &&
    a.id6 + n.id6 <= state.maxEntries.id6 &&
    a.policy + n.policy <= state.maxEntries.policy &&
    next.rulesFile.count + 1 <= state.statsStride
  );
}

interface ProgFds {
  tc: number;
  xdp: number;
}

/** Attaches (or replaces in place) every hook; returns the attach points and the qdiscs created. */
function attachAll(ifaces: InterfacesJson, progs: ProgFds, prev: AgentState | undefined, ns: string | undefined): { attach: AttachPoint[]; created: string[] } {
  return inNetns(ns, () => {
    const attach: AttachPoint[] = [];
    const created: string[] = [];
    for (const i of ifaces.interfaces) {
      const ifindex = ifindexOf(i.name, ns);
      if (i.tc) {
        // Remember qdiscs we created (now or in an earlier generation): remove takes them away again.
        if (libbpf.tcHookCreate({ ifindex, attachPoint: BPF_TC_INGRESS }) || prev?.createdClsact.includes(i.name)) created.push(i.name);
        for (const [hook, point] of [
          ['tc-ingress', BPF_TC_INGRESS],
          ['tc-egress', BPF_TC_EGRESS],
        ] as const) {
          const progId = libbpf.tcAttach({ ifindex, attachPoint: point }, progs.tc, TC_HANDLE, TC_PRIORITY);
          attach.push({ iface: i.name, hook, progId });
        }
      }
      if (i.xdp) {
        const current = libbpf.xdpQueryId(ifindex, 0);
        const ours = prev?.attach.find((a) => a.iface === i.name && a.hook === 'xdp');
        if (current !== 0 && current !== ours?.progId) {
          throw new Error(`${i.name} already runs XDP program id ${current}, not loaded by weft; unload it first (xdp-loader unload ${i.name} --all)`);
        }
        let mode: 'native' | 'generic' = ours?.mode ?? 'native';
        let rc = libbpf.xdpAttach(ifindex, progs.xdp, mode === 'native' ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);
        if (rc < 0 && mode === 'native' && !ours) {
          log.info({ iface: i.name, errno: -rc }, 'native XDP not available, using generic');
          mode = 'generic';
          rc = libbpf.xdpAttach(ifindex, progs.xdp, XDP_FLAGS_SKB_MODE);
        }
        if (rc < 0) throw new Error(`attaching XDP to ${i.name} failed (errno ${-rc})`);
        attach.push({ iface: i.name, hook: 'xdp', progId: libbpf.xdpQueryId(ifindex, 0), mode });
      }
    }
    return { attach, created };
  });
}

/** The program id now attached at a recorded point (0: none, or the interface is gone); call inside its namespace. */
function attachedProgId(a: AttachPoint): number {
  const ifindex = libbpf.ifIndex(a.iface);
  if (ifindex === 0) return 0;
  return a.hook === 'xdp'
    ? libbpf.xdpQueryId(ifindex, 0)
    : libbpf.tcQuery({ ifindex, attachPoint: a.hook === 'tc-ingress' ? BPF_TC_INGRESS : BPF_TC_EGRESS }, TC_HANDLE, TC_PRIORITY);
}

/**
 * Whether the bundle wants exactly the recorded hooks and each still runs
 * the recorded program: then a delta attaches nothing (three queries instead
 * of a qdisc create and three replaces, each waiting on the kernel).
 */
function stillAttached(ifaces: InterfacesJson, state: AgentState, ns: string | undefined): boolean {
  const want = ifaces.interfaces.flatMap((i) => [...(i.tc ? [`${i.name} tc-ingress`, `${i.name} tc-egress`] : []), ...(i.xdp ? [`${i.name} xdp`] : [])]);
  const have = state.attach.map((a) => `${a.iface} ${a.hook}`);
  if (want.length !== have.length || want.some((w) => !have.includes(w))) return false;
  return inNetns(ns, () => state.attach.every((a) => a.progId !== 0 && attachedProgId(a) === a.progId));
}

/** Undoes attach points (best effort: an interface may be gone already). */
function detachAll(points: AttachPoint[], createdClsact: string[], ns: string | undefined): void {
  inNetns(ns, () => {
    for (const p of points) {
      const ifindex = libbpf.ifIndex(p.iface);
      if (ifindex === 0) continue;
      if (p.hook === 'xdp') {
        if (libbpf.xdpQueryId(ifindex, 0) === p.progId) libbpf.xdpDetach(ifindex, p.mode === 'generic' ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
      } else {
        libbpf.tcDetach({ ifindex, attachPoint: p.hook === 'tc-ingress' ? BPF_TC_INGRESS : BPF_TC_EGRESS }, TC_HANDLE, TC_PRIORITY);
      }
    }
    for (const name of createdClsact) {
      const ifindex = libbpf.ifIndex(name);
      if (ifindex !== 0) libbpf.tcHookDestroy(ifindex);
    }
  });
}

function pinAll(pinDir: string, fds: Record<MapConcern, number>, progs: ProgFds): void {
  mkdirSync(pinDir, { recursive: true });
  for (const c of MAP_CONCERNS) libbpf.pin(fds[c], join(pinDir, MAP[c]));
  libbpf.pin(progs.tc, join(pinDir, PROG.tc));
  libbpf.pin(progs.xdp, join(pinDir, PROG.xdp));
}

function unpinAll(pinDir: string): void {
  rmSync(pinDir, { recursive: true, force: true });
}

export function agentApply(bundleDir: string, deviceName: string, o: AgentOptions = {}): ApplyResult {
  const clock = new PhaseClock();
  preflight(o);
  const { scope, pinDir, runDir } = paths(o);
  const dev = readDevice(bundleDir, deviceName);
  const state = readState(runDir);
  if (state && state.device !== deviceName) {
    throw new Error(`scope ${scope} runs device ${state.device}; remove it first (weft agent remove${o.netns ? ` --netns ${o.netns}` : ''})`);
  }
  // Interfaces must exist before anything is loaded.
  inNetns(o.netns, () => dev.ifaces.interfaces.forEach((i) => ifindexOf(i.name, o.netns)));
  mkdirSync(runDir, { recursive: true });
  const req: ApplyRequest = { dev, mapsDigest: sha(dev.mapsText), o, clock, bundleDir };
  clock.mark('read');

  if (state && state.objectDigest === dev.objectDigest && state.logRate === logRateOf(o) && existsSync(pinDir)) {
    // A slot that held entries but has no complete record (an apply died while writing it) cannot be diffed.
    const inactive = 1 - state.activeSlot;
    const known = state.slotCounts[inactive] === null || existsSync(join(slotDir(runDir, inactive), RULES_FILE));
    if (fits(state, dev.maps) && known) return applyDelta(state, req);
    log.info({ scope, fits: fits(state, dev.maps), inactiveSlotKnown: known }, 'cannot write a delta: reloading');
  }
  return applyLoad(state, req);
}

const logRateOf = (o: AgentOptions) => o.logRate ?? DEFAULT_LOG_RATE;

/** What one `agent apply` brings: the device's artefacts and where they came from. */
interface ApplyRequest {
  dev: DeviceArtefacts;
  mapsDigest: string;
  o: AgentOptions;
  clock: PhaseClock;
  bundleDir: string;
}

function applyDelta(state: AgentState, req: ApplyRequest): ApplyResult {
  const { dev, mapsDigest, o, clock, bundleDir } = req;
  const { scope, pinDir, runDir } = paths(o);
  const maps = openPinnedMaps(pinDir);
  const progs = { tc: libbpf.objGet(join(pinDir, PROG.tc)), xdp: libbpf.objGet(join(pinDir, PROG.xdp)) };
  try {
    if (progs.tc < 0 || progs.xdp < 0) throw new Error(`pinned programs under ${pinDir} are missing; run \`weft agent remove\` and apply again`);
    let written = 0;
    let deleted = 0;
    let action: ApplyResult['action'] = 'unchanged';
    if (mapsDigest !== state.mapsDigest) {
      const slot = 1 - state.activeSlot;
      const before = readSlot(runDir, slot);
      // Marked incomplete first (its records stay readable for the merge):
      // if we die while writing, the next apply treats the slot as unknown.
      rmSync(join(slotDir(runDir, slot), RULES_FILE), { force: true });
      const d = writeSlot(maps, slot, dev.records, before, (p) => clock.mark(p));
      writeFailsafe(maps, dev.maps);
      clock.mark('write');
      // Recorded before the flip: if we die between the two, the next apply
      // still knows what the (inactive) slot holds.
      recordSlot(runDir, slot, dev);
      clock.mark('record');
      activate(maps, slot, state.generation + 1);
      clock.mark('flip');
      state.activeSlot = slot;
      state.generation += 1;
      state.mapsDigest = mapsDigest;
      state.slotCounts[slot] = countsOf(dev.maps);
      written = d.written;
      deleted = d.deleted;
      action = 'delta';
    }
    // Re-attach wherever the pinned programs went missing (an interface recreated, a qdisc flushed).
    if (!stillAttached(dev.ifaces, state, o.netns)) {
      const { attach, created } = attachAll(dev.ifaces, progs, state, o.netns);
      state.attach = attach;
      state.createdClsact = created;
    }
    clock.mark('attach');
    const attach = state.attach;
    state.bundle = bundleDir;
    state.appliedAt = new Date().toISOString();
    writeJsonAtomic(join(runDir, 'state.json'), state);
    clock.mark('state');
    return { device: state.device, scope, generation: state.generation, action, entriesWritten: written, entriesDeleted: deleted, attach, ...clock.total() };
  } finally {
    closeFds(maps);
    if (progs.tc >= 0) libbpf.closeFd(progs.tc);
    if (progs.xdp >= 0) libbpf.closeFd(progs.xdp);
  }
}

function applyLoad(state: AgentState | undefined, req: ApplyRequest): ApplyResult {
  const { dev, mapsDigest, o, clock, bundleDir } = req;
  const { scope, pinDir, runDir } = paths(o);
  const oldCt = state ? libbpf.objGet(join(pinDir, MAP.ct)) : -1;
  const oldRemotes = state ? libbpf.objGet(join(pinDir, MAP.ctRemotes)) : -1;
  const oldFlowlog = state ? libbpf.objGet(join(pinDir, MAP.flowlog)) : -1;
  const generation = (state?.generation ?? 0) + 1;
  let m;
  try {
    m = loadObject(dev.objectPath, {
      sizes: sizesFromJson(dev.maps),
      statsStride: dev.maps.statsStride,
      seenMark: DEFAULT_SEEN_MARK,
      logRate: logRateOf(o),
      // Both or neither: a remote bit set must cover every adopted conntrack entry.
      reuse: oldCt >= 0 && oldRemotes >= 0 ? { ct: oldCt, ctRemotes: oldRemotes } : undefined,
      reuseFlowlog: oldFlowlog >= 0 ? oldFlowlog : undefined,
    });
  } finally {
    for (const fd of [oldCt, oldRemotes, oldFlowlog]) if (fd >= 0) libbpf.closeFd(fd);
  }
  clock.mark('load');
  try {
    const d = writeSlot(m, 0, dev.records);
    writeFailsafe(m, dev.maps);
    clock.mark('write');
    activate(m, 0, generation);
    clock.mark('flip');
    let attached;
    try {
      attached = attachAll(dev.ifaces, m.progs, state, o.netns);
    } catch (e) {
      rollbackAttach(state, dev.ifaces, o, pinDir);
      throw e;
    }
    clock.mark('attach');
    unpinAll(pinDir);
    pinAll(pinDir, m.fds, m.progs);
    forgetSlot(runDir, 1);
    recordSlot(runDir, 0, dev);
    clock.mark('record');
    const next: AgentState = {
      format: STATE_FORMAT,
      device: dev.maps.device,
      bundle: bundleDir,
      netns: o.netns,
      generation,
      activeSlot: 0,
      objectDigest: dev.objectDigest,
      mapsDigest,
      statsStride: dev.maps.statsStride,
      logRate: logRateOf(o),
      maxEntries: sizesFromJson(dev.maps),
      attach: attached.attach,
      createdClsact: attached.created,
      slotCounts: [countsOf(dev.maps), null],
      appliedAt: new Date().toISOString(),
    };
    writeJsonAtomic(join(runDir, 'state.json'), next);
    clock.mark('state');
    return {
      device: next.device,
      scope,
      generation,
      action: state ? 'reload' : 'load',
      entriesWritten: d.written,
      entriesDeleted: 0,
      attach: attached.attach,
      ...clock.total(),
    };
  } finally {
    // Pins and attachments hold the kernel objects from here on.
    closeObject(m);
  }
}

/** A reload failed half way: put the previous programs back, or take ours off if there were none. */
function rollbackAttach(state: AgentState | undefined, ifaces: InterfacesJson, o: AgentOptions, pinDir: string): void {
  try {
    if (state) {
      const progs = { tc: libbpf.objGet(join(pinDir, PROG.tc)), xdp: libbpf.objGet(join(pinDir, PROG.xdp)) };
      if (progs.tc >= 0 && progs.xdp >= 0) attachAll({ ...ifaces, interfaces: ifaces.interfaces.filter((i) => state.attach.some((a) => a.iface === i.name)) }, progs, state, o.netns);
      if (progs.tc >= 0) libbpf.closeFd(progs.tc);
      if (progs.xdp >= 0) libbpf.closeFd(progs.xdp);
    } else {
      const points: AttachPoint[] = ifaces.interfaces.flatMap((i) => [
        { iface: i.name, hook: 'tc-ingress' as const, progId: 0 },
        { iface: i.name, hook: 'tc-egress' as const, progId: 0 },
      ]);
      detachAll(points, [], o.netns);
    }
  } catch (e) {
    log.error({ err: e }, 'rollback of a failed attach failed');
  }
}

export interface RemoveResult {
  scope: string;
  device?: string;
  detached: AttachPoint[];
  unpinned: string[];
}

export function agentRemove(o: AgentOptions = {}): RemoveResult {
  preflight({ ...o, netns: undefined });
  const { scope, pinDir, runDir } = paths(o);
  const state = readState(runDir);
  const unpinned = existsSync(pinDir) ? readdirSync(pinDir).map((f) => join(pinDir, f)) : [];
  let detached: AttachPoint[] = [];
  if (state) {
    const nsGone = o.netns !== undefined && !['/run/netns', '/var/run/netns'].some((d) => existsSync(join(d, o.netns!)));
    if (!nsGone) {
      detachAll(state.attach, state.createdClsact, o.netns);
      detached = state.attach;
    }
  }
  unpinAll(pinDir);
  rmSync(runDir, { recursive: true, force: true });
  // Leave /sys/fs/bpf/weft itself only while other scopes use it.
  const root = join(paths(o).bpffs, 'weft');
  if (existsSync(root) && readdirSync(root).length === 0) rmSync(root, { recursive: true, force: true });
  return { scope, device: state?.device, detached, unpinned };
}

/** Scopes with agent state (for `status` without --netns). */
export function agentScopes(o: AgentOptions = {}): string[] {
  preflight({ ...o, netns: undefined });
  const root = o.runDir ?? '/run/weft';
  return existsSync(root) ? readdirSync(root).filter((s) => existsSync(join(root, s, 'state.json'))) : [];
}

export function agentStatus(o: AgentOptions = {}): StatusResult {
  preflight({ ...o, netns: undefined });
  const { scope, pinDir, runDir } = paths(o);
  const state = readState(runDir);
  if (!state) throw new Error(`nothing applied in scope ${scope} (weft agent apply BUNDLE --device NAME${o.netns ? ` --netns ${o.netns}` : ''})`);
  const maps = openPinnedMaps(pinDir);
  try {
    const ctl = readCtl(maps.fds.ctl);
    const rules = readHostRules(slotDir(runDir, ctl.activeSlot));
    const sources = new Map(readRuleSources(slotDir(runDir, ctl.activeSlot)).map((x) => [x.index, x.span]));
    const hits = readRuleHits(maps.fds.stats, ctl.activeSlot * state.statsStride, rules.length + 1, ctl.generation).map((h) => ({
      packets: String(h.packets),
      bytes: String(h.bytes),
    }));
    const counters = readPerCpu(maps.fds.counters, 0, COUNTERS.length);
    const attach = inNetns(o.netns, () =>
      state.attach.map((a) => {
        const current = attachedProgId(a);
        return { ...a, attached: current !== 0 && current === a.progId };
      }),
    );
    let mem = 0;
    for (const c of MAP_CONCERNS) mem += mapMemory(maps.fds[c]);
    return {
      agentVersion: AGENT_VERSION,
      scope,
      device: state.device,
      bundle: state.bundle,
      generation: ctl.generation,
      activeSlot: ctl.activeSlot,
      appliedAt: state.appliedAt,
      attach,
      rules: rules.map((r, i) => ({ ...r, span: sources.get(r.index), hits: hits[i + 1].packets, ...hits[i + 1] })),
      defaultHits: hits[0].packets,
      ruleCounters: Object.fromEntries([['default', hits[0]], ...rules.map((r, i) => [String(r.index), hits[i + 1]])]),
      logRate: state.logRate,
      pendingConfirm: readPendingConfirm(runDir),
      counters: Object.fromEntries(COUNTERS.map((c, i) => [c, String(counters[i])])),
      mapMemoryBytes: mem,
      maps: Object.fromEntries(
        (Object.keys(state.maxEntries) as (keyof MapSizes)[]).map((k) => [MAP[k], { maxEntries: state.maxEntries[k] }]),
      ),
    };
  } finally {
    closeFds(maps);
  }
}
