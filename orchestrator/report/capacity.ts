// A device's entries against its capacity, from what compile recorded: the
// entry count its target's codegen reported (`entries`, or `policyEntries`
// for the eBPF targets) against the limit it reported (`capacity`) or, when
// the target records none, the inventory's capacity.aclEntries.

import type { Device } from '../../inventory/model.ts';
import type { ManifestDevice } from '../compile/manifest.ts';

/** Fraction of the capacity from which a device is shown as nearly full. */
export const NEAR_FULL = 0.8;

export type UsageLevel = 'ok' | 'near' | 'over' | 'unknown';

export interface Usage {
  used?: number;
  limit?: number;
  /** Where the limit comes from, for the reader. */
  limitFrom?: 'codegen' | 'inventory';
  level: UsageLevel;
}

const USED_STATS = ['entries', 'policyEntries'] as const;

export function usageOf(m: ManifestDevice, device: Device | undefined): Usage {
  const used = USED_STATS.map((k) => m.stats[k]).find((v) => v !== undefined);
  const fromCodegen = m.stats.capacity;
  const fromInventory = device?.capacity?.aclEntries;
  const limit = fromCodegen ?? fromInventory;
  const limitFrom = fromCodegen !== undefined ? 'codegen' : fromInventory !== undefined ? 'inventory' : undefined;
  const level: UsageLevel = used === undefined || limit === undefined || limit <= 0 ? 'unknown' : used > limit ? 'over' : used >= NEAR_FULL * limit ? 'near' : 'ok';
  return { ...(used !== undefined ? { used } : {}), ...(limit !== undefined ? { limit, limitFrom } : {}), level };
}
