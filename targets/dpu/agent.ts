// The prefilter agent (`weft agent apply|status|remove` for nfp and generic
// devices): loads offload.bpf.o once per port of the DPU and attaches it as
// XDP, in the best mode the port takes, and says which mode took effect.
//
// Modes, tried in this order:
//   offload  program and maps bound to the NIC (prog_ifindex, map_ifindex)
//            and attached with XDP_FLAGS_HW_MODE; profiles whose attach kind
//            is xdp-offload only
//   native   XDP in the driver (XDP_FLAGS_DRV_MODE)
//   generic  XDP on the skb path (XDP_FLAGS_SKB_MODE)
// A fallback is never silent: the result and `status` name the mode and why
// the better one was refused, and --require-offload makes a port that cannot
// offload an error, with nothing changed on any port.
//
// Every apply loads a new object per port and replaces the attached program
// in one step (a reload: NIC maps are small and preallocated). State:
//   /sys/fs/bpf/weft/<scope>/dpu/<port>/  the program and its counter maps
//   /run/weft/<scope>/dpu-state.json      bundle, generation, per-port mode

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { libbpf, LibbpfError, XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE } from '../host/libbpf.ts';
import { inNetns } from '../host/agent.ts';
import { mapMemory } from '../host/loader.ts';
import { logger } from '../../orchestrator/log.ts';
import { DPU_COUNTERS, DPU_MAP, DPU_PROG } from './abi.ts';
import { OFFLOAD_OBJECT, readDeviceJson, type DpuDeviceJson } from './device.ts';
import { closePrefilter, loadPrefilter, readCounters, type PrefilterObject } from './loader.ts';
import { XDP_FLAGS_HW_MODE } from './offload-bind.ts';
import { readPrefilterDir, type PrefilterDir } from './prefilter.ts';
import { profileOf } from './profiles.ts';

const log = logger('dpu-agent');

const STATE_FORMAT = 'weft.dpu.agent-state/v1';
export const STATE_FILE = 'dpu-state.json';

export type XdpMode = 'offload' | 'native' | 'generic';
const MODE_FLAGS: Record<XdpMode, number> = { offload: XDP_FLAGS_HW_MODE, native: XDP_FLAGS_DRV_MODE, generic: XDP_FLAGS_SKB_MODE };

export interface DpuAgentOptions {
  netns?: string;
  bpffs?: string;
  runDir?: string;
  /** Fail unless every port runs the program on the NIC. */
  requireOffload?: boolean;
}

export interface PortAttach {
  iface: string;
  progId: number;
  /** The mode that took effect. */
  mode: XdpMode;
  /** Why better modes were not used (empty when the first choice worked). */
  refused: { mode: XdpMode; reason: string }[];
}

interface DpuAgentState {
  format: typeof STATE_FORMAT;
  device: string;
  profile: string;
  bundle: string;
  netns?: string;
  generation: number;
  ports: PortAttach[];
  rules: { index: number; name: string; action: string }[];
  appliedAt: string;
}

export interface DpuApplyResult {
  device: string;
  scope: string;
  profile: string;
  generation: number;
  ports: PortAttach[];
  entriesWritten: number;
  ms: number;
}

export interface DpuStatusResult {
  scope: string;
  device: string;
  profile: string;
  bundle: string;
  generation: number;
  appliedAt: string;
  ports: (PortAttach & { attached: boolean; counters: Record<string, string>; mapMemoryBytes: number })[];
  /** Drops per rule over all ports; index -1 is the default action. */
  drops: { index: number; name: string; drops: string }[];
}

export interface DpuRemoveResult {
  scope: string;
  device?: string;
  detached: PortAttach[];
}

function paths(o: DpuAgentOptions) {
  const scope = o.netns ?? 'host';
  const bpffs = o.bpffs ?? '/sys/fs/bpf';
  const runDir = join(o.runDir ?? '/run/weft', scope);
  return { scope, bpffs, pinDir: join(bpffs, 'weft', scope, 'dpu'), runDir, stateFile: join(runDir, STATE_FILE) };
}

