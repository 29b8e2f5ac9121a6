// `weft explain`: why a flow gets its verdict. The verdict and deciding rule
// come from the reference evaluator (the ground truth); the identities and
// what each enforcement point on the flow's path would do come from the
// compiled IR and the placement, so a disagreement between the two shows up
// here instead of in production.

import type { DpuProfile, Endpoint, Fabric } from '../../inventory/model.ts';
import type { EnforcementMode, TargetName } from '../../targets/contract.ts';
import { formatSpan } from '../diagnostics.ts';
import type { Flow, Verdict } from '../flow.ts';
import type { Ir } from '../ir/model.ts';
import { formatIp, type IpAddr } from '../net/ip.ts';
import type { Placement } from '../placement/model.ts';
import type { Policy } from '../policy/model.ts';
import { ReferenceEvaluator } from '../reference/evaluator.ts';
import { irView, ScopedView, type CompiledView } from './compiled.ts';
import { findPath, formatPath, pathToFabric, type Attachment, type Hop } from './path.ts';
import { PathPlacement, wholePlacement, type ExplainPlacement, type PathDevice } from './placement.ts';

export interface EndInfo {
  address: string;
  identity: number;
  groups: string[];
  /** Fabric endpoints owning this address (usually one). */
  endpoints: string[];
  /** Where it plugs into the fabric, e.g. "host1" or "leaf4:eth5"; absent outside the fabric. */
  attachment?: string;
}

export interface PointDecision {
  device: string;
  target: TargetName;
  interface: string;
  direction: 'ingress' | 'egress';
  mode: EnforcementMode;
  /** DPUs and SmartNICs: the NIC profile the point runs on. */
  profile?: DpuProfile;
  /** pass: a prefilter lets it through and leaves the decision to the exact points on the path. */
  decision: 'allow' | 'deny' | 'pass';
  why: string;
}

export interface Explanation {
  flow: { src: string; dst: string; proto: string; sport?: number; dport?: number; icmpType?: number; icmpCode?: number };
  verdict: Verdict;
  decidedBy: 'rule' | 'default';
  rule?: { index: number; name: string; section: string; action: Verdict; location: string };
  /** What the compiled IR decides; equal to verdict unless the compiler is wrong. */
  compiledVerdict: Verdict;
  src: EndInfo;
  dst: EndInfo;
  path?: { hops: Hop[]; text: string };
  notes: string[];
  points: PointDecision[];
  /** The first point on the path that drops the flow. */
  droppedAt?: { device: string; interface: string };
}

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6' };

export function protoName(p: number): string {
  return PROTO_NAMES[p] ?? String(p);
}

function sameAddr(a: IpAddr, b: IpAddr): boolean {
  return a.family === b.family && a.value === b.value;
}

function attachmentOf(e: Endpoint): Attachment | undefined {
  if (e.host !== undefined) return { device: e.host, port: e.attach?.device === e.host ? e.attach.port : undefined };
  if (e.attach) return { device: e.attach.device, port: e.attach.port };
  return undefined;
}

function formatAttachment(a: Attachment): string {
  return a.port ? `${a.device}:${a.port}` : a.device;
}

/** Everything explain needs, built once per policy and fabric. */
export class Explainer {
  /** Shared by every explained flow when the caller places the whole fabric; else built per flow (see referenceFor). */
  private readonly reference: ReferenceEvaluator | undefined;
  private readonly compiled: CompiledView;
  private readonly placement: ExplainPlacement;

  /**
   * With `ir` and `placement`, their answers are read (callers explaining
   * many flows). Without `placement`, only the devices on each explained
   * path are placed, and the reference reads only the endpoints owning the
   * flow's addresses; without `ir` either, no identity table, LPM or rule
   * index of the whole fabric is built, only the identities of the
   * addresses asked about (what a one-off `weft explain` needs).
   */
  constructor(
    private readonly policy: Policy,
    private readonly fabric: Fabric,
    ir?: Ir,
    placement?: Placement,
  ) {
    if (placement && !ir) throw new Error('explain: a placement is read together with the IR it was placed from');
    this.reference = placement ? new ReferenceEvaluator(policy, fabric) : undefined;
    this.compiled = ir ? irView(ir) : new ScopedView(policy, fabric);
    this.placement = placement ? wholePlacement(placement) : new PathPlacement(fabric, policy, (rule, a) => this.compiled.sourceHolds(rule, a));
  }

  /** The fabric endpoints having `a` (usually one). */
  private ownersOf(a: IpAddr): Endpoint[] {
    return this.fabric.endpoints.filter((e) => e.addresses.some((x) => sameAddr(x, a)));
  }

  private end(addr: IpAddr, owners: Endpoint[]): { info: EndInfo; endpoint?: Endpoint } {
    const identity = this.compiled.identityOf(addr);
    const at = owners.length ? attachmentOf(owners[0]) : undefined;
    return {
      info: {
        address: formatIp(addr.family, addr.value),
        identity: identity.id,
        groups: identity.groups,
        endpoints: owners.map((e) => e.name),
        ...(at ? { attachment: formatAttachment(at) } : {}),
      },
      endpoint: owners[0],
    };
  }

