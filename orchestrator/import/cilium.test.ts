// Equivalence of `weft import cilium` with Cilium's L3/L4 policy semantics.
// The evaluator below reads the manifests itself: a rule selects pods by
// endpointSelector (namespaced policies: the policy's namespace unless the
// selector names one); a pod is isolated in a direction when a selecting
// rule has allows or denies there and enableDefaultDeny does not turn it
// off; a matching deny refuses whatever the allows say; CIDR peers and the
// world entity never match pods. Kubernetes NetworkPolicies in the same
// input are enforced beside them (orchestrator/testing/networkpolicy.ts):
// per direction, an allow from either admits, isolation by either needs
// one, and a Cilium deny refuses. It shares no code with the translator.
// Weft's verdict comes from the reference evaluator on the imported policy
// and a fabric holding the pods as endpoints.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../diagnostics.ts';
import type { Flow } from '../flow.ts';
import { parseIp } from '../net/ip.ts';
import { compareImport, inCidr, loadCluster, readObjects, selects, type Cluster, type Json, type Pod } from '../testing/cluster.ts';
import { NetworkPolicySemantics } from '../testing/networkpolicy.ts';
import { importPolicy } from './policy.ts';

const FIXTURES = 'test/fixtures/import';
const NS_KEY = 'io.kubernetes.pod.namespace';
const stripSource = (k: string): string => k.replace(/^(k8s|any):/, '');

interface CRule {
  rule: Json;
  namespace?: string;
}

class CiliumSemantics {
  private readonly rules: CRule[] = [];
  private readonly byIp = new Map<string, Pod>();
  private readonly nsLabels = new Map<string, Record<string, string>>();

  private readonly k8s: NetworkPolicySemantics;

  constructor(objs: Json[], cluster: Cluster) {
    this.k8s = new NetworkPolicySemantics(objs.filter((o) => o.kind === 'NetworkPolicy'), cluster);
    for (const o of objs.filter((x) => x.kind !== 'NetworkPolicy')) {
      const namespace = o.kind === 'CiliumNetworkPolicy' ? (o.metadata.namespace ?? 'default') : undefined;
      for (const rule of [...(o.spec ? [o.spec] : []), ...((o.specs ?? []) as Json[])]) this.rules.push({ rule, namespace });
    }
    for (const p of cluster.pods) this.byIp.set(String(parseIp(p.ip)!.value), p);
    for (const n of cluster.namespaces) this.nsLabels.set(n.name, n.labels ?? {});
  }

  private pod(ip: string): Pod | undefined {
    return this.byIp.get(String(parseIp(ip)!.value));
  }

  /** A pod's identity labels as Cilium sees them. */
  private labels(p: Pod): Record<string, string> {
    const out: Record<string, string> = { ...p.labels, [NS_KEY]: p.namespace };
    for (const [k, v] of Object.entries(this.nsLabels.get(p.namespace) ?? {})) out[`io.cilium.k8s.namespace.labels.${k}`] = v;
    return out;
  }

  /** `subject`: an endpointSelector, always within a namespaced policy's namespace. */
  private selectsPod(sel: Json | undefined, p: Pod, namespace: string | undefined, subject = false): boolean {
    const names = (s: Json | undefined): boolean =>
      !!s && (Object.keys(s.matchLabels ?? {}).some((k) => stripSource(k) === NS_KEY) || ((s.matchExpressions ?? []) as Json[]).some((e) => stripSource(e.key) === NS_KEY));
    if (namespace !== undefined && (subject || !names(sel)) && p.namespace !== namespace) return false;
    return selects(sel ?? {}, this.labels(p), stripSource);
  }

  private peerMatches(entry: Json, dir: 'in' | 'out', ip: string, namespace: string | undefined): boolean {
    const pre = dir === 'in' ? 'from' : 'to';
    const l3 = ['Endpoints', 'CIDR', 'CIDRSet', 'Entities', 'FQDNs', 'Services', 'Groups', 'Nodes'].filter((k) => entry[`${pre}${k}`] !== undefined);
    if (l3.length === 0) return entry.toPorts !== undefined;
    const pod = this.pod(ip);
    if (pod && ((entry[`${pre}Endpoints`] ?? []) as Json[]).some((s) => this.selectsPod(s, pod, namespace))) return true;
    if (!pod && ((entry[`${pre}CIDR`] ?? []) as string[]).some((c) => inCidr(ip, c))) return true;
    if (!pod && ((entry[`${pre}CIDRSet`] ?? []) as Json[]).some((c) => inCidr(ip, c.cidr) && !((c.except ?? []) as string[]).some((x) => inCidr(ip, x)))) return true;
    return ((entry[`${pre}Entities`] ?? []) as string[]).some((e) => e === 'all' || (e === 'cluster' && !!pod) || (e.startsWith('world') && !pod));
  }

