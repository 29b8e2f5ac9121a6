// explain on the example fabric: the verdict and rule come from the reference
// evaluator, and the enforcement points on the path drop exactly the flows the
// reference denies (checked on generated flows, not hard-coded answers).

import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../inventory/load.ts';
import type { Flow } from '../flow.ts';
import { buildIr } from '../ir/build.ts';
import { parseIp } from '../net/ip.ts';
import { place } from '../placement/place.ts';
import { loadPolicy } from '../policy/load.ts';
import { ReferenceEvaluator } from '../reference/evaluator.ts';
import { generateFlows, generateScenario, makeRng } from '../testing/generate.ts';
import { Explainer, formatExplanation, type Explanation } from './explain.ts';

const policy = loadPolicy('examples/policy.yaml');
const fabric = loadInventory('examples/fabric.yaml');
const ir = buildIr(policy, fabric);
const explainer = new Explainer(policy, fabric, ir, place(policy, fabric, ir));
const reference = new ReferenceEvaluator(policy, fabric);

function flow(src: string, dst: string, proto: number, dport = 0, icmpType?: number): Flow {
  return { src: parseIp(src)!, dst: parseIp(dst)!, proto, sport: proto === 6 || proto === 17 ? 49152 : 0, dport, ...(icmpType !== undefined ? { icmpType, icmpCode: 0 } : {}) };
}

