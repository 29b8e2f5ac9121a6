// A lab's state on disk (/run/weft/labs/<lab>/state.json): every namespace and
// process the emulator made, recorded before it is made, so `destroy` finds
// them all even after a crash. Also the names generated from the lab name.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const STATE_VERSION = 1;

/** Root of every lab's state; overridable so tests can keep their own. */
export function labsRoot(): string {
  return process.env.WEFT_LABS_DIR ?? '/run/weft/labs';
}

export function labDir(lab: string): string {
  return join(labsRoot(), lab);
}

export interface LabProcess {
  node: string;
  netns: string;
  service: 'sshd' | 'snmpd' | 'lldpd' | 'p4runtime-agent' | 'gnmi-agent' | 'bmv2';
  pid: number;
  /** Where its output goes. */
  log: string;
}

/** What runs a P4 leaf of the lab. */
export type P4SwitchKind = 'bmv2' | 'emulation';

export interface LabNodeState {
  name: string;
  role: string;
  netns: string;
  mgmtIpv4?: string;
  /** Data ports inside the node's namespace. */
  ports: string[];
  /** Ports left out of forwarding to break a loop (see lab/forwarding.ts). */
  blockedPorts: string[];
  pipeline?: string;
  agentPort?: number;
  /** P4 switches: what runs the pipeline, bmv2 (p4c's program) or the nftables emulation (see lab/p4-leaves.ts). */
  p4Switch?: P4SwitchKind;
  addresses?: string[];
}

export interface LabState {
  version: number;
  lab: string;
  topologyFile: string;
  phase: 'deploying' | 'ready' | 'destroying';
  createdAt: string;
  mgmtNetns: string;
  mgmtSubnet: string;
  mgmtGateway: string;
  /** Every namespace made for this lab, added before it is created. */
  namespaces: string[];
  processes: LabProcess[];
  nodes: LabNodeState[];
  inventory?: string;
  /** What runs the P4 leaves, and why (absent in a lab without P4 leaves). */
  p4?: { kind: P4SwitchKind; reason: string };
  /** Generation digest last applied per device (written by `weft lab apply`). */
  applied: Record<string, { generation: string; at: string }>;
}

export function statePath(lab: string): string {
  return join(labDir(lab), 'state.json');
}

export function readState(lab: string): LabState | undefined {
  const p = statePath(lab);
  if (!existsSync(p)) return undefined;
  const s = JSON.parse(readFileSync(p, 'utf8')) as LabState;
  if (s.version !== STATE_VERSION) throw new Error(`${p}: lab state version ${s.version}, this Weft reads ${STATE_VERSION}; destroy the lab with the Weft that made it`);
  return s;
}

/** Written to a temp file and renamed, so a crash never leaves half a state file. */
export function writeState(s: LabState): void {
  const dir = labDir(s.lab);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.state.json.${process.pid}`);
  writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, statePath(s.lab));
}

/** Namespace names: unique per lab, recognisable, and tagged on their loopback (see netnsTag). */
export function netnsName(lab: string, node: string): string {
  return `weft-${lab}-${node}`;
}

export function mgmtNetnsName(lab: string): string {
  return `weft-${lab}-mgmt`;
}

/** The ifalias every lab interface carries, so cleanup can tell Weft's own from anything else. */
export function netnsTag(lab: string): string {
  return `weft-lab:${lab}`;
}
