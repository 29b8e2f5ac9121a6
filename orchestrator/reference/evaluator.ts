// The reference evaluator: the README's Semantics read literally, one rule after another.
// Every compiled artefact is tested against this module, so it stays small
// and shares no code with the identity/IR compiler it checks.

import { cidrRange, type Family, type IpAddr } from '../net/ip.ts';
import type { Action, PeerRef, Policy, PortMatch } from '../policy/model.ts';
import type { Fabric } from '../../inventory/model.ts';
import type { Flow, Verdict } from '../flow.ts';

interface Range {
  family: Family;
  lo: bigint;
  hi: bigint;
}

interface ResolvedGroup {
  name: string;
  /** Addresses of selected endpoints, as "family/value". */
  endpointAddresses: Set<string>;
  cidrs: Range[];
  except: Range[];
}

function addrKey(a: IpAddr): string {
  return `${a.family}/${a.value}`;
}

function inRanges(a: IpAddr, ranges: Range[]): boolean {
  for (const r of ranges) if (r.family === a.family && a.value >= r.lo && a.value <= r.hi) return true;
  return false;
}

export class ReferenceEvaluator {
  private readonly groups = new Map<string, ResolvedGroup>();

  /** Reads only the fabric's endpoints (explain passes just those owning a flow's addresses). */
  constructor(
    private readonly policy: Policy,
    fabric: Fabric | Pick<Fabric, 'endpoints'>,
  ) {
    for (const g of policy.groups.values()) {
      const endpointAddresses = new Set<string>();
      if (g.selector) {
        const wanted = Object.entries(g.selector);
        for (const ep of fabric.endpoints) {
          if (wanted.every(([k, v]) => ep.labels[k] === v)) for (const a of ep.addresses) endpointAddresses.add(addrKey(a));
        }
      }
      const toRange = (c: { family: Family; addr: bigint; len: number }): Range => ({ family: c.family, ...cidrRange(c) });
      this.groups.set(g.name, { name: g.name, endpointAddresses, cidrs: g.cidrs.map(toRange), except: g.except.map(toRange) });
    }
  }

  private inGroup(a: IpAddr, key: string, g: ResolvedGroup): boolean {
    if (g.endpointAddresses.has(key)) return true;
    return inRanges(a, g.cidrs) && !inRanges(a, g.except);
  }

  private inPeer(a: IpAddr, key: string, p: PeerRef): boolean {
    if (p.kind === 'any') return true;
    const g = this.groups.get(p.name);
    if (!g) throw new Error(`reference: unknown group "${p.name}"`);
    return this.inGroup(a, key, g);
  }

  /** Names of the groups containing an address, sorted. */
  groupsOf(a: IpAddr): string[] {
    const key = addrKey(a);
    const out: string[] = [];
    for (const g of this.groups.values()) if (this.inGroup(a, key, g)) out.push(g.name);
    return out.sort();
  }

  private static portMatches(m: PortMatch, f: Flow): boolean {
    switch (m.protocol) {
      case 'any':
        return true;
      case 'tcp':
        return f.proto === 6 && f.dport >= m.lo && f.dport <= m.hi;
      case 'udp':
        return f.proto === 17 && f.dport >= m.lo && f.dport <= m.hi;
      case 'icmp':
      case 'icmpv6': {
        if (f.proto !== (m.protocol === 'icmp' ? 1 : 58)) return false;
        if (m.type !== undefined && (f.icmpType ?? 0) !== m.type) return false;
        if (m.code !== undefined && (f.icmpCode ?? 0) !== m.code) return false;
        return true;
      }
      default: {
        const never: never = m;
        throw new Error(`reference: unknown port match ${JSON.stringify(never)}`);
      }
    }
  }

  /** The first matching rule's action (rule = its index), else the default (rule = -1). */
  verdict(f: Flow): { verdict: Verdict; rule: number } {
    const sk = addrKey(f.src);
    const dk = addrKey(f.dst);
    for (const r of this.policy.rules) {
      if (!r.from.some((p) => this.inPeer(f.src, sk, p))) continue;
      if (!r.to.some((p) => this.inPeer(f.dst, dk, p))) continue;
      if (r.ports.length > 0 && !r.ports.some((m) => ReferenceEvaluator.portMatches(m, f))) continue;
      return { verdict: r.action, rule: r.index };
    }
    const d: Action = this.policy.defaultAction;
    return { verdict: d, rule: -1 };
  }
}
