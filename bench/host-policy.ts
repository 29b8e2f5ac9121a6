// Synthetic policies for the host benchmark: N rules, each from its own
// remote CIDR group to one of a few local endpoint groups on one port, so
// that both the address table and the policy table grow with N.

import type { Fabric } from '../inventory/model.ts';
import { parseIp, type Cidr } from '../orchestrator/net/ip.ts';
import type { GroupDef, Policy, Rule } from '../orchestrator/policy/model.ts';

const span = { file: 'bench', line: 1, col: 1 };

export const BENCH_HOST = 'bench-host';

export function benchFabric(): Fabric {
  const locals = [0, 1, 2, 3].map((i) => ({
    name: `local-${i}`,
    host: BENCH_HOST,
    addresses: [parseIp(`192.168.0.${10 + i}`)!],
    labels: { app: `svc${i}` },
    span,
  }));
  return {
    file: 'bench-fabric',
    name: 'bench',
    devices: [{ name: BENCH_HOST, kind: 'host', mgmt: {}, labels: {}, span }],
    links: [{ a: { device: BENCH_HOST, port: 'wb0' }, b: { device: 'peer', port: 'wb0' }, span }],
    endpoints: locals,
    digest: 'b'.repeat(64),
  };
}

/** Rule i: from 10.0.0.0/8 carved into /28s (one per rule) to svc(i % 4), tcp port 1024 + i % 50000. */
export function remoteOf(i: number): { cidr: Cidr; addr: bigint; port: number } {
  const base = 0x0a000000n + (BigInt(i) << 4n);
  return { cidr: { family: 4, addr: base, len: 28 }, addr: base + 5n, port: 1024 + (i % 50000) };
}

export function benchPolicy(n: number, variant = 0): Policy {
  const groups = new Map<string, GroupDef>();
  for (let s = 0; s < 4; s++) groups.set(`svc${s}`, { name: `svc${s}`, selector: { app: `svc${s}` }, cidrs: [], except: [], span });
  const rules: Rule[] = [];
  for (let i = 0; i < n; i++) {
    const g = `r${i}`;
    groups.set(g, { name: g, cidrs: [remoteOf(i).cidr], except: [], span });
    const { port } = remoteOf(i);
    // `variant` flips one rule's port: the one-rule change of the apply benchmark.
    const p = i === 0 ? port + variant : port;
    rules.push({
      index: i,
      name: `rule-${i}`,
      section: '',
      from: [{ kind: 'group', name: g, span }],
      to: [{ kind: 'group', name: `svc${i % 4}`, span }],
      ports: [{ protocol: 'tcp', lo: p, hi: p, span }],
      action: i % 2 === 0 ? 'allow' : 'deny',
      log: false,
      span,
    });
  }
  return { file: 'bench-policy', name: `bench-${n}`, defaultAction: 'deny', groups, sections: [], rules, digest: `${n}-${variant}`.padEnd(64, '0') };
}