describe('explain on examples/', () => {
  it('web-1 -> api-1 tcp/8080: verdict and rule of the reference, path through the DPU', () => {
    const f = flow('10.0.1.11', '10.0.2.21', 6, 8080);
    const x = explainer.explain(f);
    const ref = reference.verdict(f);
    expect(x.verdict).toBe(ref.verdict);
    expect(x.rule?.index).toBe(ref.rule);
    expect(x.rule?.name).toBe(policy.rules[ref.rule].name);
    expect(x.rule?.location).toMatch(/^examples\/policy\.yaml:\d+:\d+$/);
    expect(x.src).toMatchObject({ endpoints: ['web-1'], attachment: 'host1' });
    expect(x.src.groups).toEqual(reference.groupsOf(f.src));
    expect(x.dst.groups).toEqual(reference.groupsOf(f.dst));
    expect(x.path!.hops.map((h) => h.device)).toEqual(['host1', 'leaf1', 'spine1', 'leaf2', 'dpu3', 'host3']);
    expect(x.points.map((p) => `${p.device} ${p.interface} ${p.direction} ${p.mode}`)).toEqual([
      'host1 * egress exact',
      'leaf1 eth1 ingress prefilter',
      'dpu3 eth1 egress prefilter',
      'host3 * ingress exact',
    ]);
    expect(x.points.find((p) => p.device === 'dpu3')).toMatchObject({ profile: 'bluefield', decision: 'pass' });
    expect(formatExplanation(x)).toMatch(/^ {2}dpu3 \(bluefield\) +eth1 egress +prefilter +pass +/m);
    expect(formatExplanation(x)).toContain(`verdict:  ${ref.verdict}`);
  });

  it('a denied ping from web-1 to legacy-db is dropped at the source side', () => {
    const f = flow('10.0.1.11', '10.0.3.99', 1, 0, 8);
    const x = explainer.explain(f);
    expect(x.verdict).toBe(reference.verdict(f).verdict);
    expect(x.verdict).toBe('deny');
    expect(x.droppedAt).toEqual({ device: 'host1', interface: '*' });
    // The leaf's prefilter carries the deny rule. legacy-db's switch port
    // checks only what legacy-db sends, so nothing on leaf4 sees this flow.
    expect(x.points.map((p) => `${p.device} ${p.interface} ${p.direction} ${p.mode} ${p.decision}`)).toEqual([
      'host1 * egress exact deny',
      'leaf1 eth1 ingress prefilter deny',
    ]);
    expect(x.notes).toEqual([]);
  });

  it('the reply direction, from unmanaged legacy-db, is exact on ingress of its switch port', () => {
    const f = flow('10.0.3.99', '10.0.1.11', 1, 0, 8);
    const x = explainer.explain(f);
    expect(x.verdict).toBe(reference.verdict(f).verdict);
    expect(x.points[0]).toMatchObject({ device: 'leaf4', interface: 'eth5', direction: 'ingress', mode: 'exact', decision: x.verdict });
    expect(x.points[0].why).toMatch(/^traffic from legacy-db \(unmanaged behind leaf4:eth5\) is checked as it enters; /);
  });

  it('says so when no exact point decides a flow into an unmanaged endpoint', () => {
    const f = flow('198.51.100.7', '10.0.3.99', 6, 5432);
    const x = explainer.explain(f);
    expect(x.verdict).toBe(reference.verdict(f).verdict);
    expect(x.points.filter((p) => p.mode === 'exact')).toEqual([]);
    expect(x.notes).toContain(
      'legacy-db is unmanaged: leaf4:eth5 checks only traffic from it, and traffic to it is decided at its source; no exact point on this path decides this flow',
    );
  });

  it('an address outside the fabric has its groups but only one side of the path', () => {
    const f = flow('2001:db8::7', 'fd00:1::11', 6, 443);
    const x = explainer.explain(f);
    expect(x.verdict).toBe(reference.verdict(f).verdict);
    expect(x.src.endpoints).toEqual([]);
    expect(x.src.groups).toEqual(['clients']);
    expect(x.path!.hops.map((h) => h.device)).toEqual(['leaf1', 'host1']);
    expect(x.notes.join(' ')).toContain('not a fabric endpoint');
  });

  it('on generated flows: the verdict is the reference verdict, the path drops exactly the denied flows, exactly at their source', () => {
    const flows = generateFlows(makeRng(7), policy, fabric, 3000);
    const addrs = new Set(fabric.endpoints.flatMap((e) => e.addresses.map((a) => `${a.family}/${a.value}`)));
    const switches = new Set(fabric.devices.filter((d) => d.kind === 'switch').map((d) => d.name));
    let withPath = 0;
    let mismatches = 0;
    for (const f of flows) {
      const x = explainer.explain(f);
      const ref = reference.verdict(f);
      if (x.verdict !== ref.verdict || (x.rule?.index ?? -1) !== ref.rule || x.compiledVerdict !== ref.verdict) mismatches++;
      const bothInside = addrs.has(`${f.src.family}/${f.src.value}`) && addrs.has(`${f.dst.family}/${f.dst.value}`);
      if (bothInside && x.path) {
        withPath++;
        if ((x.droppedAt !== undefined) !== (ref.verdict === 'deny')) mismatches++;
        // Every flow between fabric endpoints is decided exactly where it
        // enters: its host's egress, or the ingress of its switch port.
        const [device, port] = x.src.attachment!.split(':');
        const first = x.points.find((p) => p.mode === 'exact');
        const ok = switches.has(device) ? first?.interface === port && first.direction === 'ingress' : first?.direction === 'egress';
        if (first?.device !== device || !ok) mismatches++;
      }
      for (const p of x.points) if (switches.has(p.device) && p.direction !== 'ingress') mismatches++;
      for (const p of x.points) if (p.mode === 'prefilter' && p.decision === 'deny' && ref.verdict === 'allow') mismatches++;
    }
    console.log(`explain: ${flows.length} flows (${withPath} between fabric endpoints), ${mismatches} mismatches`);
    expect(mismatches).toBe(0);
    expect(withPath).toBeGreaterThan(0);
  });

  it('on generated flows to and from endpoints behind a DPU or SmartNIC: it is on the path with its mode and profile, and drops only what the reference denies', () => {
    const fronts = new Map(fabric.devices.filter((d) => d.attachedTo !== undefined).map((d) => [d.attachedTo!, d]));
    const modes = new Map(place(policy, fabric, ir).devices.map((d) => [d.device, d.mode]));
    const behind = (x: Explanation['src']): string | undefined => (x.attachment ? fronts.get(x.attachment)?.name : undefined);
    const flows = generateFlows(makeRng(11), policy, fabric, 3000);
    const seen = new Map<string, number>();
    let mismatches = 0;
    for (const f of flows) {
      const x = explainer.explain(f);
      const ref = reference.verdict(f);
      if (x.verdict !== ref.verdict) mismatches++;
      // Between two endpoints of one host the flow never reaches the wire.
      if (!x.path || x.src.attachment === x.dst.attachment) continue;
      for (const dpu of [behind(x.src), behind(x.dst)]) {
        if (dpu === undefined) continue;
        const device = fabric.devices.find((d) => d.name === dpu)!;
        const pts = x.points.filter((p) => p.device === dpu);
        seen.set(dpu, (seen.get(dpu) ?? 0) + 1);
        if (pts.length === 0) mismatches++;
        for (const p of pts) {
          if (p.mode !== modes.get(dpu) || p.profile !== device.profile) mismatches++;
          if (p.decision === 'deny' && ref.verdict === 'allow') mismatches++;
          if (p.mode === 'exact' && p.decision !== ref.verdict) mismatches++;
        }
      }
    }
    console.log(`explain: ${[...seen].map(([d, n]) => `${n} flows through ${d}`).join(', ')}, ${mismatches} mismatches`);
    expect(mismatches).toBe(0);
    expect([...seen.keys()].sort()).toEqual(['dpu3', 'smartnic5']);
  });
});

