// The policy generations of Weft's pipeline, in the form the transition
// needs them: which tables carry a generation (the exact key field "gen" of
// the classifiers and the ACL), the default entry of weft_gen that makes a
// generation active, and the entries that close a generation (every IP
// packet dropped) for a change that cannot be made side by side.

import { ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../switch-common/index.ts';
import { entryToJson, fromBytes, toBytes } from './entries.ts';
import type { Pipeline } from './p4info.ts';
import { wireEntry, type WireEntry } from './table-entry.ts';
import { exactTernary } from './ternary.ts';

/** How a pipeline keeps two policies side by side; transition.ts knows tables only through this. */
export interface Versioning {
  /** The exact match field holding the generation, by table id; tables not listed hold one policy only. */
  genField: Map<number, number>;
  /** The flag table (keyless; its default entry selects the generation). */
  flagTable: number;
  /** The default entry of the flag table that makes `gen` active. */
  flag(gen: number): WireEntry;
  /** The generation a default entry of the flag table makes active. */
  activeOf(flag: WireEntry): number;
  /** Entries of generation `gen` that drop every IP packet and nothing else. */
  closed(gen: number): WireEntry[];
}

/** The ethertypes a closed generation drops: all of IP, one ACL entry each. */
const CLOSED_ETHERTYPES = [ETHERTYPE_IPV4, ETHERTYPE_IPV6];

/** ACL entries a change made in place needs besides one generation. */
export const CLOSING_ENTRIES = CLOSED_ETHERTYPES.length;

/** The closed generation's origin, kept as its entries' metadata. */
export const CLOSED_ORIGIN = 'policy change in place: all IP dropped';

export function versioningOf(pipe: Pipeline): Versioning {
  const genField = new Map<number, number>([[pipe.tableId, pipe.genFieldId], ...[...pipe.classifierById.values()].map((c): [number, number] => [c.tableId, c.genFieldId])]);
  const { tableId, actionId, paramId } = pipe.generation;
  return {
    genField,
    flagTable: tableId,
    flag: (gen) => ({ tableId, match: [], isDefaultAction: true, action: { action: { actionId, params: [{ paramId, value: toBytes(BigInt(gen)).toString('base64') }] } } }),
    activeOf(flag) {
      const act = flag.action?.action as { actionId?: number; params?: { paramId?: number; value?: string }[] } | undefined;
      const v = act?.actionId === actionId ? act.params?.find((p) => p.paramId === paramId)?.value : undefined;
      if (v === undefined) throw new Error(`the default entry of table ${tableId} (weft_gen) is not set_gen(generation)`);
      return Number(fromBytes(Buffer.from(v, 'base64')));
    },
    closed: (gen) =>
      CLOSED_ETHERTYPES.map((ether) => wireEntry(entryToJson({ priority: 1, match: { ether_type: exactTernary(ether, 16) }, action: 'deny', origin: CLOSED_ORIGIN, gen }, pipe))),
  };
}
