// The report page's evaluator (assets/explain.js, run here in a fresh V8
// context exactly as the page embeds it) against the reference evaluator on
// generated policies and flows, and its explanations against `weft explain`
// on the example fabric.

import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../inventory/load.ts';
import { Explainer, protoName } from '../explain/explain.ts';
import type { Flow } from '../flow.ts';
import { buildIr } from '../ir/build.ts';
import { formatIp, parseIp } from '../net/ip.ts';
import { place } from '../placement/place.ts';
import { loadPolicy } from '../policy/load.ts';
import { ReferenceEvaluator } from '../reference/evaluator.ts';
import { generateFlows, generateScenario, makeRng } from '../testing/generate.ts';
import { EXPLAIN_JS } from './assets.ts';
import { explainData, type ExplainData } from './explain-data.ts';

interface PageAddress {
  family: 4 | 6;
  value: bigint;
}
interface PageEvaluator {
  verdict(f: { src: PageAddress; dst: PageAddress; proto: number; dport: number; icmpType?: number; icmpCode?: number }): { verdict: string; rule: number };
  explain(q: { src: string; dst: string; proto: string; port: string }): {
    error?: string;
    verdict?: string;
    rule: { index: number; name: string } | null;
    src: { groups: string[]; endpoints: string[] };
    dst: { groups: string[]; endpoints: string[] };
    pathText: string | null;
    points: { device: string; placed: { attach: string }[] }[];
  };
}
interface PageModule {
  create(data: ExplainData): PageEvaluator;
  parseAddress(text: string): PageAddress | null;
}

/** A fresh context per load, as the page has its own global scope. */
function loadPageModule(): PageModule {
  const sandbox: { WeftExplain?: PageModule } = {};
  runInNewContext(EXPLAIN_JS, sandbox);
  return sandbox.WeftExplain!;
}

/** The page's evaluator through a JSON round trip, as the data travels embedded in HTML. */
function pageEvaluator(data: ExplainData): { page: PageModule; ev: PageEvaluator } {
  const page = loadPageModule();
  return { page, ev: page.create(JSON.parse(JSON.stringify(data)) as ExplainData) };
}

function compareOnFlows(page: PageModule, ev: PageEvaluator, ref: ReferenceEvaluator, flows: Flow[]): string[] {
  const mismatches: string[] = [];
  for (const f of flows) {
    const src = page.parseAddress(formatIp(f.src.family, f.src.value))!;
    const dst = page.parseAddress(formatIp(f.dst.family, f.dst.value))!;
    const got = ev.verdict({ src, dst, proto: f.proto, dport: f.dport, icmpType: f.icmpType, icmpCode: f.icmpCode });
    const want = ref.verdict(f);
    if (got.verdict !== want.verdict || got.rule !== want.rule) {
      mismatches.push(`${protoName(f.proto)} ${formatIp(f.src.family, f.src.value)} -> ${formatIp(f.dst.family, f.dst.value)} dport ${f.dport}: page ${got.verdict}/${got.rule}, reference ${want.verdict}/${want.rule}`);
    }
  }
  return mismatches;
}

