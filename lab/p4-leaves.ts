// What runs the lab's P4 leaves: bmv2 (simple_switch_grpc with the PI
// P4Runtime server, running p4c's compile of p4/weft.p4) when the P4 tools
// are on this machine, or the emulated P4Runtime agent enforcing through
// nftables (lab/agents/) otherwise. `--p4 bmv2|emulated|auto` picks; a forced
// bmv2 without its tools is refused before anything is built.
//
// A bmv2 leaf runs in its node's namespace on its forwarding data veths (the
// port number is the interface name's number, as the P4 target numbers
// ports), its gRPC server on the node's management address, where the lab's
// inventory already points `weft apply`. Deploy then makes the pipeline
// Weft's and fills the forwarding stage (weft_l2_fwd, the flood group) from
// the topology; the policy's tables stay empty until `weft lab apply`.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../orchestrator/diagnostics.ts';
import { nodeEntry } from '../orchestrator/package-root.ts';
import { portNumber } from '../targets/p4/codegen.ts';
import { forwardingUpdates, linkLocalDropUpdates, type ForwardingUpdate } from '../targets/p4/forwarding.ts';
import { compileP4, findP4Tool, P4_BUILD_DIR, p4ToolMissing } from '../targets/p4/p4c.ts';
import { P4INFO } from '../targets/p4/p4info.ts';
import { bmv2ConfigProblems, firstProblems } from '../targets/p4/pipeline-check.ts';
import { endpointMac, endpointsBehindPorts } from './forwarding.ts';
import { run } from './exec.ts';
import { bmv2Command } from './p4-switch.ts';
import { startInNetns } from './services.ts';
import type { LabProcess, P4SwitchKind } from './state.ts';
import type { LabNode, LabTopology } from './topology.ts';

/** What `--p4` accepts. */
export const P4_CHOICES = ['auto', 'bmv2', 'emulated'] as const;
export type P4Choice = (typeof P4_CHOICES)[number];

export interface P4LeafPlan {
  kind: P4SwitchKind;
  /** Why this kind, for deploy's report. */
  reason: string;
  /** bmv2: the device config (p4c's bmv2 JSON) the leaves run. */
  deviceConfig?: Buffer;
}

/** Where a lab keeps the device config its inventory references, relative to the lab directory. */
export const LAB_DEVICE_CONFIG = join('p4', 'weft.json');

export function isP4Leaf(n: Pick<LabNode, 'role' | 'pipeline'>): boolean {
  return n.role === 'switch' && n.pipeline === 'p4';
}

/**
 * p4c's bmv2 JSON of Weft's program: the one `npm run build:p4` wrote when it
 * is the checked-in P4Info's program, else compiled now when p4c is here.
 */
async function bmv2DeviceConfig(): Promise<{ config?: Buffer; why?: string }> {
  const built = join(P4_BUILD_DIR, 'weft.json');
  let stale = '';
  if (existsSync(built)) {
    const config = readFileSync(built);
    const problems = bmv2ConfigProblems(config, P4INFO);
    if (problems.length === 0) return { config };
    stale = `${built} is not the program of p4/weft.p4info.txtpb (${firstProblems(problems)}); `;
  }
  if (!findP4Tool('p4c-bm2-ss')) return { why: `${stale}no built bmv2 JSON (npm run build:p4) and ${p4ToolMissing('p4c-bm2-ss')}` };
  const compiled = await compileP4();
  const problems = bmv2ConfigProblems(compiled.bmv2Json, P4INFO);
  if (problems.length > 0) return { why: `p4c's bmv2 JSON of p4/weft.p4 does not match p4/weft.p4info.txtpb: ${firstProblems(problems)}` };
  return { config: compiled.bmv2Json };
}

