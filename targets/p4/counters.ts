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

/**
 * An exact port's block closes with one deny of all IP entering the port:
 * "default deny", or "other sources" when the endpoints' sources are known.
 * Under a default-allow policy the block also holds a "default permit" for
 * those sources, and the closing deny drops only spoofed sources; otherwise
 * it is where the port's default deny counts, and is reported as the default.
 */
function closingAsDefault(origins: string[]): (origin: string) => string {
  const permitting = new Set(origins.flatMap((o) => /^(\S+) exact: default permit$/.exec(o)?.slice(1) ?? []));
  return (origin) => {
    const port = /^(\S+) exact: other sources$/.exec(origin)?.[1];
    return port !== undefined && !permitting.has(port) ? 'default deny' : originWithoutBand(origin);
  };
}

/** Counted entries, summed per rule. */
export function p4CounterHits(counted: { entry: Pick<AclEntry, 'origin'>; packets: bigint; bytes: bigint }[]): RuleHits[] {
  const originOf = closingAsDefault(counted.map((c) => c.entry.origin));
  return sumByOrigin(counted.map((c) => ({ origin: originOf(c.entry.origin), packets: c.packets, bytes: c.bytes })));
}
