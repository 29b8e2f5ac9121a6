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
import { generateFlows, makeRng } from '../testing/generate.ts';
import { Explainer, formatExplanation } from './explain.ts';

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
      'host3 * ingress exact',
    ]);
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
});