  private portMatches(entry: Json, f: Flow): boolean {
    if (f.proto === 1) return ((entry.icmps ?? []) as Json[]).some((i) => ((i.fields ?? []) as Json[]).some((x) => Number(x.type) === f.icmpType)) || (entry.toPorts === undefined && entry.icmps === undefined);
    if (entry.toPorts === undefined) return entry.icmps === undefined;
    return (entry.toPorts as Json[]).some((tp) => {
      if (!tp.ports) return true;
      return (tp.ports as Json[]).some((p) => {
        const proto = p.protocol ?? 'ANY';
        if (!(proto === 'ANY' ? f.proto === 6 || f.proto === 17 : (proto === 'TCP' && f.proto === 6) || (proto === 'UDP' && f.proto === 17))) return false;
        const lo = Number(p.port ?? 0);
        if (Number.isNaN(lo)) return false; // a named port: this pod spec exposes none
        if (lo === 0) return true;
        return f.dport >= lo && f.dport <= Number(p.endPort ?? lo);
      });
    });
  }

  private side(dir: 'ingress' | 'egress', pod: Pod, peer: string, f: Flow): 'deny' | 'allow' | 'none' | 'isolated' {
    let isolated = false;
    let allowed = false;
    for (const { rule, namespace } of this.rules) {
      if (!this.selectsPod(rule.endpointSelector, pod, namespace, true)) continue;
      const allows = (rule[dir] ?? []) as Json[];
      const denies = (rule[`${dir}Deny`] ?? []) as Json[];
      const d = dir === 'ingress' ? 'in' : 'out';
      if (denies.some((e) => this.peerMatches(e, d, peer, namespace) && this.portMatches({ ...e, icmps: undefined }, f))) return 'deny';
      if ((allows.length || denies.length) && rule.enableDefaultDeny?.[dir] !== false) isolated = true;
      if (allows.some((e) => this.peerMatches(e, d, peer, namespace) && this.portMatches(e, f))) allowed = true;
    }
    return allowed ? 'allow' : isolated ? 'isolated' : 'none';
  }

  /** Cilium's own rules and the cluster's NetworkPolicies decide each direction together. */
  private combined(dir: 'ingress' | 'egress', pod: Pod, peer: string, f: Flow): 'deny' | 'allow' | 'none' | 'isolated' {
    const own = this.side(dir, pod, peer, f);
    const np = this.k8s.side(dir === 'ingress' ? 'Ingress' : 'Egress', pod, peer, f);
    if (own === 'deny') return 'deny';
    if (own === 'allow' || np === 'allow') return 'allow';
    return own === 'isolated' || np === 'isolated' ? 'isolated' : 'none';
  }

  allows(f: Flow, src: string, dst: string): boolean {
    const s = this.pod(src);
    const d = this.pod(dst);
    const out = s ? this.combined('egress', s, dst, f) : 'none';
    const inn = d ? this.combined('ingress', d, src, f) : 'none';
    return out !== 'deny' && inn !== 'deny' && out !== 'isolated' && inn !== 'isolated';
  }
}

function runCase(name: string, seed: number): ReturnType<typeof compareImport> & { source: (s: string, d: string, proto: number, port: number) => boolean } {
  const file = join(FIXTURES, name, 'policies.yaml');
  const cluster = loadCluster(join(FIXTURES, name, 'pods.yaml'));
  const cilium = new CiliumSemantics(readObjects(file), cluster);
  const r = compareImport('cilium', file, cluster, (f, s, d) => cilium.allows(f, s, d), seed);
  const mk = (src: string, dst: string, proto: number, dport: number): Flow => ({ src: parseIp(src)!, dst: parseIp(dst)!, proto, sport: 40000, dport });
  return { ...r, source: (s, d, p, port) => cilium.allows(mk(s, d, p, port), s, d) };
}

