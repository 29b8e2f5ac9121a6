// What an emulated switch agent enforces in its node's datapath. The P4Runtime
// and gNMI agents translate what they were given (table entries, acl-sets)
// into this one ordered list; a datapath backend (nftables in the lab, an
// in-memory table in tests) enforces it on the node's forwarded traffic.

export type AclField =
  | 'etherType'
  | 'ipv4Src'
  | 'ipv4Dst'
  | 'ipv6Src'
  | 'ipv6Dst'
  | 'ipProto'
  | 'l4Src'
  | 'l4Dst'
  | 'tcpFlags'
  | 'icmpType'
  | 'icmpCode';

/** Matches when (field & mask) === value. */
export interface TernaryMatch {
  kind: 'ternary';
  value: bigint;
  mask: bigint;
}

/** Matches when lo <= field <= hi. */
export interface RangeMatch {
  kind: 'range';
  lo: bigint;
  hi: bigint;
}

/** Matches when the field lies in any of the intervals [lo, hi]; no interval matches nothing. */
export interface SetMatch {
  kind: 'set';
  ranges: [bigint, bigint][];
}

export type FieldMatch = TernaryMatch | RangeMatch | SetMatch;

export interface SwitchAclEntry {
  /** Higher wins. */
  priority: number;
  /** Ingress interface name inside the node; absent: every port. */
  inPort?: string;
  match: Partial<Record<AclField, FieldMatch>>;
  action: 'permit' | 'deny';
  /** Stable handle for counters (a table entry's key, an acl entry's set:seq). */
  id: string;
}

export interface SwitchAclTable {
  entries: SwitchAclEntry[];
  /** Verdict for IP packets no entry matches. */
  defaultIp: 'permit' | 'deny';
  /** Verdict for non-IP packets (ARP, LLDP) no entry matches. */
  defaultNonIp: 'permit' | 'deny';
}

export interface SwitchDatapath {
  /** Replaces the whole table atomically. */
  program(table: SwitchAclTable): Promise<void>;
  /** Packets matched per entry id. */
  counters(): Promise<Map<string, bigint>>;
  close(): Promise<void>;
}
