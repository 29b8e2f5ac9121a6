// Per-rule hit counters of a P4 switch: the ACL's direct counter of every
// entry (P4Runtime Read of DirectCounterEntry, client.ts readCounters),
// summed back to the rule each entry comes from. The entry's metadata is its
// origin as codegen.ts wrote it, "<band>: <what>", the band being
// "prefilter" or "<port> exact" (and absent for the control permits on top);
// what follows is read by switch-common's entryOrigin.

import type { RuleHits } from '../contract.ts';
import { sumByOrigin } from '../switch-common/index.ts';
import type { AclEntry } from './entries.ts';

/** The origin without its band: what entryOrigin reads. */
export function originWithoutBand(origin: string): string {
  const m = /^(?:prefilter|\S+ exact): (.*)$/.exec(origin);
  return m ? m[1] : origin;
}

/** Counted entries, summed per rule. */
export function p4CounterHits(counted: { entry: Pick<AclEntry, 'origin'>; packets: bigint; bytes: bigint }[]): RuleHits[] {
  return sumByOrigin(counted.map((c) => ({ origin: originWithoutBand(c.entry.origin), packets: c.packets, bytes: c.bytes })));
}
