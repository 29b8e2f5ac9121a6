// Compact builders for hand-made policies and fabrics in tests: addresses
// and prefixes as text, spans numbered by position, so a unit test reads
// like the policy.yaml it stands for.

import { createHash } from 'node:crypto';
import { parseCidr, parseIp, type Cidr, type IpAddr } from '../net/ip.ts';
import type { Action, GroupDef, PeerRef, Policy, PortMatch, Rule } from '../policy/model.ts';
import type { Endpoint, Fabric } from '../../inventory/model.ts';
import type { Flow } from '../flow.ts';

export interface GroupSpec {
  selector?: Record<string, string>;
  cidrs?: string[];
  except?: string[];
}

export type PortSpec =
  | { protocol: 'tcp' | 'udp'; port?: number | string }
  | { protocol: 'icmp' | 'icmpv6'; type?: number; code?: number }
  | { protocol: 'any' };

export interface RuleSpec {
  name?: string;
  section?: string;
  from: string[]; // group names or 'any'
  to: string[];
  ports?: PortSpec[];
  action: Action;
  log?: boolean;
}

export interface PolicySpec {
  defaultAction?: Action;
  groups?: Record<string, GroupSpec>;
  rules: RuleSpec[];
}

export interface EndpointSpec {
  name: string;
  addresses: string[];
  labels?: Record<string, string>;
  host?: string;
}

const POLICY_FILE = 'test/policy.yaml';
const FABRIC_FILE = 'test/fabric.yaml';

export function ip(text: string): IpAddr {
  const a = parseIp(text);
  if (!a) throw new Error(`bad address ${text}`);
  return a;
}

export function cidr(text: string): Cidr {
  const c = parseCidr(text);
  if (!c.ok) throw new Error(`bad prefix ${text}: ${c.reason}`);
  return c.cidr;
}

function port(spec: PortSpec, line: number, col: number): PortMatch {
  const span = { file: POLICY_FILE, line, col };
  switch (spec.protocol) {
    case 'tcp':
    case 'udp': {
      if (spec.port === undefined) return { protocol: spec.protocol, lo: 0, hi: 65535, span };
      const [lo, hi] = String(spec.port).split('-').map(Number);
      return { protocol: spec.protocol, lo, hi: hi ?? lo, span };
    }
    case 'icmp':
    case 'icmpv6':
      return { protocol: spec.protocol, type: spec.type, code: spec.code, span };
    case 'any':
      return { protocol: 'any', span };
  }
}

export function makePolicy(spec: PolicySpec): Policy {
  const groups = new Map<string, GroupDef>();
  let line = 1;
  for (const [name, g] of Object.entries(spec.groups ?? {})) {
    groups.set(name, {
      name,
      selector: g.selector,
      cidrs: (g.cidrs ?? []).map(cidr),
      except: (g.except ?? []).map(cidr),
      span: { file: POLICY_FILE, line: line++, col: 5 },
    });
  }
  const peer = (name: string): PeerRef => (name === 'any' ? { kind: 'any' } : { kind: 'group', name, span: { file: POLICY_FILE, line, col: 7 } });
  const rules: Rule[] = spec.rules.map((r, index) => {
    line++;
    return {
      index,
      name: r.name ?? `r${index}`,
      section: r.section ?? '',
      from: r.from.map(peer),
      to: r.to.map(peer),
      ports: (r.ports ?? []).map((p, k) => port(p, line, 10 + k)),
      action: r.action,
      log: r.log ?? false,
      span: { file: POLICY_FILE, line, col: 5 },
    };
  });
  const digest = createHash('sha256').update(JSON.stringify(spec)).digest('hex');
  return { file: POLICY_FILE, name: 'test', defaultAction: spec.defaultAction ?? 'deny', groups, sections: [], rules, digest };
}

export function makeFabric(endpoints: EndpointSpec[]): Fabric {
  const eps: Endpoint[] = endpoints.map((e, i) => ({
    name: e.name,
    host: e.host ?? 'host1',
    addresses: e.addresses.map(ip),
    labels: e.labels ?? {},
    span: { file: FABRIC_FILE, line: i + 1, col: 5 },
  }));
  const digest = createHash('sha256').update(JSON.stringify(endpoints)).digest('hex');
  return {
    file: FABRIC_FILE,
    name: 'test',
    devices: [{ name: 'host1', kind: 'host', mgmt: {}, labels: {}, span: { file: FABRIC_FILE, line: 1, col: 1 } }],
    links: [],
    endpoints: eps,
    digest,
  };
}

/** A flow from text: tcp/udp carry a destination port, icmp/icmpv6 a type and code. */
export function flow(src: string, dst: string, proto: 'tcp' | 'udp' | 'icmp' | 'icmpv6' | number, a = 0, b = 0): Flow {
  const num = typeof proto === 'number' ? proto : { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 }[proto];
  const f: Flow = { src: ip(src), dst: ip(dst), proto: num, sport: 0, dport: 0 };
  if (num === 6 || num === 17) {
    f.sport = 40000;
    f.dport = a;
  } else if (num === 1 || num === 58) {
    f.icmpType = a;
    f.icmpCode = b;
  }
  return f;
}
