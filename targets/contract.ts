// The one interface between the orchestrator and a target. Each folder under
// targets/ exports one `Target`; targets/registry.ts lists them.

import type { Device, Fabric } from '../inventory/model.ts';
import type { Ir } from '../orchestrator/ir/model.ts';
import type { Policy } from '../orchestrator/policy/model.ts';
import type { Placement, DevicePlacement } from '../orchestrator/placement/model.ts';

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
}