describe('report page evaluator', () => {
  it('parses addresses as the compiler does', () => {
    const page = loadPageModule();
    for (const text of ['10.0.1.11', '0.0.0.0', '255.255.255.255', 'fd00:1::11', '::', '::1', '1::', '2001:db8:0:0:0:0:0:1', 'FD00::AB']) {
      const a = page.parseAddress(text);
      const want = parseIp(text)!;
      expect(a, text).toEqual({ family: want.family, value: want.value });
    }
    expect(page.parseAddress('::ffff:10.0.0.1')!.value).toBe(0xffff0a000001n);
    expect(page.parseAddress('fd00:1::11')!.value).toBe((0xfd00n << 112n) | (1n << 96n) | 0x11n);
    for (const bad of ['10.0.1', '10.0.1.256', '01.2.3.4', '1:2:3:4:5:6:7:8:9', '1::2::3', 'fd00::g', '1.2.3.4::', ':1::', 'web-1', '']) {
      expect(page.parseAddress(bad), bad).toBeNull();
    }
  });

  it('agrees with the reference evaluator on generated policies and flows (0 mismatches)', () => {
    let total = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const { policy, fabric } = generateScenario(makeRng(seed), { ipv6: true });
      const ir = buildIr(policy, fabric);
      const { page, ev } = pageEvaluator(explainData(policy, fabric, place(policy, fabric, ir)));
      const flows = generateFlows(makeRng(seed * 7919), policy, fabric, 3000);
      const mismatches = compareOnFlows(page, ev, new ReferenceEvaluator(policy, fabric), flows);
      expect(mismatches.slice(0, 5)).toEqual([]);
      total += flows.length;
    }
    console.log(`report page evaluator: ${total} generated flows over 6 policies, 0 mismatches with the reference`);
    expect(total).toBe(18000);
  });

  it('explains example flows as weft explain does: verdict, rule, groups, path and enforcing devices', () => {
    const policy = loadPolicy('examples/policy.yaml');
    const fabric = loadInventory('examples/fabric.yaml');
    const ir = buildIr(policy, fabric);
    const placement = place(policy, fabric, ir);
    const explainer = new Explainer(policy, fabric, ir, placement);
    const { page, ev } = pageEvaluator(explainData(policy, fabric, placement));
    const flows = generateFlows(makeRng(42), policy, fabric, 3000);
    expect(compareOnFlows(page, ev, new ReferenceEvaluator(policy, fabric), flows)).toEqual([]);
    let explained = 0;
    let prefilterDrops = 0;
    for (const f of flows) {
      if (![1, 6, 17, 58].includes(f.proto) || (f.proto === 1 && f.src.family !== 4) || (f.proto === 58 && f.src.family !== 6)) continue;
      const icmp = f.proto === 1 || f.proto === 58;
      const q = { src: formatIp(f.src.family, f.src.value), dst: formatIp(f.dst.family, f.dst.value), proto: protoName(f.proto), port: String(icmp ? (f.icmpType ?? 0) : f.dport) };
      const got = ev.explain(q);
      const want = explainer.explain({ ...f, sport: icmp ? 0 : 49152, icmpCode: icmp ? 0 : undefined });
      expect(got.error, JSON.stringify(q)).toBeUndefined();
      expect({ verdict: got.verdict, rule: got.rule?.name, srcGroups: got.src.groups, dstGroups: got.dst.groups, path: got.pathText, srcEp: got.src.endpoints }).toEqual({
        verdict: want.verdict,
        rule: want.rule?.name,
        srcGroups: want.src.groups,
        dstGroups: want.dst.groups,
        path: want.path?.text ?? null,
        srcEp: want.src.endpoints,
      });
      // Every device weft explain names on the path is listed by the page too.
      for (const p of want.points) expect(got.points.map((x) => x.device)).toContain(p.device);
      // A prefilter that drops the flow is where the deciding deny rule is placed on the flow's port.
      for (const p of want.points.filter((x) => x.mode === 'prefilter' && x.decision === 'deny')) {
        expect(got.points.find((x) => x.device === p.device)!.placed.map((x) => x.attach)).toContain(`${p.interface} ingress`);
        prefilterDrops++;
      }
      explained++;
    }
    console.log(`report page explain: ${explained} example flows explained as weft explain does (${prefilterDrops} dropped by a prefilter)`);
    expect(explained).toBeGreaterThan(1000);
    expect(prefilterDrops).toBeGreaterThan(50);
  });

  it('refuses input it cannot evaluate, saying what is valid', () => {
    const policy = loadPolicy('examples/policy.yaml');
    const fabric = loadInventory('examples/fabric.yaml');
    const { ev } = pageEvaluator(explainData(policy, fabric, place(policy, fabric, buildIr(policy, fabric))));
    expect(ev.explain({ src: 'web-1', dst: '10.0.1.12', proto: 'tcp', port: '80' }).error).toMatch(/not an IPv4 or IPv6 address/);
    expect(ev.explain({ src: '10.0.1.11', dst: 'fd00:1::12', proto: 'tcp', port: '80' }).error).toMatch(/different address families/);
    expect(ev.explain({ src: '10.0.1.11', dst: '10.0.1.12', proto: 'tcp', port: '70000' }).error).toMatch(/within 0-65535/);
    expect(ev.explain({ src: '10.0.1.11', dst: '10.0.1.12', proto: 'tcp', port: '' }).error).toMatch(/port/);
    expect(ev.explain({ src: '10.0.1.11', dst: '10.0.1.12', proto: 'icmpv6', port: '' }).error).toMatch(/needs IPv6/);
    expect(ev.explain({ src: '10.0.1.11', dst: '10.0.1.12', proto: 'gre', port: '1' }).error).toMatch(/tcp, udp, icmp, icmpv6/);
    expect(ev.explain({ src: '10.0.1.11', dst: '10.0.3.99', proto: 'icmp', port: '' })).toMatchObject({ verdict: 'deny', rule: { name: 'no-ping' } });
  });
});
