// Equivalence of `weft import k8s` with Kubernetes NetworkPolicy semantics.
// The evaluator below reads the manifests itself and implements the
// Kubernetes rules literally (per-direction isolation, allows unioned across
// policies, a flow needs the source's egress and the destination's ingress;
// ipBlock names addresses outside the cluster's pods); it shares no code
// with the translator. Weft's verdict comes from the reference evaluator on
// the imported policy and a fabric holding the pods as endpoints.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { InputError } from '../diagnostics.ts';
import type { Flow } from '../flow.ts';
import { buildIr } from '../ir/build.ts';
import { cidrRange, formatIp, parseCidr, parseIp } from '../net/ip.ts';
import { parsePolicy } from '../policy/load.ts';
import { ReferenceEvaluator } from '../reference/evaluator.ts';
import { clusterFabric, clusterFlows, describeFlow, loadCluster, type Cluster, type Pod } from '../testing/cluster.ts';
import { makeRng } from '../testing/generate.ts';
import { importPolicy } from './policy.ts';

const FIXTURES = 'test/fixtures/import';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function readObjects(file: string): Json[] {
  const out: Json[] = [];
  for (const d of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const js = (d as { toJS(): unknown }).toJS() as Json | null;
    if (!js) continue;
    if (js.kind === 'List') out.push(...(js.items as Json[]));
    else out.push(js);
  }
  return out;
}

function inCidr(ip: string, cidr: string): boolean {
  const a = parseIp(ip);
  const r = parseCidr(cidr);
  if (!a || !r.ok || a.family !== r.cidr.family) return false;
  const { lo, hi } = cidrRange(r.cidr);
  return a.value >= lo && a.value <= hi;
}

function selects(sel: Json | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries((sel.matchLabels ?? {}) as Record<string, string>)) if (labels[k] !== String(v)) return false;
  for (const e of (sel.matchExpressions ?? []) as Json[]) {
    const has = e.key in labels;
    const vals = ((e.values ?? []) as unknown[]).map(String);
    if (e.operator === 'In' && !(has && vals.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && vals.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** Kubernetes NetworkPolicy, read literally. */
class NetworkPolicySemantics {
  private readonly byIp = new Map<string, Pod>();
  private readonly nsLabels = new Map<string, Record<string, string>>();
  constructor(
    private readonly policies: Json[],
    cluster: Cluster,
  ) {
    for (const p of cluster.pods) this.byIp.set(String(parseIp(p.ip)!.value), p);
    for (const n of cluster.namespaces) this.nsLabels.set(n.name, { ...n.labels, 'kubernetes.io/metadata.name': n.name });
  }

  private pod(ip: string): Pod | undefined {
    return this.byIp.get(String(parseIp(ip)!.value));
  }

  private types(p: Json): string[] {
    if (p.spec.policyTypes) return p.spec.policyTypes as string[];
    return p.spec.egress ? ['Ingress', 'Egress'] : ['Ingress'];
  }

  private peerMatches(peer: Json, ip: string, ns: string): boolean {
    if (peer.ipBlock) {
      if (this.pod(ip)) return false;
      return inCidr(ip, peer.ipBlock.cidr) && !((peer.ipBlock.except ?? []) as string[]).some((x) => inCidr(ip, x));
    }
    const pod = this.pod(ip);
    if (!pod) return false;
    if (peer.namespaceSelector) {
      if (!selects(peer.namespaceSelector, this.nsLabels.get(pod.namespace) ?? {})) return false;
    } else if (pod.namespace !== ns) return false;
    return selects(peer.podSelector, pod.labels);
  }

  private portMatches(ports: Json[] | undefined, f: Flow): boolean {
    if (!ports || ports.length === 0) return true;
    return ports.some((p) => {
      const proto = p.protocol ?? 'TCP';
      if (!((proto === 'TCP' && f.proto === 6) || (proto === 'UDP' && f.proto === 17))) return false;
      if (p.port === undefined) return true;
      const lo = Number(p.port);
      const hi = p.endPort === undefined ? lo : Number(p.endPort);
      return f.dport >= lo && f.dport <= hi;
    });
  }

  /** Does `pod`'s `dir` side admit traffic with `peerIp`? */
  private admits(dir: 'Ingress' | 'Egress', pod: Pod, peerIp: string, f: Flow): boolean {
    const selecting = this.policies.filter((p) => (p.metadata.namespace ?? 'default') === pod.namespace && selects(p.spec.podSelector, pod.labels) && this.types(p).includes(dir));
    if (selecting.length === 0) return true;
    const key = dir === 'Ingress' ? 'ingress' : 'egress';
    const peerKey = dir === 'Ingress' ? 'from' : 'to';
    return selecting.some((p) =>
      ((p.spec[key] ?? []) as Json[]).some((r) => {
        const peers = r[peerKey] as Json[] | undefined;
        const peerOk = !peers || peers.length === 0 || peers.some((x) => this.peerMatches(x, peerIp, p.metadata.namespace ?? 'default'));
        return peerOk && this.portMatches(r.ports, f);
      }),
    );
  }

  allows(f: Flow, src: string, dst: string): boolean {
    const s = this.pod(src);
    const d = this.pod(dst);
    return (!s || this.admits('Egress', s, dst, f)) && (!d || this.admits('Ingress', d, src, f));
  }
}

function boundaryPorts(objs: Json[]): number[] {
  const out = new Set<number>([0, 1, 65535]);
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if ((k === 'port' || k === 'endPort') && /^[0-9]+$/.test(String(x))) out.add(Number(x));
        walk(x);
      }
    }
  };
  walk(objs);
  return [...out];
}