describe('explain on the dpu-wire lab topology', () => {
  const wirePolicy = loadPolicy('test/fixtures/lab-dpu/policy.yaml');
  const wire = loadInventory('lab/topologies/dpu-wire.clab.yml');
  const wireIr = buildIr(wirePolicy, wire);
  const wireExplainer = new Explainer(wirePolicy, wire, wireIr, place(wirePolicy, wire, wireIr));
  const wireRef = new ReferenceEvaluator(wirePolicy, wire);

  it('a DPU in front of a host without an agent decides exactly, both ways, and drops what the reference denies', () => {
    const cases = [
      { f: flow('10.1.0.11', '10.1.0.21', 6, 5432), point: 'dpu2 eth1 egress exact' },
      { f: flow('10.1.0.11', '10.1.0.21', 6, 80), point: 'dpu2 eth1 egress exact' },
      { f: flow('10.1.0.21', '10.1.0.31', 6, 5432), point: 'dpu2 eth1 ingress exact' },
      { f: flow('10.1.0.21', '10.1.0.11', 17, 53), point: 'dpu2 eth1 ingress exact' },
    ];
    for (const { f, point } of cases) {
      const x = wireExplainer.explain(f);
      const ref = wireRef.verdict(f);
      expect(x.verdict).toBe(ref.verdict);
      const p = x.points.find((q) => q.device === 'dpu2')!;
      expect(`${p.device} ${p.interface} ${p.direction} ${p.mode}`).toBe(point);
      expect(p).toMatchObject({ profile: 'bluefield', decision: ref.verdict });
      expect(x.droppedAt?.device).toBe(ref.verdict === 'deny' ? 'dpu2' : undefined);
    }
  });
});

describe('explain without a whole placement (what `weft explain` runs)', () => {
  // Placing only the devices on a flow's path must give the answer the whole
  // placement gives: same points, modes, decisions and reasons, field by field.
  const compare = (p: typeof policy, f: typeof fabric, flows: Flow[]): { flows: number; prefilterDenies: number; mismatches: number } => {
    const i = buildIr(p, f);
    const whole = new Explainer(p, f, i, place(p, f, i));
    const pathOnly = new Explainer(p, f, i);
    let prefilterDenies = 0;
    let mismatches = 0;
    for (const flow of flows) {
      const a = whole.explain(flow);
      const b = pathOnly.explain(flow);
      if (JSON.stringify(a) !== JSON.stringify(b)) mismatches++;
      if (a.points.some((q) => q.mode === 'prefilter' && q.decision === 'deny')) prefilterDenies++;
    }
    return { flows: flows.length, prefilterDenies, mismatches };
  };

  it('on examples/ and the dpu-wire topology: the same explanation for every generated flow', () => {
    const wirePolicy = loadPolicy('test/fixtures/lab-dpu/policy.yaml');
    const wire = loadInventory('lab/topologies/dpu-wire.clab.yml');
    const ex = compare(policy, fabric, generateFlows(makeRng(21), policy, fabric, 2000));
    const wr = compare(wirePolicy, wire, generateFlows(makeRng(22), wirePolicy, wire, 1000));
    console.log(`explain path-only vs whole placement: examples ${JSON.stringify(ex)}, dpu-wire ${JSON.stringify(wr)}`);
    expect(ex.mismatches + wr.mismatches).toBe(0);
    expect(ex.prefilterDenies).toBeGreaterThan(0);
  });

  it('on generated fabrics and policies (DPUs with and without their host agent): the same explanation for every generated flow', () => {
    let total = { flows: 0, prefilterDenies: 0, mismatches: 0 };
    for (let seed = 1; seed <= 12; seed++) {
      const { policy: p, fabric: f } = generateScenario(makeRng(seed));
      const dpu = f.devices.find((d) => d.kind === 'dpu' || d.kind === 'smartnic');
      if (dpu && seed % 2 === 0) f.devices.find((d) => d.name === dpu.attachedTo)!.agent = false;
      const r = compare(p, f, generateFlows(makeRng(100 + seed), p, f, 400));
      total = { flows: total.flows + r.flows, prefilterDenies: total.prefilterDenies + r.prefilterDenies, mismatches: total.mismatches + r.mismatches };
    }
    console.log(`explain path-only vs whole placement on 12 generated scenarios: ${JSON.stringify(total)}`);
    expect(total.mismatches).toBe(0);
    expect(total.prefilterDenies).toBeGreaterThan(0);
  });
});
