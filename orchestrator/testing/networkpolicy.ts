// Kubernetes NetworkPolicy semantics, read literally from the manifests,
// for the importers' equivalence tests: per-direction isolation, allows
// unioned across policies, a flow needs the source's egress and the
// destination's ingress; ipBlock names addresses outside the cluster's pods.
// Shares no code with the translator.

import type { Flow } from '../flow.ts';
import { parseIp } from '../net/ip.ts';
import { inCidr, selects, type Cluster, type Json, type Pod } from './cluster.ts';

/** Kubernetes NetworkPolicy, read literally. */
export class NetworkPolicySemantics {
  private readonly byIp = new Map<string, Pod>();
  private readonly nsLabels = new Map<string, Record<string, string>>();
  constructor(
    private readonly policies: Json[],
    cluster: Cluster,
  ) {
    for (const p of cluster.pods) this.byIp.set(String(parseIp(p.ip)!.value), p);
    for (const n of cluster.namespaces) this.nsLabels.set(n.name, { ...n.labels, 'kubernetes.io/metadata.name': n.name });
  }

  pod(ip: string): Pod | undefined {
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

  /**
   * `pod`'s `dir` side for traffic with `peerIp`: allowed by some policy,
   * isolated (selected, nothing allows), or not selected at all.
   */
  side(dir: 'Ingress' | 'Egress', pod: Pod, peerIp: string, f: Flow): 'allow' | 'isolated' | 'none' {
    const selecting = this.policies.filter((p) => (p.metadata.namespace ?? 'default') === pod.namespace && selects(p.spec.podSelector, pod.labels) && this.types(p).includes(dir));
    if (selecting.length === 0) return 'none';
    const key = dir === 'Ingress' ? 'ingress' : 'egress';
    const peerKey = dir === 'Ingress' ? 'from' : 'to';
    const allowed = selecting.some((p) =>
      ((p.spec[key] ?? []) as Json[]).some((r) => {
        const peers = r[peerKey] as Json[] | undefined;
        const peerOk = !peers || peers.length === 0 || peers.some((x) => this.peerMatches(x, peerIp, p.metadata.namespace ?? 'default'));
        return peerOk && this.portMatches(r.ports, f);
      }),
    );
    return allowed ? 'allow' : 'isolated';
  }

  allows(f: Flow, src: string, dst: string): boolean {
    const s = this.pod(src);
    const d = this.pod(dst);
    return (!s || this.side('Egress', s, dst, f) !== 'isolated') && (!d || this.side('Ingress', d, src, f) !== 'isolated');
  }
}