function preflight(o: DpuAgentOptions): void {
  if (typeof process.geteuid === 'function' && process.geteuid() !== 0) {
    throw new Error('weft agent needs root (CAP_BPF and CAP_NET_ADMIN to load and attach eBPF); run it as root');
  }
  const { bpffs } = paths(o);
  const mounted = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((l) => {
      const f = l.split(' ');
      return f[1] === bpffs && f[2] === 'bpf';
    });
  if (!mounted) throw new Error(`no BPF filesystem mounted at ${bpffs}: mount it with \`mount -t bpf bpf ${bpffs}\``);
}

/** Scopes with prefilter agent state (for `status` without --netns). */
export function dpuScopes(o: DpuAgentOptions = {}): string[] {
  const root = o.runDir ?? '/run/weft';
  return existsSync(root) ? readdirSync(root).filter((s) => existsSync(join(root, s, STATE_FILE))) : [];
}

/** Whether a scope holds prefilter agent state (the CLI dispatches on it). */
export function hasDpuState(o: DpuAgentOptions): boolean {
  return existsSync(paths(o).stateFile);
}

function readState(file: string): DpuAgentState | undefined {
  if (!existsSync(file)) return undefined;
  const s = JSON.parse(readFileSync(file, 'utf8')) as DpuAgentState;
  if (s.format !== STATE_FORMAT) throw new Error(`${file}: unknown state format "${String(s.format)}"; run \`weft agent remove\` first`);
  return s;
}