interface Outcome {
  tried: number;
  mismatches: string[];
  /** Flows Weft denies that Kubernetes allows (a narrowed import). */
  narrowed: number;
  weft: (src: string, dst: string, proto: number, dport: number) => boolean;
  source: (src: string, dst: string, proto: number, dport: number) => boolean;
}

function runCase(name: string, input: string, seed: number): Outcome & { warnings: string[] } {
  const dir = join(FIXTURES, name);
  const file = join(dir, input);
  const cluster = loadCluster(join(dir, 'pods.yaml'));
  const imported = importPolicy('k8s', [file], {});
  const policy = parsePolicy(imported.text, `${name}/policy.yaml`);
  const fabric = clusterFabric(cluster);
  buildIr(policy, fabric); // the imported policy compiles against the pods' fabric
  const ref = new ReferenceEvaluator(policy, fabric);
  const objs = readObjects(file).filter((o) => o.kind === 'NetworkPolicy');
  const k8s = new NetworkPolicySemantics(objs, cluster);
  const flows = clusterFlows(cluster, boundaryPorts(objs), makeRng(seed), 20_000);
  const ipText = (a: Flow['src']): string => formatIp(a.family, a.value);
  const mismatches: string[] = [];
  let narrowed = 0;
  for (const f of flows) {
    const want = k8s.allows(f, ipText(f.src), ipText(f.dst));
    const got = ref.verdict(f).verdict === 'allow';
    if (want === got) continue;
    if (want && !got) narrowed++;
    else mismatches.push(`${describeFlow(f)}: Kubernetes ${want ? 'allows' : 'denies'}, Weft ${got ? 'allows' : 'denies'}`);
  }
  const mk = (src: string, dst: string, proto: number, dport: number): Flow => ({ src: parseIp(src)!, dst: parseIp(dst)!, proto, sport: 40000, dport });
  return {
    tried: flows.length,
    mismatches,
    narrowed,
    warnings: imported.warnings.map((w) => `${w.code} ${w.span?.line}:${w.span?.col}`),
    weft: (s, d, p, port) => ref.verdict(mk(s, d, p, port)).verdict === 'allow',
    source: (s, d, p, port) => k8s.allows(mk(s, d, p, port), s, d),
  };
}

