// Test support for the policy importers' equivalence tests: a cluster
// fixture (namespaces, pods, interesting external addresses), the fabric
// that holds its pods as endpoints with the documented labels, and flows
// that probe it (every pod pair on boundary ports, plus random ones).

import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseFabric } from '../../inventory/fabric.ts';
import type { Fabric } from '../../inventory/model.ts';
import type { Flow } from '../flow.ts';
import { formatIp, parseIp, type IpAddr } from '../net/ip.ts';
import type { Rng } from './generate.ts';

export interface Pod {
  name: string;
  namespace: string;
  ip: string;
  labels: Record<string, string>;
}

export interface Cluster {
  namespaces: { name: string; labels: Record<string, string> }[];
  pods: Pod[];
  external: string[];
}

export function loadCluster(path: string): Cluster {
  const c = parse(readFileSync(path, 'utf8')) as Cluster;
  return { namespaces: c.namespaces ?? [], pods: c.pods ?? [], external: c.external ?? [] };
}

/**
 * The fabric of the README's pod mapping: one host, each pod an endpoint
 * labelled with its labels, its namespace, its namespace's labels and the
 * cluster name. Parsed by Weft's own fabric reader, so it is a fabric
 * `weft validate` accepts.
 */
export function clusterFabric(c: Cluster, clusterName = 'default'): Fabric {
  const nsLabels = new Map(c.namespaces.map((n) => [n.name, n.labels ?? {}]));
  const lines = ['apiVersion: weft.dev/v1', 'kind: Fabric', 'metadata: {name: k8s}', 'spec:', '  devices:', '    - {name: node1, kind: host, mgmt: {address: 192.0.2.1}}', '  endpoints:'];
  for (const p of c.pods) {
    const labels: Record<string, string> = { ...p.labels, 'io.kubernetes.pod.namespace': p.namespace, 'io.cilium.k8s.policy.cluster': clusterName };
    for (const [k, v] of Object.entries(nsLabels.get(p.namespace) ?? {})) labels[`io.cilium.k8s.namespace.labels.${k}`] = v;
    lines.push(`    - {name: ${p.name}, host: node1, addresses: [${p.ip}], labels: ${JSON.stringify(labels)}}`);
  }
  return parseFabric(`${lines.join('\n')}\n`, 'cluster-fabric.yaml');
}

function addr(text: string): IpAddr {
  const a = parseIp(text);
  if (!a) throw new Error(`bad address ${text}`);
  return a;
}

const PROTOS = [6, 17, 1] as const;

/**
 * Every ordered pod/external pair on every boundary port for tcp and udp,
 * then `random` flows between pods, external addresses and random
 * addresses near them.
 */
export function clusterFlows(c: Cluster, boundaryPorts: number[], rng: Rng, random: number): Flow[] {
  const ips = [...c.pods.map((p) => p.ip), ...c.external];
  const ports = [...new Set(boundaryPorts.flatMap((p) => [p - 1, p, p + 1]).filter((p) => p >= 0 && p <= 65535))];
  const flows: Flow[] = [];
  const mk = (s: string, d: string, proto: number, dport: number): Flow => {
    const f: Flow = { src: addr(s), dst: addr(d), proto, sport: proto === 1 ? 0 : rng.int(1024, 65535), dport: proto === 1 ? 0 : dport };
    if (proto === 1) {
      f.icmpType = 8;
      f.icmpCode = 0;
    }
    return f;
  };
  for (const s of ips) {
    for (const d of ips) {
      if (s === d) continue;
      for (const p of ports) for (const proto of [6, 17]) flows.push(mk(s, d, proto, p));
      flows.push(mk(s, d, 1, 0));
    }
  }
  const near = (): string => {
    const base = addr(rng.pick(ips));
    const v = base.family === 4 ? base.value ^ BigInt(rng.int(0, 255)) : base.value ^ BigInt(rng.int(0, 65535));
    return formatIp(base.family, v);
  };
  const pickAddr = (): string => (rng.chance(0.6) ? rng.pick(ips) : rng.chance(0.7) ? near() : formatIp(4, rng.bigint(0n, 0xffffffffn)));
  for (let i = 0; i < random; i++) {
    const s = pickAddr();
    let d = pickAddr();
    if (addr(s).family !== addr(d).family) d = rng.pick(ips);
    const proto = rng.pick(PROTOS);
    flows.push(mk(s, d, proto, rng.chance(0.5) ? rng.pick(ports) : rng.int(0, 65535)));
  }
  return flows.filter((f) => f.src.family === f.dst.family);
}

export function describeFlow(f: Flow): string {
  const p = f.proto === 6 ? 'tcp' : f.proto === 17 ? 'udp' : f.proto === 1 ? 'icmp' : String(f.proto);
  return `${formatIp(f.src.family, f.src.value)} -> ${formatIp(f.dst.family, f.dst.value)} ${p}/${f.dport}`;
}
