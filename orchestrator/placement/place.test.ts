// Placement on the example fabric (modes, interfaces, reasons) and, on
// generated scenarios, the invariant that every flow a rule decides has an
// exact enforcement point at its source end (managed or unmanaged) and at its
// destination end when a host or DPU manages it.

import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../inventory/load.ts';
import type { Fabric } from '../../inventory/model.ts';
import { buildIr } from '../ir/build.ts';
import type { Ir } from '../ir/model.ts';
import { concreteShareCells } from '../ir/share.ts';
import { loadPolicy } from '../policy/load.ts';
import type { Policy } from '../policy/model.ts';
import { generateScenario, makeRng } from '../testing/generate.ts';
import { compactPlacement, placementFromJson, placementJson } from './compact.ts';
import type { Placement } from './model.ts';
import { hasAgent, place } from './place.ts';

function example(edit?: (f: Fabric) => void): { policy: Policy; fabric: Fabric; ir: Ir } {
  const policy = loadPolicy('examples/policy.yaml');
  const fabric = loadInventory('examples/fabric.yaml');
  edit?.(fabric);
  return { policy, fabric, ir: buildIr(policy, fabric) };
}

function identitiesOf(ir: Ir, endpoint: string): number[] {
  return ir.identities.filter((i) => i.endpoints.includes(endpoint)).map((i) => i.id);
}