describe('weft import k8s: equivalence with NetworkPolicy semantics', () => {
  it('k8s-basic: ipBlock/except, endPort, namespaceSelector, In, two policies per pod', () => {
    const r = runCase('k8s-basic', 'networkpolicy.yaml', 1);
    console.log(`k8s-basic: tried ${r.tried} flows, ${r.mismatches.length} mismatches, ${r.narrowed} narrowed`);
    expect(r.warnings).toEqual([]);
    expect(r.mismatches.slice(0, 10)).toEqual([]);
    expect(r.narrowed).toBe(0);
    expect(r.tried).toBeGreaterThan(20_000);
    // Isolation per direction: api is isolated for egress, so api -> frontend is refused
    // although the frontend has no policy; the frontend is isolated for nothing.
    for (const v of [r.weft, r.source]) {
      expect(v('10.244.1.20', '10.244.1.10', 6, 80)).toBe(false);
      expect(v('10.244.1.10', '10.244.1.11', 6, 80)).toBe(true);
      // Ingress isolation of api admits the frontend of its namespace on the port range edges only.
      expect(v('10.244.1.10', '10.244.1.20', 6, 8080)).toBe(true);
      expect(v('10.244.1.10', '10.244.1.20', 6, 8090)).toBe(true);
      expect(v('10.244.1.10', '10.244.1.20', 6, 8091)).toBe(false);
      expect(v('10.244.4.11', '10.244.1.20', 6, 8080)).toBe(false);
      // Additivity: db-ingress and db-backup both select db; each adds its allows.
      expect(v('10.244.1.20', '10.244.1.30', 6, 5432)).toBe(true);
      expect(v('10.244.4.10', '10.244.1.30', 6, 873)).toBe(true);
      expect(v('10.244.1.20', '10.244.1.30', 6, 873)).toBe(false);
      // except edges of an egress ipBlock.
      expect(v('10.244.1.20', '203.0.113.63', 6, 443)).toBe(true);
      expect(v('10.244.1.20', '203.0.113.64', 6, 443)).toBe(false);
      expect(v('10.244.1.20', '203.0.113.128', 6, 443)).toBe(true);
    }
  });

  it('k8s-default-deny: empty selectors, empty rule lists, ports without a port, from: [] and egress-only policies', () => {
    const r = runCase('k8s-default-deny', 'policies.yaml', 2);
    console.log(`k8s-default-deny: tried ${r.tried} flows, ${r.mismatches.length} mismatches, ${r.narrowed} narrowed`);
    expect(r.warnings).toEqual([]);
    expect(r.mismatches.slice(0, 10)).toEqual([]);
    expect(r.narrowed).toBe(0);
  });

  it('k8s-list (JSON List): NotIn, Exists, SCTP and named ports are warned about and narrowed, never widened', () => {
    const r = runCase('k8s-list', 'policies.json', 3);
    console.log(`k8s-list: tried ${r.tried} flows, ${r.mismatches.length} mismatches (Weft allowing more), ${r.narrowed} narrowed by the warnings`);
    expect(r.warnings.map((w) => w.split(' ')[0]).sort()).toEqual(['inexpressible-selector', 'inexpressible-selector', 'named-port', 'rule-dropped', 'unsupported-protocol', 'unsupported-protocol']);
    expect(r.mismatches.slice(0, 10)).toEqual([]);
    expect(r.narrowed).toBeGreaterThan(0);
  });

  it('refuses a wrong kind and a missing spec with file:line:col', () => {
    const bad = join(FIXTURES, 'bad-k8s', 'wrong-kind.yaml');
    expect(() => importPolicy('k8s', [bad], {})).toThrow(InputError);
    try {
      importPolicy('k8s', [bad], {});
    } catch (e) {
      const d = (e as InputError).diagnostics.filter((x) => x.severity === 'error');
      expect(d.map((x) => [x.code, x.span?.line, x.span?.col])).toEqual([['wrong-kind', 2, 7], ['missing-key', 5, 1]]);
    }
  });
});
