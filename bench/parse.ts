// Parse throughput of policy.yaml, fabric.yaml and containerlab topologies,
// and how fast an oversized input is refused.

import { parsePolicy } from '../orchestrator/policy/load.ts';
import { InputError } from '../orchestrator/diagnostics.ts';
import { MAX_INPUT_BYTES } from '../orchestrator/yaml/source.ts';
import { fabricToContainerlab, parseContainerlab, parseFabric } from '../inventory/load.ts';

const HEAD = (kind: string): string => `apiVersion: weft.dev/v1\nkind: ${kind}\nmetadata: {name: bench}\nspec:\n`;

function policyText(bytes: number): string {
  const parts = [`${HEAD('Policy')}  groups:\n    g: {cidrs: [10.0.0.0/8], except: [10.9.0.0/16]}\n    w: {selector: {app: web}}\n  rules:\n`];
  let size = parts[0].length;
  for (let i = 0; size < bytes; i++) {
    const line = `    - name: r${i}\n      from: [g]\n      to: [w, any]\n      ports: [{protocol: tcp, port: "${i % 60000}-${(i % 60000) + 10}"}, {protocol: icmp, type: 8}]\n      action: ${i % 2 ? 'allow' : 'deny'}\n`;
    parts.push(line);
    size += line.length;
  }
  return parts.join('');
}

function fabricText(bytes: number): string {
  const parts = [`${HEAD('Fabric')}  devices:\n    - {name: h, kind: host}\n  endpoints:\n`];
  let size = parts[0].length;
  for (let i = 0; size < bytes; i++) {
    const line = `    - {name: e${i}, host: h, addresses: [10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}], labels: {app: a${i % 7}, env: prod}}\n`;
    parts.push(line);
    size += line.length;
  }
  return parts.join('');
}

function timed<T>(f: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = f();
  return { ms: Math.round(performance.now() - t0), value };
}

export async function run(): Promise<Record<string, unknown>> {
  const mib = 1024 * 1024;
  const pText = policyText(mib);
  const p = timed(() => parsePolicy(pText, 'policy.yaml'));
  const fText = fabricText(mib);
  const f = timed(() => parseFabric(fText, 'fabric.yaml'));
  // The containerlab form of a fabric is about three times larger: start from a smaller one.
  const cText = fabricToContainerlab(parseFabric(fabricText(mib / 3), 'small.yaml'));
  const c = timed(() => parseContainerlab(cText, 'bench.clab.yml'));
  const huge = 'x'.repeat(MAX_INPUT_BYTES + 1);
  const refused = timed(() => {
    try {
      parsePolicy(huge, 'huge.yaml');
      return false;
    } catch (e) {
      return e instanceof InputError;
    }
  });
  const rate = (bytes: number, ms: number): number => Math.round((bytes / mib / (ms / 1000)) * 100) / 100;
  return {
    'parse.policy.bytes': pText.length,
    'parse.policy.rules': p.value.rules.length,
    'parse.policy.ms': p.ms,
    'parse.policy.MiBps': rate(pText.length, p.ms),
    'parse.fabric.endpoints': f.value.endpoints.length,
    'parse.fabric.ms': f.ms,
    'parse.fabric.MiBps': rate(fText.length, f.ms),
    'parse.clab.bytes': cText.length,
    'parse.clab.ms': c.ms,
    'parse.clab.MiBps': rate(cText.length, c.ms),
    'parse.oversized.refused': refused.value,
    'parse.oversized.ms': refused.ms,
    'parse.maxInputBytes': MAX_INPUT_BYTES,
  };
}