function writeState(file: string, s: DpuAgentState): void {
  writeFileSync(`${file}.tmp`, `${JSON.stringify(s, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

function ifindexOf(name: string, ns: string | undefined): number {
  const i = libbpf.ifIndex(name);
  if (i === 0) throw new Error(`interface ${name} (from the fabric's links) does not exist${ns ? ` in network namespace ${ns}` : ''}`);
  return i;
}

function reasonOf(e: unknown): string {
  if (e instanceof LibbpfError) return e.message;
  return e instanceof Error ? e.message.split('\n')[0] : String(e);
}

/** The modes a profile may use, best first. */
function modesFor(d: DpuDeviceJson): XdpMode[] {
  return profileOf(d.profile).attach === 'xdp-offload' ? ['offload', 'native', 'generic'] : ['native', 'generic'];
}

interface Loaded {
  iface: string;
  ifindex: number;
  prog: PrefilterObject;
  mode: XdpMode;
  refused: PortAttach['refused'];
}

/**
 * Loads the program for one port in the best mode it takes and attaches it,
 * replacing the program a previous apply put there. Runs inside the netns.
 */
function attachPort(iface: string, objectPath: string, dir: PrefilterDir, modes: XdpMode[], prev: PortAttach | undefined, ns: string | undefined): Loaded {
  const ifindex = ifindexOf(iface, ns);
  const current = libbpf.xdpQueryId(ifindex, 0);
  if (current !== 0 && current !== prev?.progId) {
    throw new Error(`${iface} already runs XDP program id ${current}, not loaded by weft: a port takes one offloaded program; unload it first (xdp-loader unload ${iface} --all)`);
  }
  const refused: PortAttach['refused'] = [];
  for (const mode of modes) {
    let prog: PrefilterObject | undefined;
    try {
      prog = loadPrefilter(objectPath, dir, mode === 'offload' ? ifindex : undefined);
      // A program in another mode than ours must come off first: XDP replaces only within a mode.
      if (prev && prev.mode !== mode && current !== 0) libbpf.xdpDetach(ifindex, MODE_FLAGS[prev.mode]);
      const rc = libbpf.xdpAttach(ifindex, prog.prog, MODE_FLAGS[mode]);
      if (rc < 0) throw new LibbpfError('bpf_xdp_attach', -rc, `${iface} in ${mode} mode`);
      return { iface, ifindex, prog, mode, refused };
    } catch (e) {
      if (prog) closePrefilter(prog);
      refused.push({ mode, reason: reasonOf(e) });
      log.info({ iface, mode, reason: reasonOf(e) }, 'XDP mode refused, trying the next');
    }
  }
  throw new Error(`${iface}: no XDP mode took the prefilter: ${refused.map((r) => `${r.mode}: ${r.reason}`).join('; ')}`);
}

function pinPort(pinDir: string, l: Loaded): void {
  const dir = join(pinDir, l.iface);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  libbpf.pin(l.prog.prog, join(dir, DPU_PROG));
  libbpf.pin(l.prog.fds.counters, join(dir, DPU_MAP.counters));
  libbpf.pin(l.prog.fds.stats, join(dir, DPU_MAP.stats));
  libbpf.pin(l.prog.fds.id4, join(dir, DPU_MAP.id4));
  libbpf.pin(l.prog.fds.policy, join(dir, DPU_MAP.policy));
}

/** Whether the port can run the program on the NIC: a test load bound to it, released at once. */
function offloadRefusal(iface: string, objectPath: string, dir: PrefilterDir, ns: string | undefined): string | undefined {
  const ifindex = ifindexOf(iface, ns);
  try {
    closePrefilter(loadPrefilter(objectPath, dir, ifindex));
    return undefined;
  } catch (e) {
    return reasonOf(e);
  }
}

export function dpuAgentApply(bundleDir: string, deviceName: string, o: DpuAgentOptions = {}): DpuApplyResult {
  const t0 = performance.now();
  preflight(o);
  const { scope, pinDir, runDir, stateFile } = paths(o);
  const deviceDir = join(bundleDir, 'devices', deviceName);
  const d = readDeviceJson(deviceDir);
  const dir = readPrefilterDir(deviceDir);
  const objectPath = join(deviceDir, OFFLOAD_OBJECT);
  const state = readState(stateFile);
  if (state && state.device !== deviceName) throw new Error(`scope ${scope} runs device ${state.device}; remove it first (weft agent remove${o.netns ? ` --netns ${o.netns}` : ''})`);
  const modes = modesFor(d);
  const ports = d.interfaces.map((i) => i.name);
  if (o.requireOffload) {
    // Checked on every port before any is touched: a refusal changes nothing.
    if (!modes.includes('offload')) throw new Error(`${deviceName}: --require-offload, but profile ${d.profile} does not offload (its attach kind is ${profileOf(d.profile).attach})`);
    const refusals = inNetns(o.netns, () => ports.map((p) => ({ p, why: offloadRefusal(p, objectPath, dir, o.netns) })).filter((r) => r.why !== undefined));
    if (refusals.length) throw new Error(`${deviceName}: --require-offload, but ${refusals.map((r) => `${r.p} cannot offload (${r.why})`).join('; ')}`);
  }
  const loaded = inNetns(o.netns, () => {
    const done: Loaded[] = [];
    try {
      for (const p of ports) done.push(attachPort(p, objectPath, dir, o.requireOffload ? ['offload'] : modes, state?.ports.find((x) => x.iface === p), o.netns));
      return done;
    } catch (e) {
      // Ports attached by this apply before the failure: the previous programs (if any) are gone, so take ours off too rather than run half a generation.
      for (const l of done) {
        libbpf.xdpDetach(l.ifindex, MODE_FLAGS[l.mode]);
        closePrefilter(l.prog);
      }
      throw e;
    }
  });
  try {
    mkdirSync(runDir, { recursive: true });
    for (const l of loaded) pinPort(pinDir, l);
    // Ports of an earlier generation that this bundle no longer lists.
    for (const old of state?.ports ?? []) {
      if (ports.includes(old.iface)) continue;
      detachPorts([old], o.netns);
      rmSync(join(pinDir, old.iface), { recursive: true, force: true });
    }
    const next: DpuAgentState = {
      format: STATE_FORMAT,
      device: deviceName,
      profile: d.profile,
      bundle: bundleDir,
      netns: o.netns,
      generation: (state?.generation ?? 0) + 1,
      ports: loaded.map((l) => ({ iface: l.iface, progId: inNetns(o.netns, () => libbpf.xdpQueryId(l.ifindex, MODE_FLAGS[l.mode])), mode: l.mode, refused: l.refused })),
      rules: dir.share.rules,
      appliedAt: new Date().toISOString(),
    };
    writeState(stateFile, next);
    const entries = dir.share.id4.length + dir.share.policy.length;
    return { device: deviceName, scope, profile: d.profile, generation: next.generation, ports: next.ports, entriesWritten: entries * loaded.length, ms: performance.now() - t0 };
  } finally {
    // Attachments and pins hold the kernel objects from here on.
    for (const l of loaded) closePrefilter(l.prog);
  }
}

function detachPorts(ports: PortAttach[], ns: string | undefined): void {
  inNetns(ns, () => {
    for (const p of ports) {
      const ifindex = libbpf.ifIndex(p.iface);
      if (ifindex !== 0 && libbpf.xdpQueryId(ifindex, MODE_FLAGS[p.mode]) === p.progId) libbpf.xdpDetach(ifindex, MODE_FLAGS[p.mode]);
    }
  });
}

function nsExists(ns: string | undefined): boolean {
  return ns === undefined || ['/run/netns', '/var/run/netns'].some((d) => existsSync(join(d, ns)));
}

export function dpuAgentStatus(o: DpuAgentOptions = {}): DpuStatusResult {
  preflight(o);
  const { scope, pinDir, stateFile } = paths(o);
  const state = readState(stateFile);
  if (!state) throw new Error(`nothing applied in scope ${scope} (weft agent apply BUNDLE --device NAME${o.netns ? ` --netns ${o.netns}` : ''})`);
  const drops = new Array<bigint>(state.rules.length + 1).fill(0n);
  const ports = state.ports.map((p) => {
    const attached = nsExists(o.netns) && inNetns(o.netns, () => {
      const ifindex = libbpf.ifIndex(p.iface);
      return ifindex !== 0 && libbpf.xdpQueryId(ifindex, MODE_FLAGS[p.mode]) === p.progId;
    });
    const open = (map: string) => libbpf.objGet(join(pinDir, p.iface, map));
    const counters = open(DPU_MAP.counters);
    const stats = open(DPU_MAP.stats);
    let values: bigint[] = [];
    let mem = 0;
    try {
      if (counters >= 0) values = readCounters(counters, DPU_COUNTERS.length);
      if (stats >= 0) readCounters(stats, drops.length).forEach((v, i) => (drops[i] += v));
      for (const fd of [counters, stats]) if (fd >= 0) mem += mapMemory(fd);
      for (const map of [DPU_MAP.id4, DPU_MAP.policy]) {
        const fd = open(map);
        if (fd >= 0) {
          mem += mapMemory(fd);
          libbpf.closeFd(fd);
        }
      }
    } finally {
      if (counters >= 0) libbpf.closeFd(counters);
      if (stats >= 0) libbpf.closeFd(stats);
    }
    return { ...p, attached, counters: Object.fromEntries(DPU_COUNTERS.map((c, i) => [c, String(values[i] ?? 0n)])), mapMemoryBytes: mem };
  });
  return {
    scope,
    device: state.device,
    profile: state.profile,
    bundle: state.bundle,
    generation: state.generation,
    appliedAt: state.appliedAt,
    ports,
    drops: [{ index: -1, name: '(default action)', drops: String(drops[0]) }, ...state.rules.map((r, i) => ({ index: r.index, name: r.name, drops: String(drops[i + 1]) }))],
  };
}

export function dpuAgentRemove(o: DpuAgentOptions = {}): DpuRemoveResult {
  preflight(o);
  const { scope, pinDir, runDir, stateFile, bpffs } = paths(o);
  const state = readState(stateFile);
  if (state && nsExists(o.netns)) detachPorts(state.ports, o.netns);
  rmSync(pinDir, { recursive: true, force: true });
  rmSync(stateFile, { force: true });
  // The scope's folders go only when nothing else (a host agent) uses them.
  for (const d of [join(bpffs, 'weft', scope), runDir, join(bpffs, 'weft')]) if (existsSync(d) && readdirSync(d).length === 0) rmSync(d, { recursive: true, force: true });
  return { scope, device: state?.device, detached: state?.ports ?? [] };
}
