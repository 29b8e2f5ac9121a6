// Turns the directional model of Kubernetes/Cilium policies into one Weft
// policy: ordered sections of first-match rules.
//
// Source semantics: a flow from S to D is allowed when S's egress allows it
// and D's ingress allows it. A direction "allows" when the pod is not
// isolated in that direction (no policy selects it for that direction), or
// when some allow rule of that direction matches; a matching deny rule
// (Cilium) refuses it whatever the allows say. Allows are a union across
// policies; order does not matter there, but Weft's first match does. The
// translation splits flows into two parts and decides each in order:
//
// In the cluster (pod to pod; both sides carry the cluster label):
//   1 cluster-deny        deny rules whose peers are pods (or any)
//   2 cluster-both        for every egress allow E and ingress allow I,
//                         allow E AND I (sources E's subject and I's peers,
//                         destinations E's peers and I's subject, ports of
//                         both): the only way a pod isolated for egress
//                         reaches a pod isolated for ingress
//   3 cluster-isolated    deny egress-isolated -> ingress-isolated
//   4 cluster-egress      egress allows; then deny egress-isolated -> any pod
//                         (the destination is not ingress-isolated here)
//   5 cluster-ingress     ingress allows; then deny any pod -> ingress-isolated
//                         (the source is not egress-isolated here)
//   6 cluster-default     allow pod -> pod (neither side isolated)
// Outside (at most one side is a pod, the other an external address):
//   7 external-deny       deny rules whose peers are CIDRs, entities or any
//   8 external-egress     egress allows; then deny egress-isolated -> any
//   9 external-ingress    ingress allows; then deny any -> ingress-isolated
//   defaultAction: allow  (no pod involved, or no isolation)
//
// CIDR peers name external addresses only (Kubernetes asks ipBlock for
// cluster-external addresses; Cilium never applies CIDR rules between its
// endpoints), so they take part in 7-9 only, and pod peers in 1-6 only. The
// importer hands over allows already narrowed and denies and isolations
// already widened wherever the source could not be expressed, so every
// flow this policy allows, the source allows too.

