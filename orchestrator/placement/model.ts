// Placement: which enforcement point enforces what, and why (README, Where
// the policy is enforced).

import type { EnforcementMode, TargetName } from '../../targets/contract.ts';

export interface EnforcementPoint {
  device: string;
  target: TargetName;
  /** Interface and direction, e.g. "eth1 ingress"; or "*" for all endpoint-facing ports. */
  attach: string;
  mode: EnforcementMode;
}

export interface DevicePlacement {
  device: string;
  target: TargetName;
  mode: EnforcementMode;
  /** Identities this device is exact for: a host's or DPU's endpoints; a switch's unmanaged endpoints behind its ports. */
  localIdentities: number[];
  /** Local interfaces (from the fabric's links) and the role of each. */
  interfaces: { name: string; role: 'uplink' | 'endpoint' | 'host' | 'unmanaged-endpoint' }[];
  reason: string;
}

export interface RulePlacement {
  rule: number;
  name: string;
  points: (EnforcementPoint & { reason: string })[];
}

export interface Placement {
  devices: DevicePlacement[];
  rules: RulePlacement[];
}

export const COMPACT_PLACEMENT_FORMAT = 'weft-placement/2';

/**
 * Placement as placement.json holds it. Many rules name the same groups, and
 * a side's points on a device (with their reason) depend only on the side,
 * so each distinct point is listed once and rules refer to lists of them:
 * the file grows with distinct sides times the devices they touch, not with
 * rules times devices.
 */
export interface CompactPlacement {
  format: typeof COMPACT_PLACEMENT_FORMAT;
  devices: DevicePlacement[];
  /** Distinct points: [index into devices, attach, mode, reason]. */
  points: [number, string, EnforcementMode, string][];
  /** Lists of indices into points, in ascending device order. */
  fragments: number[][];
  /** A rule's points: its source side's fragment, then its destination side's, merged by device (-1: none). */
  rules: { rule: number; name: string; from: number; to: number }[];
}
