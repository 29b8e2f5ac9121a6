// A flow as the policy sees it, and the packet-level view used for stateful
// checks (replies).

import type { IpAddr } from './net/ip.ts';

/**
 * proto is the IP protocol number. For tcp/udp, sport/dport are ports; for
 * icmp/icmpv6, icmpType/icmpCode are set and ports are 0. Other protocols
 * carry no ports. src and dst are of the same family.
 */
export interface Flow {
  src: IpAddr;
  dst: IpAddr;
  proto: number;
  sport: number;
  dport: number;
  icmpType?: number;
  icmpCode?: number;
  /** ICMP echo identifier: pairs an echo reply with its request. */
  icmpId?: number;
}

export type Verdict = 'allow' | 'deny';