describe('place on examples/', () => {
  const { policy, fabric, ir } = example();
  const p = place(policy, fabric, ir);
  const dev = (name: string) => p.devices.find((d) => d.device === name)!;
  const rule = (name: string) => p.rules.find((r) => r.name === name)!;

  it('gives every device with an agent a placement, in fabric order', () => {
    expect(p.devices.map((d) => d.device)).toEqual(fabric.devices.map((d) => d.name));
    expect(p.rules.map((r) => r.name)).toEqual(policy.rules.map((r) => r.name));
  });

  it('hosts are exact for their own endpoints, with their uplink', () => {
    const h1 = dev('host1');
    expect(h1).toMatchObject({ target: 'host', mode: 'exact', interfaces: [{ name: 'eth1', role: 'uplink' }] });
    expect(h1.localIdentities).toEqual(identitiesOf(ir, 'web-1'));
    const h2 = dev('host2');
    expect(h2.localIdentities).toEqual([...new Set([...identitiesOf(ir, 'web-2'), ...identitiesOf(ir, 'ops-1')])].sort((a, b) => a - b));
  });

  it('a DPU in front of a host with an agent is a prefilter', () => {
    const d = dev('dpu3');
    expect(d).toMatchObject({ target: 'dpu', mode: 'prefilter' });
    expect(d.interfaces).toEqual([
      { name: 'eth1', role: 'host' },
      { name: 'eth2', role: 'uplink' },
    ]);
    expect(d.localIdentities).toEqual(identitiesOf(ir, 'api-1'));
    expect(d.reason).toContain('host3 runs its own agent');
    expect(d.reason).toContain("dpu3's bluefield DPU datapath only drops denied traffic early");
  });

  it('a DPU placement names what enforces there: an nfp NIC prefilter, or the bluefield datapath when exact', () => {
    const { policy: p2, fabric: f2, ir: ir2 } = example((f) => {
      f.devices.find((d) => d.name === 'dpu3')!.profile = 'nfp';
    });
    const q = place(p2, f2, ir2);
    expect(q.devices.find((d) => d.device === 'dpu3')!.reason).toContain("dpu3's nfp NIC prefilter only drops denied traffic early (prefilter); the host enforces the rest");
    const nicPoints = q.rules.flatMap((r) => r.points.filter((x) => x.device === 'dpu3'));
    expect(nicPoints.length).toBeGreaterThan(0);
    for (const x of nicPoints) expect(x.reason).toMatch(/^dpu3 prefilter \(nfp NIC prefilter\): deny rule dropped close to the source .*stays on the host/);
    const { policy: p3, fabric: f3, ir: ir3 } = example((f) => {
      f.devices.find((d) => d.name === 'host3')!.agent = false;
    });
    const exact = place(p3, f3, ir3).rules.flatMap((r) => r.points.filter((x) => x.device === 'dpu3'));
    expect(exact.length).toBeGreaterThan(0);
    for (const x of exact) expect(x.reason).toMatch(/^dpu3 eth1 (ingress|egress) exact \(bluefield DPU datapath\)/);
  });

  it('a DPU in front of a host without an agent is exact, and the host gets no placement', () => {
    const { policy: p2, fabric: f2, ir: ir2 } = example((f) => {
      f.devices.find((d) => d.name === 'host3')!.agent = false;
    });
    const q = place(p2, f2, ir2);
    expect(q.devices.find((d) => d.device === 'host3')).toBeUndefined();
    expect(q.devices.find((d) => d.device === 'dpu3')).toMatchObject({ mode: 'exact' });
    expect(hasAgent(f2.devices.find((d) => d.name === 'host3')!)).toBe(false);
    const pts = q.rules.find((r) => r.name === 'web-to-api')!.points;
    expect(pts).toContainEqual(expect.objectContaining({ device: 'dpu3', attach: 'eth1 egress', mode: 'exact' }));
  });

  it('switches are prefilters on host ports and exact on ports with unmanaged endpoints', () => {
    const l1 = dev('leaf1');
    expect(l1).toMatchObject({ target: 'p4', mode: 'prefilter', localIdentities: [] });
    expect(l1.interfaces).toEqual([
      { name: 'eth1', role: 'host' },
      { name: 'eth2', role: 'host' },
      { name: 'eth49', role: 'uplink' },
      { name: 'eth50', role: 'uplink' },
    ]);
    const l2 = dev('leaf2');
    expect(l2).toMatchObject({ target: 'p4', mode: 'exact' });
    expect(l2.interfaces).toContainEqual({ name: 'eth1', role: 'host' }); // faces dpu3
    expect(l2.interfaces).toContainEqual({ name: 'eth5', role: 'unmanaged-endpoint' });
    expect(l2.localIdentities).toEqual(identitiesOf(ir, 'monitor-1'));
    expect(l2.reason).toBe('prefilter (deny rules) on host-facing eth1, eth2; exact on ingress of eth5 (monitor-1): traffic from unmanaged endpoints is checked as it enters');
    expect(dev('leaf4')).toMatchObject({ target: 'openconfig', mode: 'exact' });
    expect(dev('spine1').interfaces.every((i) => i.role === 'uplink')).toBe(true);
    expect(dev('spine1').reason).toContain('transit only');
  });

  it('an allow rule is enforced at both ends and not on the switches', () => {
    const pts = rule('web-to-api').points;
    expect(pts.map((x) => `${x.device} ${x.attach} ${x.mode}`).sort()).toEqual([
      'host1 * egress exact',
      'host2 * egress exact',
      'host3 * ingress exact',
      'host4 * ingress exact',
    ]);
    expect(pts.find((x) => x.device === 'host1')!.reason).toBe('host1 egress: web-1 is a local endpoint of host1');
  });

  it('a rule towards an unmanaged endpoint is exact at its sources, not on its switch port', () => {
    // Switch targets check a port facing an unmanaged endpoint on ingress only.
    expect(rule('api-to-legacy').points.map((x) => `${x.device} ${x.attach} ${x.mode}`)).toEqual(['host3 * egress exact', 'host4 * egress exact']);
  });

  it('a rule from an unmanaged endpoint is exact on ingress of its switch port', () => {
    const mon = rule('monitoring-snmp').points;
    expect(mon).toContainEqual(
      expect.objectContaining({
        device: 'leaf2',
        attach: 'eth5 ingress',
        mode: 'exact',
        reason: 'leaf2 eth5 ingress exact: traffic from monitor-1 (unmanaged behind leaf2:eth5) is checked as it enters',
      }),
    );
    expect(mon.filter((x) => x.device.startsWith('leaf'))).toHaveLength(1);
  });

  it('switch points are all on ingress', () => {
    const switches = new Set(fabric.devices.filter((d) => d.kind === 'switch').map((d) => d.name));
    const onSwitches = p.rules.flatMap((r) => r.points.filter((x) => switches.has(x.device)));
    expect(onSwitches.length).toBeGreaterThan(0);
    for (const x of onSwitches) expect(x.attach, x.reason).toMatch(/ ingress$/);
  });

  it('a deny rule is also dropped early by prefilters on the source side', () => {
    const pts = rule('web-not-db').points;
    const pre = pts.filter((x) => x.mode === 'prefilter');
    expect(pre.map((x) => `${x.device} ${x.attach}`).sort()).toEqual(['leaf1 eth1 ingress', 'leaf1 eth2 ingress']);
    expect(pre[0].reason).toMatch(/^leaf1 prefilter: deny rule dropped close to the source/);
    expect(pts).toContainEqual(expect.objectContaining({ device: 'host5', attach: '* ingress', mode: 'exact' }));
    expect(pts.some((x) => x.device === 'leaf4')).toBe(false); // legacy-db gets its denials at their sources
    // Deny rules from web-dev on host6 reach leaf4's host port, and dpu3 sees api-1's denied pings.
    expect(rule('dev-not-prod').points).toContainEqual(expect.objectContaining({ device: 'leaf4', attach: 'eth1 ingress', mode: 'prefilter' }));
    expect(rule('no-ping').points).toContainEqual(expect.objectContaining({ device: 'dpu3', attach: 'eth1 ingress', mode: 'prefilter' }));
  });

  it('is deterministic', () => {
    expect(JSON.stringify(place(policy, fabric, ir))).toBe(JSON.stringify(p));
  });

  it('placement.json lists each distinct point once and reads back to the same points per rule', () => {
    const expanded = p.rules.map((r) => ({ rule: r.rule, name: r.name, points: r.points }));
    const text = placementJson(p);
    const doc = JSON.parse(text) as ReturnType<typeof compactPlacement>;
    const all = expanded.flatMap((r) => r.points);
    expect(all.length).toBeGreaterThan(doc.points.length);
    expect(new Set(doc.points.map((x) => JSON.stringify(x))).size).toBe(doc.points.length);
    const back = placementFromJson(doc);
    expect(back.devices).toEqual(p.devices);
    expect(back.rules.map((r) => ({ rule: r.rule, name: r.name, points: r.points }))).toEqual(expanded);
    // A placement assembled by hand (no compact form behind it) writes the same points.
    const byHand: Placement = { devices: p.devices, rules: expanded };
    expect(placementFromJson(JSON.parse(placementJson(byHand))).rules.map((r) => r.points)).toEqual(expanded.map((r) => r.points));
    // Bundles written before the compact form still read.
    expect(placementFromJson(JSON.parse(JSON.stringify(byHand))).rules).toEqual(expanded);
  });
});

