// Adapters from the policy's flows to what a switch ACL sees (packets with an
// ingress port, ethertype and TCP flags), and the one check both switch
// targets run against the reference evaluator:
//   - a new flow is its first packet: TCP with SYN only, so reverse entries
//     (which need ACK) never decide it;
//   - IPv6 neighbour discovery is control traffic: always permitted;
//   - exact ports: the verdict equals the reference's; where the port's
//     endpoints are known (`sourcesOf`), traffic entering it comes from their
//     addresses: half the flows are re-sourced from them, and any other
//     source entering the port is spoofed and must be denied;
//   - every other port (prefilter): never deny what the reference allows.

import type { Flow, Verdict } from '../../orchestrator/flow.ts';
import type { IpAddr } from '../../orchestrator/net/ip.ts';
import type { EnforcementMode } from '../contract.ts';
import type { Fabric } from '../../inventory/model.ts';
import { ND_TYPES, TCP_FLAG_ACK, TCP_FLAG_SYN } from './rules.ts';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;

export interface SwitchPacket {
  /** Ingress interface name; undefined when the port does not matter. */
  inPort?: string;
  etherType: number;
  src?: IpAddr;
  dst?: IpAddr;
  proto: number;
  sport: number;
  dport: number;
  tcpFlags: number;
  icmpType: number;
  icmpCode: number;
}

export type SwitchVerdict = 'permit' | 'deny';

/** Addresses of the unmanaged endpoints plugged into one port of a device. */
export function endpointSources(fabric: Fabric, device: string, port: string): IpAddr[] {
  return fabric.endpoints.filter((e) => e.host === undefined && e.attach?.device === device && e.attach.port === port).flatMap((e) => e.addresses);
}

/** The packet a flow's first packet (or, with `established`, a later one) looks like on the wire. */
export function packetOfFlow(flow: Flow, opts: { inPort?: string; established?: boolean } = {}): SwitchPacket {
  const isIcmp = flow.proto === 1 || flow.proto === 58;
  const hasPorts = flow.proto === 6 || flow.proto === 17;
  return {
    inPort: opts.inPort,
    etherType: flow.src.family === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6,
    src: flow.src,
    dst: flow.dst,
    proto: flow.proto,
    sport: hasPorts ? flow.sport : 0,
    dport: hasPorts ? flow.dport : 0,
    tcpFlags: flow.proto === 6 ? (opts.established ? TCP_FLAG_ACK : TCP_FLAG_SYN) : 0,
    icmpType: isIcmp ? (flow.icmpType ?? 0) : 0,
    icmpCode: isIcmp ? (flow.icmpCode ?? 0) : 0,
  };
}

export function isControlTraffic(p: SwitchPacket): boolean {
  return p.etherType === ETHERTYPE_IPV6 && p.proto === 58 && (ND_TYPES as readonly number[]).includes(p.icmpType);
}

export interface SwitchCheckInput {
  /** Interfaces where the verdict must equal the reference's. */
  exactPorts: string[];
  /** Interfaces where the ACL may pass more than the policy (prefilter). */
  prefilterPorts: string[];
  flows: Flow[];
  reference(flow: Flow): Verdict;
  evaluate(packet: SwitchPacket): SwitchVerdict;
  describe?(flow: Flow): string;
  /** Addresses of the endpoints behind an exact port, when known. */
  sourcesOf?(port: string): IpAddr[];
  /**
   * 'all': every flow at every port. 'rotate': flow i at port i mod n, so a
   * large flow count covers every port without multiplying the work.
   */
  ports?: 'all' | 'rotate';
}

export interface SwitchCheckResult {
  /** Flow x port evaluations made. */
  checks: number;
  mismatches: number;
  examples: string[];
}

export function checkSwitchFlows(input: SwitchCheckInput): SwitchCheckResult {
  let checks = 0;
  let mismatches = 0;
  const examples: string[] = [];
  const ports: { port: string; mode: EnforcementMode }[] = [
    ...input.exactPorts.map((port) => ({ port, mode: 'exact' as const })),
    ...input.prefilterPorts.map((port) => ({ port, mode: 'prefilter' as const })),
  ];
  const rotate = input.ports === 'rotate';
  const sources = new Map(input.exactPorts.map((p) => [p, input.sourcesOf?.(p) ?? []]));
  const keyOf = (a: IpAddr): string => `${a.family}/${a.value}`;
  const sourceKeys = new Map([...sources].map(([p, list]) => [p, new Set(list.map(keyOf))]));
  for (let n = 0; n < input.flows.length; n++) {
    const original = input.flows[n];
    let originalRef: Verdict | undefined;
    for (const { port, mode } of rotate ? [ports[n % ports.length]] : ports) {
      let flow = original;
      let ref: Verdict;
      const legit = sources.get(port)?.filter((a) => a.family === original.src.family) ?? [];
      if (mode === 'exact' && (sources.get(port)?.length ?? 0) > 0) {
        if (n % 2 === 0 && legit.length > 0) flow = { ...original, src: legit[(n >> 1) % legit.length] };
        ref = sourceKeys.get(port)!.has(keyOf(flow.src)) ? input.reference(flow) : 'deny';
      } else {
        ref = originalRef ??= input.reference(original);
      }
      const packet = packetOfFlow(flow, { inPort: port });
      const got = input.evaluate(packet);
      checks++;
      const control = isControlTraffic(packet);
      const ok = control
        ? got === 'permit'
        : mode === 'exact'
          ? (got === 'permit') === (ref === 'allow')
          : ref === 'deny' || got === 'permit';
      if (!ok) {
        mismatches++;
        if (examples.length < 5) {
          const what = input.describe ? input.describe(flow) : JSON.stringify(flow, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
          examples.push(`${port} (${mode}): ${what}: switch ${got}, reference ${ref}${control ? ' (control traffic)' : ''}`);
        }
      }
    }
  }
  return { checks, mismatches, examples };
}
