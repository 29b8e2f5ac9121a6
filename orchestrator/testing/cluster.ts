// Test support for the policy importers' equivalence tests: a cluster
// fixture (namespaces, pods, interesting external addresses), the fabric
// that holds its pods as endpoints with the documented labels, flows that
// probe it (every pod pair on boundary ports, plus random ones), the
// literal Kubernetes label-selector and CIDR matching both source
// evaluators use, and the comparison loop. Nothing here is shared with the
// translators: the source side reads the manifests as plain JSON.

import { readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { parseFabric } from '../../inventory/load.ts';
import type { Fabric } from '../../inventory/model.ts';
import type { Flow } from '../flow.ts';
import { importPolicy, type PolicySource } from '../import/policy.ts';
import { buildIr } from '../ir/build.ts';
import { cidrRange, formatIp, parseCidr, parseIp, type IpAddr } from '../net/ip.ts';
import { parsePolicy } from '../policy/load.ts';
import { ReferenceEvaluator } from '../reference/evaluator.ts';
import { makeRng, type Rng } from './generate.ts';

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

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

/** The objects of a manifest file as plain data (a List's items flattened). */
export function readObjects(file: string): Json[] {
  const out: Json[] = [];
  for (const d of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const js = (d as { toJS(): unknown }).toJS() as Json | null;
    if (!js) continue;
    if (js.kind === 'List') out.push(...(js.items as Json[]));
    else out.push(js);
  }
  return out;
}

export function inCidr(ip: string, cidr: string): boolean {
  const a = parseIp(ip);
  const r = parseCidr(cidr);
  if (!a || !r.ok || a.family !== r.cidr.family) return false;
  const { lo, hi } = cidrRange(r.cidr);
  return a.value >= lo && a.value <= hi;
}

/** A Kubernetes LabelSelector, literally (absent: everything). `key` maps selector keys first. */
export function selects(sel: Json | undefined, labels: Record<string, string>, key: (k: string) => string = (k) => k): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries((sel.matchLabels ?? {}) as Record<string, string>)) if (labels[key(k)] !== String(v)) return false;
  for (const e of (sel.matchExpressions ?? []) as Json[]) {
    const k = key(e.key as string);
    const has = k in labels;
    const vals = ((e.values ?? []) as unknown[]).map(String);
    if (e.operator === 'In' && !(has && vals.includes(labels[k]))) return false;
    if (e.operator === 'NotIn' && has && vals.includes(labels[k])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** Every port and endPort a manifest mentions: the edges flows probe. */
export function boundaryPorts(objs: Json[]): number[] {
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

export interface Comparison {
  tried: number;
  /** Flows Weft allows and the source denies: never acceptable. */
  mismatches: string[];
  /** Flows Weft denies and the source allows (a narrowed import). */
  narrowed: string[];
  warnings: string[];
  /** Weft's verdict for one TCP/UDP flow. */
  weft: (src: string, dst: string, proto: number, dport: number) => boolean;
}

/**
 * Imports `file`, compiles it against the cluster's fabric and compares the
 * reference evaluator's verdicts with `sourceAllows` on generated flows.
 */
export function compareImport(source: PolicySource, file: string, cluster: Cluster, sourceAllows: (f: Flow, src: string, dst: string) => boolean, seed: number): Comparison {
  const imported = importPolicy(source, [file], {});
  const policy = parsePolicy(imported.text, 'imported-policy.yaml');
  const fabric = clusterFabric(cluster);
  buildIr(policy, fabric); // the imported policy compiles against the pods' fabric
  const ref = new ReferenceEvaluator(policy, fabric);
  const flows = clusterFlows(cluster, boundaryPorts(readObjects(file)), makeRng(seed), 20_000);
  const mismatches: string[] = [];
  const narrowed: string[] = [];
  for (const f of flows) {
    const want = sourceAllows(f, formatIp(f.src.family, f.src.value), formatIp(f.dst.family, f.dst.value));
    const got = ref.verdict(f).verdict === 'allow';
    if (want === got) continue;
    const line = `${describeFlow(f)}: source ${want ? 'allows' : 'denies'}, Weft ${got ? 'allows' : 'denies'}`;
    (want ? narrowed : mismatches).push(line);
  }
  const mk = (src: string, dst: string, proto: number, dport: number): Flow => ({ src: addr(src), dst: addr(dst), proto, sport: 40000, dport });
  return {
    tried: flows.length,
    mismatches,
    narrowed,
    warnings: imported.warnings.map((w) => `${w.code} ${w.span?.line}:${w.span?.col}`),
    weft: (s, d, p, port) => ref.verdict(mk(s, d, p, port)).verdict === 'allow',
  };
}
