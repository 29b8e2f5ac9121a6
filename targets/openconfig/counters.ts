// Per-rule hit counters of an OpenConfig switch: the matched-packets state
// leaf of every acl-entry on every interface it is bound to (one Subscribe
// ONCE), attributed through the running acl-sets' entry descriptions, which
// codegen.ts writes as the entry's origin ("rule <name>", "reply of <name>",
// "default deny", ...), and summed per rule by switch-common.

import type { RuleHits } from '../contract.ts';
import { sumByOrigin } from '../switch-common/index.ts';
import type { AclConfig } from './model.ts';

/** Counters keyed "interface/set/type/seq" (OpenconfigDriver.counters) summed per rule of the running config. */
export function openconfigCounterHits(running: AclConfig, counted: Map<string, bigint>): RuleHits[] {
  const description = new Map<string, string>();
  for (const s of running.sets) for (const e of s.entries) description.set(`${s.name}/${s.type}/${e.seq}`, e.description ?? `entry ${e.seq} of ${s.name}`);
  const entries: { origin: string; packets: bigint }[] = [];
  for (const [key, packets] of counted) {
    // Interface names may hold slashes (Ethernet1/1); set, type and seq are the last three parts.
    const setKey = key.split('/').slice(-3).join('/');
    entries.push({ origin: description.get(setKey) ?? `entry ${setKey} (not in the running acl-sets)`, packets });
  }
  return sumByOrigin(entries);
}