describe('weft import cilium: equivalence with Cilium L3/L4 semantics', () => {
  it('cilium-basic: endpoints, CIDR sets with holes, entities, endPort, specs, clusterwide, deny precedence', () => {
    const r = runCase('cilium-basic', 11);
    console.log(`cilium-basic: tried ${r.tried} flows, ${r.mismatches.length} mismatches, ${r.narrowed.length} narrowed`);
    expect(r.warnings).toEqual([]);
    expect(r.mismatches.slice(0, 10)).toEqual([]);
    expect(r.narrowed.slice(0, 10)).toEqual([]);
    for (const v of [r.weft, r.source]) {
      // Deny wins: the old frontend matches the allow on 8080 and the deny.
      expect(v('10.244.1.10', '10.244.1.20', 6, 8080)).toBe(true);
      expect(v('10.244.1.11', '10.244.1.20', 6, 8080)).toBe(false);
      // The world entity on port 80 (TCP and UDP), not for pods.
      expect(v('8.8.8.8', '10.244.1.20', 17, 80)).toBe(true);
      expect(v('10.244.1.40', '10.244.1.20', 6, 80)).toBe(false);
      // CIDR set hole edges.
      expect(v('192.168.9.255', '10.244.1.20', 6, 443)).toBe(true);
      expect(v('192.168.10.0', '10.244.1.20', 6, 443)).toBe(false);
      // The clusterwide deny on SMTP to the world, without isolating anyone.
      expect(v('10.244.1.40', '8.8.8.8', 6, 25)).toBe(false);
      expect(v('10.244.1.40', '8.8.8.8', 6, 26)).toBe(true);
      expect(v('10.244.1.40', '10.1.1.1', 6, 25)).toBe(true);
    }
  });

  it('cilium-lossy: L7, FQDN, host entity, named ports, SCTP, ICMP and set-based selectors warn and narrow, never widen', () => {
    const r = runCase('cilium-lossy', 12);
    console.log(`cilium-lossy: tried ${r.tried} flows, ${r.mismatches.length} mismatches (Weft allowing more), ${r.narrowed.length} narrowed by the warnings`);
    expect(r.warnings.map((w) => w.split(' ')[0]).sort()).toEqual([
      'inexpressible-selector',
      'inexpressible-selector',
      'inexpressible-selector',
      'named-port',
      'rule-dropped',
      'unsupported-entity',
      'unsupported-icmp',
      'unsupported-l7',
      'unsupported-peer',
      'unsupported-protocol',
    ]);
    expect(r.mismatches.slice(0, 10)).toEqual([]);
    expect(r.narrowed.length).toBeGreaterThan(0);
  });

  it('cilium-mixed: NetworkPolicies and Cilium policies enforced together, a clusterwide quarantine deny', () => {
    const r = runCase('cilium-mixed', 13);
    console.log(`cilium-mixed: tried ${r.tried} flows, ${r.mismatches.length} mismatches, ${r.narrowed.length} narrowed`);
    expect(r.warnings).toEqual([]);
    expect(r.mismatches.slice(0, 10)).toEqual([]);
    expect(r.narrowed.slice(0, 10)).toEqual([]);
    for (const v of [r.weft, r.source]) {
      // The NetworkPolicy's ingress and the Cilium policy's world entity add up on api.
      expect(v('10.244.20.10', '10.244.20.20', 6, 8081)).toBe(true);
      expect(v('10.244.21.10', '10.244.20.20', 6, 8080)).toBe(true);
      expect(v('203.0.113.9', '10.244.20.20', 6, 8443)).toBe(true);
      expect(v('203.0.113.9', '10.244.20.20', 6, 8080)).toBe(false);
      // Egress of api: db via the NetworkPolicy (db's own policy agrees), cache via Cilium.
      expect(v('10.244.20.20', '10.244.20.30', 6, 5432)).toBe(true);
      expect(v('10.244.20.20', '10.244.20.40', 17, 9999)).toBe(true);
      expect(v('10.244.20.20', '198.51.100.128', 6, 443)).toBe(false);
      // A quarantined web pod is denied although the NetworkPolicy allows web.
      expect(v('10.244.20.11', '10.244.20.20', 6, 8080)).toBe(false);
    }
  });

  it('refuses an unknown entity and a malformed CIDR with file:line:col', () => {
    try {
      importPolicy('cilium', [join(FIXTURES, 'bad-cilium', 'policies.yaml')], {});
      expect.unreachable('bad input was accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      const d = (e as InputError).diagnostics.filter((x) => x.severity === 'error');
      expect(d.map((x) => `${x.code} ${x.span?.line}:${x.span?.col}`)).toEqual(['bad-entity 9:11', 'bad-cidr 11:11']);
    }
  });
});