/** Decides what runs the P4 leaves; refuses (exit 2) a forced bmv2 the machine cannot run. */
export async function planP4Leaves(choice: P4Choice, topo: LabTopology): Promise<P4LeafPlan> {
  if (!topo.nodes.some(isP4Leaf)) return { kind: 'emulation', reason: 'no P4 leaves' };
  if (choice === 'emulated') return { kind: 'emulation', reason: 'chosen with --p4 emulated' };
  let why: string | undefined;
  let config: Buffer | undefined;
  if (!findP4Tool('simple_switch_grpc')) why = p4ToolMissing('simple_switch_grpc');
  else ({ config, why } = await bmv2DeviceConfig());
  if (config) return { kind: 'bmv2', reason: choice === 'bmv2' ? 'chosen with --p4 bmv2' : 'simple_switch_grpc found', deviceConfig: config };
  if (choice === 'bmv2') {
    throw new InputError([
      {
        code: 'p4-bmv2-unavailable',
        severity: 'error',
        message: `--p4 bmv2: cannot run the P4 leaves on bmv2: ${why}`,
        hint: 'valid: --p4 auto (bmv2 when available, else the emulation) or --p4 emulated; bmv2 needs simple_switch_grpc and p4c (or npm run build:p4 beforehand)',
      },
    ]);
  }
  return { kind: 'emulation', reason: `bmv2 unavailable: ${why}` };
}

/** Writes the plan's device config into the lab directory; returns its path relative to it (the inventory's reference). */
export function writeDeviceConfig(dir: string, plan: P4LeafPlan): string {
  if (!plan.deviceConfig) throw new Error('no bmv2 device config to write');
  mkdirSync(join(dir, 'p4'), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, LAB_DEVICE_CONFIG), plan.deviceConfig, { mode: 0o600 });
  return LAB_DEVICE_CONFIG;
}

/** P4 port number -> interface, for a leaf's forwarding ports (blocked ones are never given to the switch). */
export function bmv2Ports(ports: string[], blocked: string[]): Record<number, string> {
  const out: Record<number, string> = {};
  for (const p of ports) {
    if (blocked.includes(p)) continue;
    const n = portNumber(p);
    if (out[n] !== undefined) throw new Error(`ports ${out[n]} and ${p} both number ${n}: bmv2 needs one interface per port number`);
    out[n] = p;
  }
  return out;
}

/** Starts a leaf's bmv2, detached, its output in the node's directory; returns the process as the lab records it. */
export function startBmv2Leaf(opts: { netns: string; node: string; nodeDir: string; address: string; port: number; deviceId: number; ports: Record<number, string> }): LabProcess {
  const log = join(opts.nodeDir, 'bmv2.log');
  const argv = bmv2Command({ netns: opts.netns, ports: opts.ports, deviceId: opts.deviceId, grpcAddress: `${opts.address}:${opts.port}` });
  const pid = startInNetns(opts.netns, argv, log);
  return { node: opts.node, netns: opts.netns, service: 'bmv2', pid, log };
}

/** What deploy writes into one bmv2 leaf once its server listens (see lab/bmv2-program.ts). */
export interface Bmv2LeafProgram {
  device: string;
  /** The leaf's P4Runtime server as the management namespace reaches it. */
  address: string;
  deviceId: number;
  /** weft_l2_fwd and the flood group, then the link-local drops. */
  updates: ForwardingUpdate[];
}

/** The forwarding stage of one leaf: every endpoint MAC behind each forwarding port, flooding over those ports. */
export function leafForwarding(topo: LabTopology, node: LabNode, blocked: Map<string, string[]>): ForwardingUpdate[] {
  const behind = endpointsBehindPorts(topo, node.name, blocked);
  const hosts = [...behind].flatMap(([port, eps]) => eps.map((e) => ({ mac: endpointMac(topo, e), port: portNumber(port) })));
  const ports = [...behind.keys()].map(portNumber);
  return [...forwardingUpdates(hosts, ports), ...linkLocalDropUpdates()];
}

export interface Bmv2LeafProgrammed {
  device: string;
  /** weft_l2_fwd entries read back after the write. */
  l2Entries: number;
}

/**
 * Programs the leaves from inside the lab's management namespace (where
 * their servers are reachable): pipeline with the device config and its
 * cookie, then the forwarding stage.
 */
export async function programBmv2Leaves(mgmtNetns: string, deviceConfigPath: string, leaves: Bmv2LeafProgram[]): Promise<Bmv2LeafProgrammed[]> {
  if (leaves.length === 0) return [];
  const argv = ['netns', 'exec', mgmtNetns, process.execPath, ...nodeEntry('lab/bmv2-program.ts')];
  const { code, stdout, stderr } = await run(['ip', ...argv], { input: JSON.stringify({ deviceConfigPath, leaves }), allowFail: true });
  if (code !== 0) throw new Error(`programming the bmv2 leaves failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(stdout) as Bmv2LeafProgrammed[];
}
