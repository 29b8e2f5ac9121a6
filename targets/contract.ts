// The one interface between the orchestrator and a target. Each folder under
// targets/ exports one `Target`; targets/registry.ts lists them.

import type { Device, Fabric } from '../inventory/model.ts';
import type { Ir } from '../orchestrator/ir/model.ts';
import type { Policy } from '../orchestrator/policy/model.ts';
import type { Placement, DevicePlacement } from '../orchestrator/placement/model.ts';
import type { HeldConnections } from './connections.ts';

export type TargetName = 'host' | 'dpu' | 'p4' | 'openconfig';
export type EnforcementMode = 'exact' | 'prefilter';

/** The diagnostic code of every target's "the device cannot hold this share" error, so tools can match one code. */
export const CAPACITY_EXCEEDED = 'capacity-exceeded';

export interface TargetCapabilities {
  ipv6: boolean;
  stateful: boolean;
  modes: EnforcementMode[];
}

export interface CodegenInput {
  policy: Policy;
  fabric: Fabric;
  ir: Ir;
  placement: Placement;
  device: Device;
  /** This device's share of the placement. */
  devicePlacement: DevicePlacement;
}

export interface ArtefactFile {
  /** Relative to out/devices/<device>/. */
  path: string;
  content: string | Uint8Array;
}

export interface CodegenOutput {
  files: ArtefactFile[];
  /** Stateless approximations and other things a user must know. */
  notes: string[];
  /** Sizes worth reporting (entries, map sizes, ...). */
  stats: Record<string, number>;
}

export interface VerifyOptions {
  packets: number;
  seed: number;
}

export interface VerifyReport {
  device: string;
  target: TargetName;
  mode: EnforcementMode;
  flows: number;
  mismatches: number;
  /** Up to a few mismatching flows, described for humans. */
  examples: string[];
  /** Figures of the target's own for the summary line (a NIC: how much denied traffic it dropped). */
  detail?: string;
}

/** How the orchestrator reaches a device of a target. */
export type Transport = 'ssh' | 'p4runtime' | 'gnmi';

/** Everything a driver needs to reach one device, resolved by the rollout from the inventory. */
export interface DriverContext {
  device: Device;
  /** The inventory file's directory: files the inventory references are relative to it. */
  inventoryDir: string;
  /** SSH client key file and where bundles are copied on the device (SSH transports only). */
  ssh: { identityFile: string; stagingDir: string };
  /** Deadline of each remote call. */
  timeoutMs: number;
  /** A rollout's connections, kept from a device's push to its end-of-run read-back; absent, each call opens its own. */
  connections?: HeldConnections;
}

/** One device's artefacts in a compiled bundle. */
export interface DeviceArtefacts {
  /** The bundle directory (a host agent reads the whole bundle). */
  bundleDir: string;
  /** out/devices/<name>/ of that bundle. */
  deviceDir: string;
  generation: string;
}

/** What a device runs, compared with a bundle's artefacts for it. */
export interface ReadBack {
  /** Entry-level differences (empty: the device runs exactly the artefacts). */
  differences: string[];
  /** Entries (or rules) the device runs. */
  entries: number;
}

/** What moving a device from one generation's artefacts to another's changes, in the target's own terms. */
export interface ArtefactChange {
  added: number;
  removed: number;
  modified: number;
  /** One line for humans ("table entries: 3 inserted, 0 modified, 1 deleted"). */
  summary: string;
}

/** How a push is made. */
export interface PushOptions {
  /**
   * Commit-confirmed: the device goes back by itself to what it ran before
   * unless `selfRevert.confirm` with this id comes within `withinMs`. Only
   * for drivers with `selfRevert`, on devices it supports.
   */
  confirm?: { id: string; withinMs: number };
}

