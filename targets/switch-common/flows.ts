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
// Exact ports pass replies statelessly (reverse entries), so a reply-shaped
// packet a reverse entry permits where the reference denies it is counted as
// an approximation, not a mismatch. checkSwitchSequences runs request/reply
// sequences against the stateful reference: a reply it allows must pass.

import { describeFlow as flowFields } from '../../orchestrator/explain/explain.ts';
import type { Flow, Verdict } from '../../orchestrator/flow.ts';
import type { IpAddr } from '../../orchestrator/net/ip.ts';
import type { ReferenceEvaluator } from '../../orchestrator/reference/evaluator.ts';
import { ReferenceConntrack } from '../../orchestrator/reference/stateful.ts';
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

/** One line naming a flow, for mismatch examples. */
export function describeFlow(f: Flow): string {
  const d = flowFields(f);
  const l4 = d.dport !== undefined ? ` ${d.sport}->${d.dport}` : d.icmpType !== undefined ? ` type ${d.icmpType} code ${d.icmpCode}` : '';
  return `${d.src} -> ${d.dst} ${d.proto}${l4}`;
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
  /** Addresses of the endpoints behind an exact port, when known. */
  sourcesOf?(port: string): IpAddr[];
  /**
   * 'all': every flow at every port. 'rotate': flow i at port i mod n, so a
   * large flow count covers every port without multiplying the work.
   */
  ports?: 'all' | 'rotate';
  /** Whether a reverse (reply) entry decides the packet; without it every exact over-permit is a mismatch. */
  replyEntry?(packet: SwitchPacket): boolean;
}

export interface SwitchCheckResult {
  /** Flow x port evaluations made. */
  checks: number;
  mismatches: number;
  /** Exact-port packets a reverse entry passes although the reference denies them (stateless replies). */
  approximated: number;
  examples: string[];
}

export function checkSwitchFlows(input: SwitchCheckInput): SwitchCheckResult {
  let checks = 0;
  let mismatches = 0;
  let approximated = 0;
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
      if (!ok && mode === 'exact' && got === 'permit' && input.replyEntry?.(packet)) {
        approximated++;
        continue;
      }
      if (!ok) {
        mismatches++;
        if (examples.length < 5) examples.push(`${port} (${mode}): ${describeFlow(flow)}: switch ${got}, reference ${ref}${control ? ' (control traffic)' : ''}`);
      }
    }
  }
  return { checks, mismatches, approximated, examples };
}

export interface SequenceCheckInput {
  /** Request/reply sequences (generatePacketSequences), each judged by a fresh stateful reference. */
  sequences: Flow[][];
  reference: ReferenceEvaluator;
  /** Exact ports and the addresses of the endpoints behind each: packets from them enter there. */
  exactSources: Map<string, IpAddr[]>;
  /** The port every other packet enters (prefilter); undefined when no ACL is on their path. */
  prefilterPort?: string;
  evaluate(packet: SwitchPacket): SwitchVerdict;
  /** Whether a reverse (reply) entry decides the packet. */
  replyEntry?(packet: SwitchPacket): boolean;
  /**
   * A documented reason the switch drops a packet the reference allows at an
   * exact port (e.g. ICMP a model cannot name, dropped fail closed), counted
   * under that reason; undefined means a mismatch.
   */
  excuseDrop?(flow: Flow): string | undefined;
}

export interface SequenceCheckResult {
  sequences: number;
  packets: number;
  /** Packets the reference allows that the switch passed. */
  carried: number;
  /** Allowed replies checked (packets the stateful reference allows only as replies). */
  replies: number;
  /** Counted, documented differences: stateless extra passes and excused drops, by reason. */
  approximated: Record<string, number>;
  mismatches: number;
  examples: string[];
}

/**
 * Runs request/reply sequences through the switch: half of them start at an
 * endpoint behind an exact port, so replies come back into it. A reply the
 * stateful reference allows must pass at every port; at exact ports a packet
 * it denies must be dropped unless a reverse entry passes it (counted: the
 * stateless approximation); prefilter ports may pass more.
 */
export function checkSwitchSequences(input: SequenceCheckInput): SequenceCheckResult {
  const keyOf = (a: IpAddr): string => `${a.family}/${a.value}`;
  const portOf = new Map<string, string>();
  const endpoints: Record<4 | 6, IpAddr[]> = { 4: [], 6: [] };
  for (const [port, list] of input.exactSources) {
    for (const a of list) {
      portOf.set(keyOf(a), port);
      endpoints[a.family].push(a);
    }
  }
  const res: SequenceCheckResult = { sequences: input.sequences.length, packets: 0, carried: 0, replies: 0, approximated: {}, mismatches: 0, examples: [] };
  const count = (why: string): void => {
    res.approximated[why] = (res.approximated[why] ?? 0) + 1;
  };
  input.sequences.forEach((seq0, i) => {
    const ct = new ReferenceConntrack(input.reference);
    const first = seq0[0];
    const pool = endpoints[first.src.family];
    const swap = i % 2 === 0 && pool.length > 0 ? pool[(i >> 1) % pool.length] : undefined;
    const seq = swap
      ? seq0.map((p) => ({
          ...p,
          src: p.src.value === first.src.value ? swap : p.src,
          dst: p.dst.value === first.src.value ? swap : p.dst,
        }))
      : seq0;
    const seen = new Set<string>();
    for (const p of seq) {
      const key = `${p.src.value}|${p.dst.value}|${p.proto}|${p.sport}|${p.dport}`;
      const rkey = `${p.dst.value}|${p.src.value}|${p.proto}|${p.dport}|${p.sport}`;
      const established = seen.has(key) || seen.has(rkey);
      seen.add(key);
      const fresh = input.reference.verdict(p).verdict;
      const want = ct.packet(p);
      const exactPort = portOf.get(keyOf(p.src));
      const port = exactPort ?? input.prefilterPort;
      if (port === undefined) continue;
      res.packets++;
      const packet = packetOfFlow(p, { inPort: port, established });
      const got = input.evaluate(packet);
      const isReply = want === 'allow' && fresh === 'deny';
      if (isReply) res.replies++;
      if (want === 'allow' && got === 'permit') res.carried++;
      let bad: string | undefined;
      if (isControlTraffic(packet)) {
        if (got !== 'permit') bad = 'control traffic dropped';
      } else if (want === 'allow' && got === 'deny') {
        const why = exactPort !== undefined ? input.excuseDrop?.(p) : undefined;
        if (why) count(why);
        else bad = isReply ? 'allowed reply dropped' : 'allowed packet dropped';
      } else if (want === 'deny' && got === 'permit' && exactPort !== undefined) {
        if (established && p.proto === 6) count('tcp segment with ack of a connection never opened');
        else if (input.replyEntry?.(packet)) count('reply-shaped packet passed by a reverse entry');
        else bad = 'denied packet passes an exact port';
      }
      if (bad) {
        res.mismatches++;
        if (res.examples.length < 5) res.examples.push(`${port} (${exactPort ? 'exact' : 'prefilter'}): ${describeFlow(p)}: ${bad} (switch ${got}, reference ${want})`);
      }
    }
  });
  return res;
}

/** The approximation counts as one line, for logs and reports. */
export function formatApproximations(a: Record<string, number>): string {
  const parts = Object.entries(a).sort(([x], [y]) => x.localeCompare(y)).map(([why, n]) => `${n} ${why}`);
  return parts.length ? parts.join(', ') : 'none';
}
