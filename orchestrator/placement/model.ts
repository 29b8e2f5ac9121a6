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