/** A device that can hold a commit-confirmed revert itself (a timer on the device, not in the orchestrator). */
export interface SelfRevert {
  /** Why this device cannot hold the revert for these artefacts (undefined: it can); may ask the device. */
  unsupported(ctx: DriverContext, art: DeviceArtefacts): Promise<string | undefined>;
  /** Makes a confirm-armed push permanent; throws when nothing awaits confirmation there. */
  confirm(ctx: DriverContext, id: string): Promise<string>;
  /** Goes back at once instead of at the deadline; without it a plain push supersedes the armed revert. */
  cancel?(ctx: DriverContext, id: string): Promise<string>;
  /** Moves the deadline of the armed revert to `withinMs` from now; throws when nothing awaits confirmation there. */
  extend(ctx: DriverContext, id: string, withinMs: number): Promise<string>;
}

/**
 * Hits a device counted for one policy rule (or the default action, or one
 * of Weft's own entries), summed over the entries the rule became on it.
 */
export interface RuleHits {
  /**
   * rule: a policy rule by name; reply: the reply entries of that rule (stateless targets);
   * default: the default action; other: entries of Weft's own (`label` says which).
   */
  kind: 'rule' | 'reply' | 'default' | 'other';
  /** The rule's name (rule, reply), "default" (default), or what the entries are (other). */
  label: string;
  packets: bigint;
  /** Absent where the target counts packets only. */
  bytes?: bigint;
}

/**
 * One change the device reported, as a fresh read-back; or the end of its
 * stream (`unsupported`: the device refused to stream at all).
 */
export type DriftReport = { readBack: ReadBack } | { error: Error; unsupported: boolean };

/** A live subscription to a device's configuration, open until closed. */
export interface DriftWatch {
  close(): void;
}

/**
 * Talks to the devices of one target. Every push is all or nothing on the
 * device (it runs the old or the new artefacts, never a mix), so restoring a
 * device is pushing its earlier artefacts again.
 */
export interface TargetDriver {
  transport: Transport;
  /** Rollout wave: switches (1) go before hosts and DPUs (2), since a prefilter only ever drops more. */
  wave: 1 | 2;
  /** Makes the device run `art` and reads it back; resolves with what it did, throws unless the device runs `art`. */
  push(ctx: DriverContext, art: DeviceArtefacts, opts?: PushOptions): Promise<string>;
  /** Commit-confirmed held by the device; absent, the orchestrator's watchdog restores the device at the deadline. */
  selfRevert?: SelfRevert;
  /** Asks the device what it runs and compares it with `art`; throws when the device cannot be reached. */
  readBack(ctx: DriverContext, art: DeviceArtefacts): Promise<ReadBack>;
  /** Removes everything Weft put on the device. */
  remove(ctx: DriverContext): Promise<string>;
  /** What going from the artefacts in beforeDir to those in afterDir changes (no device involved). */
  diff(beforeDir: string, afterDir: string): Promise<ArtefactChange>;
  /**
   * Per-rule hit counters the device reports, attributed to rules through
   * what it runs (`art` says what to read alongside, e.g. defined-sets);
   * throws when it cannot be reached.
   */
  counters(ctx: DriverContext, art: DeviceArtefacts): Promise<RuleHits[]>;
  /**
   * Where the transport pushes changes (gNMI Subscribe STREAM): reports a
   * read-back against `art` once the subscription is in sync and again after
   * every change the device sends; an error ends the subscription (the caller
   * opens a new one). Absent: the caller re-reads the device on a timer.
   */
  watch?(ctx: DriverContext, art: DeviceArtefacts, report: (r: DriftReport) => void): DriftWatch;
}

export interface Target {
  name: TargetName;
  capabilities: TargetCapabilities;
  /** Which devices of a fabric this target compiles for. */
  appliesTo(device: Device): boolean;
  /** Pure with respect to its input (may run a compiler such as clang). */
  codegen(input: CodegenInput): Promise<CodegenOutput>;
  /** Checks the artefacts in deviceDir against the reference evaluator. */
  verify(deviceDir: string, input: CodegenInput, opts: VerifyOptions): Promise<VerifyReport>;
  /** The device driver, loaded when first used so compiling never loads gRPC or SSH. */
  driver(): Promise<TargetDriver>;
}
