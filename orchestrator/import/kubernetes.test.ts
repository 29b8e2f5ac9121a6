// Equivalence of `weft import k8s` with Kubernetes NetworkPolicy semantics.
// The evaluator (orchestrator/testing/networkpolicy.ts) reads the manifests
// itself and implements the Kubernetes rules literally (per-direction
// isolation, allows unioned across policies, a flow needs the source's
// egress and the destination's ingress; ipBlock names addresses outside the
// cluster's pods); it shares no code with the translator. Weft's verdict comes from the reference evaluator on
// the imported policy and a fabric holding the pods as endpoints.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../diagnostics.ts';
import type { Flow } from '../flow.ts';
import { parseIp } from '../net/ip.ts';
import { compareImport, loadCluster, readObjects, type Comparison } from '../testing/cluster.ts';
import { NetworkPolicySemantics } from '../testing/networkpolicy.ts';
import { importPolicy } from './policy.ts';

const FIXTURES = 'test/fixtures/import';


function runCase(name: string, input: string, seed: number): Comparison & { source: (src: string, dst: string, proto: number, dport: number) => boolean } {
  const file = join(FIXTURES, name, input);
  const cluster = loadCluster(join(FIXTURES, name, 'pods.yaml'));
  const k8s = new NetworkPolicySemantics(readObjects(file).filter((o) => o.kind === 'NetworkPolicy'), cluster);
  const r = compareImport('k8s', file, cluster, (f, s, d) => k8s.allows(f, s, d), seed);
  const mk = (src: string, dst: string, proto: number, dport: number): Flow => ({ src: parseIp(src)!, dst: parseIp(dst)!, proto, sport: 40000, dport });
  return { ...r, source: (s, d, p, port) => k8s.allows(mk(s, d, p, port), s, d) };
}

describe('weft import k8s: equivalence with NetworkPolicy semantics', () => {
  it('k8s-basic: ipBlock/except, endPort, namespaceSelector, In, two policies per pod', () => {
    const r = runCase('k8s-basic', 'networkpolicy.yaml', 1);
    console.log(`k8s-basic: tried ${r.tried} flows, ${r.mismatches.length} mismatches, ${r.narrowed.length} narrowed`);
    expect(r.warnings).toEqual([]);
    expect(r.mismatches.slice(0, 10)).toEqual([]);
    expect(r.narrowed.slice(0, 10)).toEqual([]);
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
      // Both pods isolated: the egress range 5430-5435 meets the ingress 5432 and 5434-5440.
      expect([5431, 5432, 5433, 5434, 5435, 5436].map((p) => v('10.244.1.20', '10.244.1.30', 6, p))).toEqual([false, true, false, true, true, false]);
      // except edges of an egress ipBlock.
      expect(v('10.244.1.20', '203.0.113.63', 6, 443)).toBe(true);
      expect(v('10.244.1.20', '203.0.113.64', 6, 443)).toBe(false);
      expect(v('10.244.1.20', '203.0.113.128', 6, 443)).toBe(true);
      // IPv6: the same rule's second block, its hole, and the port range edge.
      expect(v('fd00:10::20', '2001:db8::1', 17, 4510)).toBe(true);
      expect(v('fd00:10::20', '2001:db8::1', 17, 4511)).toBe(false);
      expect(v('fd00:10::20', '2001:db8:1::', 6, 443)).toBe(false);
      expect(v('fd00:10::30', 'fd00:10::20', 6, 8085)).toBe(true);
    }
  });

  it('k8s-default-deny: empty selectors, empty rule lists, ports without a port, from: [] and egress-only policies', () => {
    const r = runCase('k8s-default-deny', 'policies.yaml', 2);
    console.log(`k8s-default-deny: tried ${r.tried} flows, ${r.mismatches.length} mismatches, ${r.narrowed.length} narrowed`);
    expect(r.warnings).toEqual([]);
    expect(r.mismatches.slice(0, 10)).toEqual([]);
    expect(r.narrowed.slice(0, 10)).toEqual([]);
  });

  it('k8s-list (JSON List): NotIn, Exists, SCTP and named ports are warned about and narrowed, never widened', () => {
    const r = runCase('k8s-list', 'policies.json', 3);
    console.log(`k8s-list: tried ${r.tried} flows, ${r.mismatches.length} mismatches (Weft allowing more), ${r.narrowed.length} narrowed by the warnings`);
    expect(r.warnings.map((w) => w.split(' ')[0]).sort()).toEqual(['inexpressible-selector', 'inexpressible-selector', 'named-port', 'rule-dropped', 'unsupported-protocol', 'unsupported-protocol']);
    expect(r.mismatches.slice(0, 10)).toEqual([]);
    expect(r.narrowed.length).toBeGreaterThan(0);
  });

  it('keeps the last definition of a policy defined twice, as kubectl apply would, and warns', () => {
    const r = importPolicy('k8s', [join(FIXTURES, 'bad-k8s', 'replaced.yaml')], {});
    expect(r.warnings.map((w) => `${w.code} ${w.span?.line}:${w.span?.col}`)).toEqual(['replaced-object 2:1']);
    expect(r.text).toContain('port: 443');
    expect(r.text).not.toContain('port: 8080');
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