  /**
   * The reference evaluator for a flow between endpoints `owners`. A
   * selector puts an address in a group only through the endpoints having
   * that address, so the endpoints owning the flow's two addresses give the
   * verdict the whole fabric gives, without matching every group's selector
   * against every endpoint.
   */
  private referenceFor(owners: Endpoint[]): ReferenceEvaluator {
    return this.reference ?? new ReferenceEvaluator(this.policy, { endpoints: owners });
  }

  explain(flow: Flow): Explanation {
    const srcOwners = this.ownersOf(flow.src);
    const dstOwners = this.ownersOf(flow.dst);
    const ref = this.referenceFor([...new Set([...srcOwners, ...dstOwners])]).verdict(flow);
    const compiledRule = this.compiled.firstMatch(flow);
    const compiledVerdict = this.verdictOf(compiledRule);
    const src = this.end(flow.src, srcOwners);
    const dst = this.end(flow.dst, dstOwners);
    const notes: string[] = [];
    if (compiledVerdict !== ref.verdict || compiledRule !== ref.rule) {
      notes.push(`the compiled IR decides ${compiledVerdict} (rule ${compiledRule}) but the reference decides ${ref.verdict} (rule ${ref.rule}): compiler bug, please report`);
    }
    if (src.info.endpoints.length > 1) notes.push(`${src.info.address} belongs to several endpoints (${src.info.endpoints.join(', ')}); the path starts at ${src.info.endpoints[0]}`);
    if (dst.info.endpoints.length > 1) notes.push(`${dst.info.address} belongs to several endpoints (${dst.info.endpoints.join(', ')}); the path ends at ${dst.info.endpoints[0]}`);

    const from = src.endpoint ? attachmentOf(src.endpoint) : undefined;
    const to = dst.endpoint ? attachmentOf(dst.endpoint) : undefined;
    let hops: Hop[] | undefined;
    if (from && to) {
      hops = findPath(this.fabric, from, to);
      if (!hops) notes.push(`no path between ${formatAttachment(from)} and ${formatAttachment(to)} over the fabric's links`);
    } else if (from) {
      hops = pathToFabric(this.fabric, from);
      notes.push(`${dst.info.address} is not a fabric endpoint: only the source side of the path is known`);
    } else if (to) {
      const back = pathToFabric(this.fabric, to);
      hops = back?.reverse().map((h) => ({ device: h.device, in: h.out, out: h.in }));
      notes.push(`${src.info.address} is not a fabric endpoint: only the destination side of the path is known`);
    } else {
      notes.push('neither address is a fabric endpoint: no Weft enforcement point is on this path');
    }

    const points = hops ? this.pointsOn(hops, compiledRule, src.endpoint, dst.endpoint) : [];
    const dstEp = dst.endpoint;
    if (dstEp?.host === undefined && dstEp?.attach && !points.some((p) => p.mode === 'exact')) {
      notes.push(
        `${dstEp.name} is unmanaged: ${formatAttachment(dstEp.attach)} checks only traffic from it, and traffic to it is decided at its source; no exact point on this path decides this flow`,
      );
    }
    const drop = points.find((p) => p.decision === 'deny');
    const rule = ref.rule >= 0 ? this.policy.rules[ref.rule] : undefined;
    return {
      flow: describeFlow(flow),
      verdict: ref.verdict,
      decidedBy: rule ? 'rule' : 'default',
      ...(rule ? { rule: { index: rule.index, name: rule.name, section: rule.section, action: rule.action, location: formatSpan(rule.span) } } : {}),
      compiledVerdict,
      src: src.info,
      dst: dst.info,
      ...(hops ? { path: { hops, text: formatPath(hops) } } : {}),
      notes,
      points,
      ...(drop ? { droppedAt: { device: drop.device, interface: drop.interface } } : {}),
    };
  }

  /** The verdict of rule `rule` of the policy, or the default action for -1. */
  private verdictOf(rule: number): Verdict {
    return rule >= 0 ? this.policy.rules[rule].action : this.policy.defaultAction;
  }

