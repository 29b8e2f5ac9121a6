// `weft import k8s` at cluster scale: how long translating N NetworkPolicies
// takes, how many Weft rules and groups come out (the egress AND ingress
// products grow with policies that isolate both directions), and how long
// the compiler then takes on the imported policy with a fabric of pods.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildIr } from '../orchestrator/ir/build.ts';
import { importPolicy } from '../orchestrator/import/policy.ts';
import { parsePolicy } from '../orchestrator/policy/load.ts';
import { clusterFabric, type Cluster } from '../orchestrator/testing/cluster.ts';

const APPS = ['web', 'api', 'db', 'cache', 'worker'];

/** Per namespace: default deny both ways, DNS out, and one allow per app pair of a chain. */
function manifests(namespaces: number): string {
  const docs: string[] = [];
  const np = (ns: string, name: string, spec: string): void => {
    docs.push(`apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec}`);
  };
  for (let n = 0; n < namespaces; n++) {
    const ns = `team-${n}`;
    np(ns, 'default-deny', '  podSelector: {}\n  policyTypes: [Ingress, Egress]\n');
    np(ns, 'dns', '  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n    - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]\n      ports: [{protocol: UDP, port: 53}]\n');
    for (let i = 0; i + 1 < APPS.length; i++) {
      const [a, b] = [APPS[i], APPS[i + 1]];
      np(ns, `${b}-from-${a}`, `  podSelector: {matchLabels: {app: ${b}}}\n  ingress:\n    - from: [{podSelector: {matchLabels: {app: ${a}}}}]\n      ports: [{protocol: TCP, port: ${8000 + i}}]\n`);
      np(ns, `${a}-to-${b}`, `  podSelector: {matchLabels: {app: ${a}}}\n  policyTypes: [Egress]\n  egress:\n    - to: [{podSelector: {matchLabels: {app: ${b}}}}]\n      ports: [{protocol: TCP, port: ${8000 + i}}]\n`);
    }
    np(ns, 'web-from-world', '  podSelector: {matchLabels: {app: web}}\n  ingress:\n    - from: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]\n      ports: [{protocol: TCP, port: 443}]\n');
  }
  return docs.join('---\n');
}

function cluster(namespaces: number, podsPerApp: number): Cluster {
  const pods: Cluster['pods'] = [{ name: 'dns', namespace: 'kube-system', ip: '10.255.0.10', labels: { 'k8s-app': 'kube-dns' } }];
  for (let n = 0; n < namespaces; n++) {
    APPS.forEach((app, a) => {
      for (let k = 0; k < podsPerApp; k++) pods.push({ name: `${app}-${n}-${k}`, namespace: `team-${n}`, ip: `10.${n >> 8}.${n & 255}.${a * 40 + k + 1}`, labels: { app } });
    });
  }
  return { namespaces: [{ name: 'kube-system', labels: {} }, ...Array.from({ length: namespaces }, (_, n) => ({ name: `team-${n}`, labels: {} }))], pods, external: [] };
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-import-'));
  const out: Record<string, unknown> = {};
  try {
    for (const namespaces of [10, 50, 200]) {
      const file = join(dir, `np-${namespaces}.yaml`);
      writeFileSync(file, manifests(namespaces));
      const t0 = performance.now();
      const r = importPolicy('k8s', [file], {});
      const ms = performance.now() - t0;
      const policies = namespaces * (3 + 2 * (APPS.length - 1));
      out[`policies${policies}.importMs`] = Math.round(ms);
      out[`policies${policies}.rules`] = r.counts.rules;
      out[`policies${policies}.groups`] = r.counts.groups;
      out[`policies${policies}.policyKiB`] = Math.round(r.text.length / 1024);
      if (namespaces === 50) {
        const fabric = clusterFabric(cluster(namespaces, 4));
        const t1 = performance.now();
        const ir = buildIr(parsePolicy(r.text, 'imported.yaml'), fabric);
        out[`policies${policies}.pods${fabric.endpoints.length}.compileMs`] = Math.round(performance.now() - t1);
        out[`policies${policies}.pods${fabric.endpoints.length}.identities`] = ir.identities.length;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
