// The policy after parsing and validation: plain data, every element carrying
// the span it came from so later stages can point back at the source.

import type { Cidr } from '../net/ip.ts';
import type { Diagnostic, SourceSpan } from '../diagnostics.ts';

export type Action = 'allow' | 'deny';

/** Protocol names of policy.yaml; `any` matches every IP protocol. */
export type ProtocolName = 'tcp' | 'udp' | 'icmp' | 'icmpv6' | 'any';

export const IPPROTO = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58 } as const;

/**
 * One entry of a rule's `ports` list, normalised.
 * - tcp/udp: destination port range lo..hi (0..65535 when no port is given).
 * - icmp/icmpv6: type and code ranges (0..255 when omitted).
 * - any: every protocol, every port.
 */
export type PortMatch =
  | { protocol: 'tcp' | 'udp'; lo: number; hi: number; span: SourceSpan }
  | { protocol: 'icmp' | 'icmpv6'; type?: number; code?: number; span: SourceSpan }
  | { protocol: 'any'; span: SourceSpan };

export interface GroupDef {
  name: string;
  /** Endpoints whose labels include every key/value here; absent: no selector. */
  selector?: Record<string, string>;
  cidrs: Cidr[];
  except: Cidr[];
  span: SourceSpan;
}

/** A rule endpoint reference: a group name or the literal `any`. */
export type PeerRef = { kind: 'any' } | { kind: 'group'; name: string; span: SourceSpan };

export interface Rule {
  /** Position in the flattened, ordered rule list (0-based): first match wins. */
  index: number;
  name: string;
  section: string; // '' for a top-level `rules:` list
  from: PeerRef[];
  to: PeerRef[];
  /** Empty means every protocol and port (as `[{protocol: any}]`). */
  ports: PortMatch[];
  action: Action;
  log: boolean;
  span: SourceSpan;
}

export interface Section {
  name: string;
  span: SourceSpan;
}

export interface Policy {
  file: string;
  name: string;
  defaultAction: Action;
  groups: Map<string, GroupDef>;
  sections: Section[];
  rules: Rule[];
  /** sha256 of the source text, hex. */
  digest: string;
  /** Warnings about the file itself (unknown keys); absent when there are none. */
  warnings?: Diagnostic[];
}
