// Helpers shared by the OpenConfig tests and benchmark: codegen inputs for
// every OpenConfig switch of a generated scenario.

import { buildIr } from '../../orchestrator/ir/build.ts';
import { place } from '../../orchestrator/placement/place.ts';
import type { Policy } from '../../orchestrator/policy/model.ts';
import type { Fabric } from '../../inventory/model.ts';
import type { CodegenInput } from '../contract.ts';
import { makeFabric, makePolicy, type RuleSpec } from '../../orchestrator/testing/build.ts';
import { ICMPV4_CODES, ICMPV6_CODES } from './model.ts';

/**
 * Exact sets reject a deny on an ICMP type/code openconfig has no identity
 * for (tested in codegen.test.ts); generated policies keep such denies to
 * nameable codes so every scenario compiles.
 */
export function nameableDenies(policy: Policy): Policy {
  const rules = policy.rules.map((r) => {
    if (r.action !== 'deny') return r;
    const ports = r.ports.map((m) => {
      if (m.protocol !== 'icmp' && m.protocol !== 'icmpv6') return m;
      const codes = m.protocol === 'icmp' ? ICMPV4_CODES : ICMPV6_CODES;
      if (m.type === undefined) return { ...m, code: undefined };
      if (m.code !== undefined && codes[`${m.type}/${m.code}`] === undefined) return { ...m, code: undefined };
      return m;
    });
    return { ...r, ports };
  });
  return { ...policy, rules };
}

/** Inputs for each OpenConfig switch, capacity lifted so sizes can be measured. */
export function openconfigInputs(policy: Policy, fabric: Fabric): CodegenInput[] {
  const ir = buildIr(policy, fabric);
  const placement = place(policy, fabric, ir);
  const out: CodegenInput[] = [];
  for (const device of fabric.devices) {
    if (device.kind !== 'switch' || device.pipeline !== 'openconfig') continue;
    const devicePlacement = placement.devices.find((d) => d.device === device.name);
    if (!devicePlacement) continue;
    out.push({ policy, fabric, ir, placement, device: { ...device, capacity: { aclEntries: 1_000_000 } }, devicePlacement });
  }
  return out;
}


/**
 * A small hand-made case: one OpenConfig switch with a host port (eth1,
 * prefilter) and two unmanaged endpoints (eth5 exact, eth6 exact).
 */
export function smallInput(
  rules: RuleSpec[],
  opts: { capacity?: number; defaultAction?: 'allow' | 'deny'; groups?: Record<string, { cidrs: string[] }> } = {},
): CodegenInput {
  const policy = makePolicy({
    defaultAction: opts.defaultAction,
    groups: {
      web: { selector: { app: 'web' } },
      db: { selector: { app: 'db' } },
      ops: { cidrs: ['10.250.0.0/16', 'fd00:250::/48'], except: ['10.250.9.0/24'] },
      ...opts.groups,
    },
    rules,
  });
  const base = makeFabric([
    { name: 'web-1', addresses: ['10.0.1.11', 'fd00:1::11'], labels: { app: 'web' } },
    { name: 'web-2', addresses: ['10.0.1.12'], labels: { app: 'web' } },
    { name: 'db-1', addresses: ['10.0.2.21', 'fd00:2::21'], labels: { app: 'db' } },
    { name: 'db-2', addresses: ['10.0.2.22'], labels: { app: 'db' } },
  ]);
  const span = { file: 'test/fabric.yaml', line: 1, col: 1 };
  const fabric: Fabric = {
    ...base,
    devices: [
      ...base.devices,
      { name: 'leaf1', kind: 'switch', pipeline: 'openconfig', mgmt: { address: '127.0.0.1', gnmi: { port: 57400 } }, capacity: { aclEntries: opts.capacity ?? 1024 }, labels: {}, span },
    ],
    links: [{ a: { device: 'host1', port: 'eth1' }, b: { device: 'leaf1', port: 'eth1' }, span }],
    endpoints: base.endpoints.map((e) =>
      e.name.startsWith('db') ? { ...e, host: undefined, attach: { device: 'leaf1', port: e.name === 'db-1' ? 'eth5' : 'eth6' } } : e,
    ),
  };
  const ir = buildIr(policy, fabric);
  const placement = place(policy, fabric, ir);
  const devicePlacement = placement.devices.find((d) => d.device === 'leaf1');
  if (!devicePlacement) throw new Error('placement has no leaf1');
  return { policy, fabric, ir, placement, device: fabric.devices[1], devicePlacement };
}
