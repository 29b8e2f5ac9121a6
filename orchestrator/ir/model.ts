// The compiler's intermediate representation: identities (classes of
// addresses with equal group membership), the longest-prefix table mapping
// addresses to identities, and the ordered rules over identity sets. No
// product of identities is ever stored: a device's share of the policy is
// derived from these rules (share.ts), sized by what the device holds.

import type { Cidr, Family } from '../net/ip.ts';
import type { Action } from '../policy/model.ts';
import type { SourceSpan } from '../diagnostics.ts';

/** Identity 1 is every address that belongs to no group ("world"). */
export const WORLD_IDENTITY = 1;

/**
 * IR protocol dimension: the protocols a policy can name, plus OTHER for
 * every remaining IP protocol (0, which carries no ports).
 */
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

/**
 * One side of a rule: `any` (every address, a wildcard that costs nothing),
 * or the identities whose groups include at least one of `groups` (sorted
 * names). Identity sets are named by groups rather than listed, so a rule
 * costs the size of its text, however many identities its groups hold
 * (reach.ts resolves them on demand).
 */
export type IrPeers = 'any' | { groups: string[] };

/**
 * Port keys a rule matches, per IR protocol in IR_PROTOS order: sorted,
 * disjoint, non-adjacent [lo, hi] pairs, flattened. The port key is:
 *   tcp/udp: the destination port;
 *   icmp/icmpv6: (type << 8) | code;
 *   other: 0.
 */
export type IrServices = number[][];

export interface IrRule {
  /** First-match position: the rule's index in Policy.rules. */
  index: number;
  name: string;
  section: string;
  action: Action;
  log: boolean;
  span: SourceSpan;
  from: IrPeers;
  to: IrPeers;
  services: IrServices;
}

export interface Ir {
  policyName: string;
  policyDigest: string;
  fabricDigest: string;
  defaultAction: Action;
  identities: Identity[]; // sorted by id
  lpm: LpmEntry[]; // sorted by (family, addr, len)
  rules: IrRule[]; // same order and index as Policy.rules
}