  private pointsOn(hops: Hop[], rule: number, srcEp?: Endpoint, dstEp?: Endpoint): PointDecision[] {
    const verdict = this.verdictOf(rule);
    const ruleName = rule >= 0 ? `rule ${this.policy.rules[rule].name}` : `default ${this.policy.defaultAction}`;
    const out: PointDecision[] = [];
    const profileOf = (dp: PathDevice): { profile?: DpuProfile } => {
      const profile = this.fabric.devices.find((d) => d.name === dp.device)?.profile;
      return profile ? { profile } : {};
    };
    const exact = (dp: PathDevice, iface: string, direction: PointDecision['direction'], why: string): void => {
      out.push({ device: dp.device, target: dp.target, interface: iface, direction, mode: 'exact', ...profileOf(dp), decision: verdict, why: `${why}; ${ruleName}` });
    };
    const prefilter = (dp: PathDevice, port: string, direction: PointDecision['direction'], passWhy?: string): void => {
      const placed = rule >= 0 && this.policy.rules[rule].action === 'deny' && this.placement.prefilterPlaced(rule, dp.device, `${port} ${direction}`);
      const why = placed
        ? `deny rule ${this.policy.rules[rule].name} is placed here, close to the source`
        : verdict === 'allow'
          ? `${ruleName} allows it; a prefilter only drops`
          : `${ruleName}; ${passWhy ?? 'a prefilter carries deny rules only, an exact point on the path drops it'}`;
      out.push({ device: dp.device, target: dp.target, interface: port, direction, mode: 'prefilter', ...profileOf(dp), decision: placed ? 'deny' : 'pass', why });
    };
    hops.forEach((hop, i) => {
      const dp = this.placement.device(hop.device);
      if (!dp) return; // transit without an agent
      const role = (port: string | undefined) => (port === undefined ? undefined : dp.interfaces.find((f) => f.name === port)?.role);
      const kind = this.fabric.devices.find((d) => d.name === hop.device)?.kind;
      switch (kind) {
        case 'host':
          if (i === 0 && srcEp?.host === hop.device) exact(dp, hop.in ?? '*', 'egress', `${srcEp.name} is a local endpoint of ${hop.device}`);
          if (i === hops.length - 1 && dstEp?.host === hop.device) exact(dp, hop.out ?? '*', 'ingress', `${dstEp.name} is a local endpoint of ${hop.device}`);
          break;
        case 'dpu':
        case 'smartnic':
          // In the wire both ways: what leaves its host enters on the host port, what goes to it leaves by that port.
          if (role(hop.in) === 'host') {
            if (dp.mode === 'exact') exact(dp, hop.in!, 'ingress', `leaving ${hop.device}'s host, which runs no agent`);
            else prefilter(dp, hop.in!, 'ingress');
          }
          if (role(hop.out) === 'host') {
            const host = this.fabric.devices.find((d) => d.name === hop.device)?.attachedTo ?? 'its host';
            if (dp.mode === 'exact') exact(dp, hop.out!, 'egress', `entering ${hop.device}'s host, which runs no agent`);
            else prefilter(dp, hop.out!, 'egress', `${hop.device} prefilters close to the source, and ${host}'s agent decides what enters it`);
          }
          break;
        case 'switch':
          if (role(hop.in) === 'host') prefilter(dp, hop.in!, 'ingress');
          // Switches check ports facing unmanaged endpoints on ingress only:
          // traffic towards such an endpoint was decided at its source.
          if (role(hop.in) === 'unmanaged-endpoint') exact(dp, hop.in!, 'ingress', `traffic from ${srcEp?.name ?? 'the source'} (unmanaged behind ${hop.device}:${hop.in}) is checked as it enters`);
          break;
        case undefined:
          break;
        default: {
          const never: never = kind;
          return never;
        }
      }
    });
    return out;
  }
}

export function describeFlow(f: Flow): Explanation['flow'] {
  const base = { src: formatIp(f.src.family, f.src.value), dst: formatIp(f.dst.family, f.dst.value), proto: protoName(f.proto) };
  if (f.proto === 6 || f.proto === 17) return { ...base, sport: f.sport, dport: f.dport };
  if (f.proto === 1 || f.proto === 58) return { ...base, icmpType: f.icmpType ?? 0, icmpCode: f.icmpCode ?? 0 };
  return base;
}

export function formatExplanation(x: Explanation): string {
  const f = x.flow;
  const hp = (a: string, port: number | undefined) => (a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`);
  const ports =
    f.dport !== undefined
      ? ` ${hp(f.src, f.sport)} -> ${hp(f.dst, f.dport)}`
      : ` ${f.src} -> ${f.dst}${f.icmpType !== undefined ? ` type ${f.icmpType} code ${f.icmpCode}` : ''}`;
  const end = (e: EndInfo): string =>
    `${e.address}  identity ${e.identity} [${e.groups.join(', ') || 'no groups'}]` +
    (e.endpoints.length ? `  endpoint ${e.endpoints.join(', ')}${e.attachment ? ` at ${e.attachment}` : ''}` : '  (not a fabric endpoint)');
  const lines = [
    `flow:     ${f.proto}${ports}`,
    `verdict:  ${x.verdict}`,
    `decided:  ${x.rule ? `rule ${x.rule.name} (${x.rule.section ? `section ${x.rule.section}, ` : ''}${x.rule.location})` : 'default (no rule matches)'}`,
    `source:   ${end(x.src)}`,
    `dest:     ${end(x.dst)}`,
  ];
  if (x.path) lines.push(`path:     ${x.path.text}`);
  if (x.points.length) {
    lines.push('enforcement points:');
    const rows = x.points.map((p) => [p.profile ? `${p.device} (${p.profile})` : p.device, `${p.interface} ${p.direction}`, p.mode, p.decision, p.why]);
    const w = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c].length)));
    for (const r of rows) lines.push(`  ${r.slice(0, 4).map((c, i) => c.padEnd(w[i])).join('  ')}  ${r[4]}`);
  } else {
    lines.push('enforcement points: none on this path');
  }
  if (x.droppedAt) lines.push(`dropped at ${x.droppedAt.device} ${x.droppedAt.interface}`);
  for (const n of x.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