import { Document, isMap, isPair, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import { formatSpan } from '../diagnostics.ts';
import { formatCidr, type Cidr } from '../net/ip.ts';
import { WEFT_API_VERSION } from '../yaml/source.ts';
import { CLUSTER_LABEL, NAMESPACE_LABEL_PREFIX, POD_NAMESPACE_LABEL, type DirRule, type ImportedPolicy, type Origin, type Peer, type PortRange, type Selector } from './model.ts';
import { intersectUnions, selectorKey } from './selector.ts';

export interface ComposedPolicy {
  /** policy.yaml text, with comments naming the source of every group and rule. */
  text: string;
  rules: number;
  groups: number;
}

interface OutRule {
  name: string;
  from: string[];
  to: string[];
  ports: PortRange[];
  action: 'allow' | 'deny';
  comment: string;
}

interface OutSection {
  name: string;
  comment: string;
  rules: OutRule[];
}

interface OutGroup {
  name: string;
  body: { selector: Selector } | { cidrs: string[]; except?: string[] };
  origins: Origin[];
}

const NAME_UNSAFE = /[^A-Za-z0-9._-]+/g;

function safeName(s: string): string {
  return s.replace(NAME_UNSAFE, '-').replace(/^-+|-+$/g, '') || 'x';
}

function describeOrigin(o: Origin): string {
  return `${formatSpan(o.span)} ${o.object} ${o.part}`;
}

/** Intersection of two port lists ([] = every port); undefined when nothing is in common. */
export function intersectPorts(a: PortRange[], b: PortRange[]): PortRange[] | undefined {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out: PortRange[] = [];
  for (const x of a) {
    for (const y of b) {
      if (x.protocol === 'any') out.push(y);
      else if (y.protocol === 'any') out.push(x);
      else if (x.protocol === y.protocol) {
        const lo = Math.max(x.lo, y.lo);
        const hi = Math.min(x.hi, y.hi);
        if (lo <= hi) out.push({ protocol: x.protocol, lo, hi });
      }
    }
  }
  return out.length ? out : undefined;
}

class Composer {
  private readonly groups = new Map<string, OutGroup>();
  private readonly groupNames = new Set<string>(['any']);
  private readonly ruleNames = new Set<string>();
  readonly sections: OutSection[] = [];

  constructor(private readonly p: ImportedPolicy) {}

  private uniqueName(base: string, taken: Set<string>): string {
    let name = base;
    for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
    taken.add(name);
    return name;
  }

  private group(key: string, base: string, body: OutGroup['body'], origin: Origin | undefined): string {
    let g = this.groups.get(key);
    if (!g) {
      g = { name: this.uniqueName(base, this.groupNames), body, origins: [] };
      this.groups.set(key, g);
    }
    if (origin && !g.origins.some((o) => o.object === origin.object && o.part === origin.part)) g.origins.push(origin);
    return g.name;
  }

  selectorGroup(sel: Selector, origin: Origin | undefined): string {
    const parts: string[] = [];
    const ns = sel[POD_NAMESPACE_LABEL];
    if (ns !== undefined) parts.push(ns);
    for (const [k, v] of Object.entries(sel).sort()) {
      if (k === POD_NAMESPACE_LABEL || (k === CLUSTER_LABEL && v === this.p.clusterSelector[CLUSTER_LABEL])) continue;
      const short = k.startsWith(NAMESPACE_LABEL_PREFIX) ? `ns-${k.slice(NAMESPACE_LABEL_PREFIX.length)}` : k;
      parts.push(`${short.replace(/^.*\//, '')}-${v}`);
    }
    const base = parts.length ? `pods.${safeName(parts.join('.'))}` : 'cluster';
    return this.group(`sel:${selectorKey(sel)}`, base, { selector: sel }, origin);
  }

  private cidrGroup(cidrs: Cidr[], except: Cidr[], origin: Origin): string {
    const c = cidrs.map(formatCidr);
    const x = except.map(formatCidr);
    const base = `net.${safeName(c[0] ?? 'none')}${x.length ? '.except' : ''}`;
    return this.group(`cidr:${c.join(',')}|${x.join(',')}`, base, x.length ? { cidrs: c, except: x } : { cidrs: c }, origin);
  }

  /** Pod side of peers: pods as they are, any as every pod. */
  podSelectors(peers: Peer[]): Selector[] {
    const out: Selector[] = [];
    for (const p of peers) {
      if (p.kind === 'pods') out.push(...p.selectors);
      else if (p.kind === 'any') out.push(this.p.clusterSelector);
    }
    return out;
  }

  refs(sels: Selector[], origin: Origin | undefined): string[] {
    return [...new Set(sels.map((s) => this.selectorGroup(s, origin)))];
  }

  /** External side of peers: CIDR groups, or any. */
  private externalRefs(peers: Peer[], origin: Origin): string[] {
    if (peers.some((p) => p.kind === 'any')) return ['any'];
    const out: string[] = [];
    for (const p of peers) if (p.kind === 'cidr') out.push(this.cidrGroup(p.cidrs, p.except, origin));
    return [...new Set(out)];
  }

  section(name: string, comment: string): OutSection {
    const s: OutSection = { name, comment, rules: [] };
    this.sections.push(s);
    return s;
  }

  /**
   * Adds a rule unless a side is empty. Named after its origins (the source
   * rules it translates), else after `what`; `because` lists the source
   * objects behind a rule of the translation itself (isolation denies).
   */
  rule(s: OutSection, r: Omit<OutRule, 'name' | 'comment'>, origins: Origin[], what: string, because: Origin[] = []): void {
    if (r.from.length === 0 || r.to.length === 0) return;
    const base = origins.length
      ? `${s.name}.${origins.map((o) => safeName(`${o.object.replace(/^\S+ /, '')}.${o.part}`)).join('+')}`
      : `${s.name}.${safeName(what)}`;
    const name = this.uniqueName(base, this.ruleNames);
    const lines = [what, ...origins.map((o) => `from ${describeOrigin(o)}`)];
    const shown = because.slice(0, 6);
    if (shown.length) lines.push(`isolated by ${describeOrigin(shown[0])}`, ...shown.slice(1).map((o) => `         and ${describeOrigin(o)}`));
    if (because.length > shown.length) lines.push(`         and ${because.length - shown.length} more`);
    const comment = lines.join('\n');
    s.rules.push({ ...r, from: [...r.from], to: [...r.to], name, comment });
  }

  /** A directional rule with the given peer side. */
  dirRule(s: OutSection, r: DirRule, peerRefs: string[]): void {
    const subject = this.refs(r.subject, r.origin);
    const [from, to] = r.direction === 'ingress' ? [peerRefs, subject] : [subject, peerRefs];
    this.rule(s, { from, to, ports: r.ports, action: r.action }, [r.origin], `${r.direction} ${r.action}`);
  }

  inCluster(r: DirRule): string[] {
    return this.refs(this.podSelectors(r.peers), r.origin);
  }

  outside(r: DirRule): string[] {
    return this.externalRefs(r.peers, r.origin);
  }

  render(): string {
    const doc = new Document(
      {
      apiVersion: WEFT_API_VERSION,
      kind: 'Policy',
      metadata: { name: this.p.name },
      spec: {
        defaultAction: 'allow',
        groups: Object.fromEntries([...this.groups.values()].map((g) => [g.name, g.body])),
        sections: this.sections.filter((s) => s.rules.length).map((s) => ({
          name: s.name,
          rules: s.rules.map((r) => {
            const out: Record<string, unknown> = { name: r.name, from: r.from, to: r.to };
            if (r.ports.length) out.ports = r.ports.map(portEntry);
            out.action = r.action;
            return out;
          }),
        })),
      },
      },
      { aliasDuplicateObjects: false },
    );
    doc.commentBefore =
      ` Imported from ${this.p.source}: ${this.p.files.join(', ')}\n` +
      ` Generated by weft import; the README section "Importing from Kubernetes, Cilium and NetBox"\n` +
      ` explains the section order. Pods are endpoints labelled with their pod labels,\n` +
      ` ${POD_NAMESPACE_LABEL}, ${CLUSTER_LABEL} and their namespace's labels.`;
    const spec = doc.get('spec') as YAMLMap;
    const groups = spec.get('groups') as YAMLMap;
    const byName = new Map([...this.groups.values()].map((g) => [g.name, g]));
    for (const pair of groups.items) {
      if (!isPair(pair) || !isScalar(pair.key)) continue;
      const g = byName.get(String(pair.key.value));
      if (g?.origins.length) pair.key.commentBefore = g.origins.slice(0, 4).map((o) => ` ${describeOrigin(o)}`).join('\n') + (g.origins.length > 4 ? `\n ... and ${g.origins.length - 4} more` : '');
      if (isMap(pair.value)) flowLeaves(pair.value);
    }
    const sections = spec.get('sections');
    const kept = this.sections.filter((s) => s.rules.length);
    if (isSeq(sections)) {
      sections.items.forEach((item, si) => {
        if (!isMap(item)) return;
        item.commentBefore = ` ${kept[si].comment}`;
        const rules = item.get('rules');
        if (!isSeq(rules)) return;
        rules.items.forEach((r, ri) => {
          if (!isMap(r)) return;
          r.commentBefore = kept[si].rules[ri].comment.split('\n').map((l) => ` ${l}`).join('\n');
          flowLeaves(r);
        });
      });
    }
    return doc.toString({ lineWidth: 0 });
  }

  get ruleCount(): number {
    return this.sections.reduce((n, s) => n + s.rules.length, 0);
  }

  get groupCount(): number {
    return this.groups.size;
  }
}

/** Short lists and maps inside a rule or group print on one line. */
function flowLeaves(m: YAMLMap): void {
  for (const p of m.items) {
    const v = p.value as Node | null;
    if (isSeq(v) || isMap(v)) (v as { flow?: boolean }).flow = true;
  }
}

function portEntry(p: PortRange): Record<string, unknown> {
  if (p.protocol === 'any') return { protocol: 'any' };
  if (p.lo === 0 && p.hi === 65535) return { protocol: p.protocol };
  return { protocol: p.protocol, port: p.lo === p.hi ? p.lo : `${p.lo}-${p.hi}` };
}

export function composePolicy(p: ImportedPolicy): ComposedPolicy {
  const c = new Composer(p);
  const allows = (d: 'ingress' | 'egress'): DirRule[] => p.rules.filter((r) => r.action === 'allow' && r.direction === d);
  const denies = p.rules.filter((r) => r.action === 'deny');
  const isolated = (d: 'ingress' | 'egress'): Selector[] => p.isolations.filter((i) => i.direction === d).flatMap((i) => i.subject);
  const isoE = c.refs(isolated('egress'), undefined);
  const isoI = c.refs(isolated('ingress'), undefined);
  const isolatedBy = (d: 'ingress' | 'egress'): Origin[] => p.isolations.filter((i) => i.direction === d).map((i) => i.origin);
  const byE = isolatedBy('egress');
  const byI = isolatedBy('ingress');
  const cluster = c.selectorGroup(p.clusterSelector, undefined);

  const s1 = c.section('cluster-deny', 'pod to pod: deny rules win over every allow');
  for (const r of denies) c.dirRule(s1, r, c.inCluster(r));

  const s2 = c.section('cluster-both', 'pod to pod, both pods isolated: the source\'s egress allow AND the destination\'s ingress allow');
  for (const e of allows('egress')) {
    for (const i of allows('ingress')) {
      const ports = intersectPorts(e.ports, i.ports);
      if (!ports) continue;
      const from = c.refs(intersectUnions(e.subject, c.podSelectors(i.peers)), undefined);
      const to = c.refs(intersectUnions(c.podSelectors(e.peers), i.subject), undefined);
      c.rule(s2, { from, to, ports, action: 'allow' }, [e.origin, i.origin], 'egress allow AND ingress allow');
    }
  }
  const s3 = c.section('cluster-isolated', 'pod to pod, both pods isolated, not allowed above');
  c.rule(s3, { from: isoE, to: isoI, ports: [], action: 'deny' }, [], 'egress-isolated to ingress-isolated', [...byE, ...byI]);

  const s4 = c.section('cluster-egress', 'pod to pod, only the source isolated: its egress allows');
  for (const r of allows('egress')) c.dirRule(s4, r, c.inCluster(r));
  c.rule(s4, { from: isoE, to: [cluster], ports: [], action: 'deny' }, [], 'egress-isolated pods, not allowed above', byE);

  const s5 = c.section('cluster-ingress', 'pod to pod, only the destination isolated: its ingress allows');
  for (const r of allows('ingress')) c.dirRule(s5, r, c.inCluster(r));
  c.rule(s5, { from: [cluster], to: isoI, ports: [], action: 'deny' }, [], 'ingress-isolated pods, not allowed above', byI);

  const s6 = c.section('cluster-default', 'pod to pod, neither pod isolated');
  c.rule(s6, { from: [cluster], to: [cluster], ports: [], action: 'allow' }, [], 'pods not isolated');

  const s7 = c.section('external-deny', 'a pod and an external address: deny rules win over every allow');
  for (const r of denies) c.dirRule(s7, r, c.outside(r));

  const s8 = c.section('external-egress', 'from a pod to an external address: its egress allows');
  for (const r of allows('egress')) c.dirRule(s8, r, c.outside(r));
  c.rule(s8, { from: isoE, to: ['any'], ports: [], action: 'deny' }, [], 'egress-isolated pods, not allowed above', byE);

  const s9 = c.section('external-ingress', 'from an external address to a pod: its ingress allows');
  for (const r of allows('ingress')) c.dirRule(s9, r, c.outside(r));
  c.rule(s9, { from: ['any'], to: isoI, ports: [], action: 'deny' }, [], 'ingress-isolated pods, not allowed above', byI);

  return { text: c.render(), rules: c.ruleCount, groups: c.groupCount };
}