describe('place on generated scenarios', () => {
  it('every cell a rule decides has an exact point at its source end, and at its destination end when a host or DPU manages it', () => {
    let cells = 0;
    const checks = { host: 0, dpu: 0, unmanaged: 0, unmanagedDst: 0 };
    for (let seed = 1; seed <= 12; seed++) {
      const { policy, fabric } = generateScenario(makeRng(seed));
      // Every other scenario with a DPU turns its host's agent off, so the
      // DPU enforces exactly for that host's endpoints.
      const dpu = fabric.devices.find((d) => d.kind === 'dpu' || d.kind === 'smartnic');
      if (dpu && seed % 2 === 0) fabric.devices.find((d) => d.name === dpu.attachedTo)!.agent = false;
      const ir = buildIr(policy, fabric);
      const p = place(policy, fabric, ir);
      const byName = new Map(fabric.devices.map((d) => [d.name, d]));
      const dpuOf = (host: string) => fabric.devices.find((d) => (d.kind === 'dpu' || d.kind === 'smartnic') && d.attachedTo === host);
      // The identities each rule decides for, as sources and as destinations:
      // the egress shares of every identity give both ends of every cell.
      const src = policy.rules.map(() => new Set<number>());
      const dst = policy.rules.map(() => new Set<number>());
      for (const c of concreteShareCells(ir, ir.identities.map((i) => i.id), 'egress')) {
        src[c.rule].add(c.local);
        dst[c.rule].add(c.remote);
        cells++;
      }
      for (const rp of p.rules) {
        const exactAt = (device: string, attach: (a: string) => boolean) => rp.points.some((x) => x.device === device && x.mode === 'exact' && attach(x.attach));
        for (const e of fabric.endpoints) {
          const ids = ir.identities.filter((i) => i.endpoints.includes(e.name)).map((i) => i.id);
          for (const end of ['source', 'destination'] as const) {
            if (!ids.some((id) => (end === 'source' ? src : dst)[rp.rule].has(id))) continue;
            const where = `seed ${seed} rule ${rp.name} ${e.name} as ${end}`;
            if (e.host !== undefined) {
              const host = byName.get(e.host)!;
              // A host sends on egress and receives on ingress; a DPU in front
              // of it sees the same traffic the other way round.
              if (hasAgent(host)) {
                checks.host++;
                expect(exactAt(host.name, (a) => a.endsWith(end === 'source' ? ' egress' : ' ingress')), where).toBe(true);
              } else {
                checks.dpu++;
                const d = dpuOf(host.name);
                expect(d, where).toBeDefined();
                expect(exactAt(d!.name, (a) => a.endsWith(end === 'source' ? ' ingress' : ' egress')), where).toBe(true);
              }
            } else if (e.attach && end === 'source') {
              checks.unmanaged++;
              expect(exactAt(e.attach.device, (a) => a === `${e.attach!.port} ingress`), where).toBe(true);
            } else if (e.attach) {
              // Nothing enforces on the way into an unmanaged endpoint: its
              // traffic was decided where it came from.
              checks.unmanagedDst++;
              expect(rp.points.some((x) => x.device === e.attach!.device && x.attach === `${e.attach!.port} egress`), where).toBe(false);
            }
          }
        }
        // Switches enforce on ingress only, and prefilters only carry deny rules.
        for (const x of rp.points) if (byName.get(x.device)!.kind === 'switch') expect(x.attach.endsWith(' ingress'), `seed ${seed} rule ${rp.name} ${x.device} ${x.attach}`).toBe(true);
        if (policy.rules[rp.rule].action === 'allow') expect(rp.points.every((x) => x.mode === 'exact')).toBe(true);
      }
    }
    console.log(
      `placement: ${checks.host} host-managed and ${checks.dpu} DPU-managed ends, ${checks.unmanaged} unmanaged source ends and ${checks.unmanagedDst} unmanaged destination ends checked over 12 generated scenarios (${cells} cells)`,
    );
    for (const n of Object.values(checks)) expect(n).toBeGreaterThan(0);
  });
});
