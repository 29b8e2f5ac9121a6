// The compiler's intermediate representation: identities (classes of
// addresses with equal group membership), the longest-prefix table mapping
// addresses to identities, and the policy resolved into disjoint cells.

import type { Cidr, Family } from '../net/ip.ts';
import type { Action } from '../policy/model.ts';
import type { SourceSpan } from '../diagnostics.ts';

/** Identity 1 is every address that belongs to no group ("world"). */
export const WORLD_IDENTITY = 1;

/**
 * IR protocol dimension: the protocols a policy can name, plus OTHER for
 * every remaining IP protocol (which carries no ports).
 */
export const PROTO_OTHER = 0;
export type IrProto = 0 | 1 | 6 | 17 | 58;
export const IR_PROTOS: readonly IrProto[] = [0, 1, 6, 17, 58];

export interface Identity {
  id: number;
  /** Sorted names of the groups containing these addresses; [] for world. */
  groups: string[];
  /** Endpoints (by name) having at least one address in this identity. */
  endpoints: string[];
  /**
   * Address families this identity has addresses in. Cells pairing
   * identities with no family in common are never emitted (no flow mixes
   * families). Absent in hand-built IRs: both families assumed.
   */
  families?: Family[];
}

/**
 * One LPM entry: addresses matched by `prefix` and by no longer entry have
 * identity `id`. Entries of one family nest or are disjoint; each family has
 * a /0 entry, so every address resolves.
 */
export interface LpmEntry {
  prefix: Cidr;
  id: number;
}

export interface IrRule {
  index: number;
  name: string;
  section: string;
  action: Action;
  log: boolean;
  span: SourceSpan;
}

/**
 * The cells, columnar. Cell i covers flows with source identity src[i],
 * destination identity dst[i], IR protocol proto[i] and port key in
 * lo[i]..hi[i] (inclusive), where the port key is:
 *   tcp/udp: the destination port;
 *   icmp/icmpv6: (type << 8) | code;
 *   other: 0.
 * Its verdict is rules[rule[i]].action. Cells are disjoint and sorted by
 * (src, dst, proto, lo). Flows in no cell get the policy's defaultAction.
 */
export interface CellTable {
  length: number;
  src: Uint32Array;
  dst: Uint32Array;
  proto: Uint8Array;
  lo: Uint16Array;
  hi: Uint16Array;
  rule: Int32Array;
}

export interface Ir {
  policyName: string;
  policyDigest: string;
  fabricDigest: string;
  defaultAction: Action;
  identities: Identity[]; // sorted by id
  lpm: LpmEntry[]; // sorted by (family, addr, len)
  rules: IrRule[]; // same order and index as Policy.rules
  cells: CellTable;
}
