// Differential property test: the compiled IR (identities + rules over
// identity sets, through IrLookup) must give the reference evaluator's
// verdict and deciding rule on every generated flow, over many generated
// policies.

import { describe, expect, it } from 'vitest';
import { buildIr } from './build.ts';
import { IrLookup } from './lookup.ts';
import { irFromJson, irToJson } from './json.ts';
import { ReferenceEvaluator } from '../reference/evaluator.ts';
import { generateFlows, generateScenario, makeRng, type ScenarioOptions } from '../testing/generate.ts';
import { formatIp } from '../net/ip.ts';
import type { Flow } from '../flow.ts';

function describeFlow(f: Flow): string {
  const port = f.proto === 1 || f.proto === 58 ? `type ${f.icmpType} code ${f.icmpCode}` : `dport ${f.dport}`;
  return `${formatIp(f.src.family, f.src.value)} -> ${formatIp(f.dst.family, f.dst.value)} proto ${f.proto} ${port}`;
}

interface Tally {
  flows: number;
  mismatches: number;
  byRule: number;
  examples: string[];
}

function compare(seed: number, opts: ScenarioOptions, flowCount: number, tally: Tally): void {
  const rng = makeRng(seed);
  const { policy, fabric } = generateScenario(rng, opts);
  const ir = buildIr(policy, fabric);
  const lookup = new IrLookup(ir);
  const ref = new ReferenceEvaluator(policy, fabric);
  const flows = generateFlows(rng, policy, fabric, flowCount);
  for (const f of flows) {
    const want = ref.verdict(f);
    const got = lookup.lookup(f);
    tally.flows++;
    if (want.rule >= 0) tally.byRule++;
    if (got.verdict !== want.verdict || got.rule !== want.rule) {
      tally.mismatches++;
      if (tally.examples.length < 5) {
        tally.examples.push(`seed ${seed}: ${describeFlow(f)}: ir ${got.verdict}/${got.rule}, reference ${want.verdict}/${want.rule}`);
      }
    }
  }
}

describe('IR against the reference evaluator', () => {
  it('agrees on verdict and deciding rule for 1,000,000 generated flows', () => {
    const tally: Tally = { flows: 0, mismatches: 0, byRule: 0, examples: [] };
    // Many small policies (dense overlaps), then fewer larger ones.
    for (let seed = 1; seed <= 60; seed++) compare(seed, {}, 10_000, tally);
    for (let seed = 1001; seed <= 1010; seed++) compare(seed, { rules: 120, groups: 30, endpoints: 200 }, 25_000, tally);
    for (let seed = 2001; seed <= 2003; seed++) compare(seed, { rules: 400, groups: 60, endpoints: 600, hosts: 8, switches: 4 }, 50_000, tally);
    console.log(`ir verify: ${tally.flows} flows, ${tally.mismatches} mismatches, ${tally.byRule} decided by a rule`);
    expect(tally.examples).toEqual([]);
    expect(tally.flows).toBeGreaterThanOrEqual(1_000_000);
    // The generator aims half its flows at rules: most must be decided by one.
    expect(tally.byRule / tally.flows).toBeGreaterThan(0.3);
  });

  it('maps each address to the identity of exactly its groups', () => {
    let addresses = 0;
    const bad: string[] = [];
    for (let seed = 1; seed <= 30; seed++) {
      const rng = makeRng(seed);
      const { policy, fabric } = generateScenario(rng);
      const ir = buildIr(policy, fabric);
      const lookup = new IrLookup(ir);
      const ref = new ReferenceEvaluator(policy, fabric);
      const byId = new Map(ir.identities.map((i) => [i.id, i]));
      const idBySig = new Map(ir.identities.map((i) => [i.groups.join(','), i.id]));
      expect(idBySig.size).toBe(ir.identities.length);
      for (const f of generateFlows(rng, policy, fabric, 2_000)) {
        for (const a of [f.src, f.dst]) {
          addresses++;
          const sig = ref.groupsOf(a).join(',');
          const ident = byId.get(lookup.identityOf(a));
          if (ident?.groups.join(',') !== sig || !ident.families?.includes(a.family)) {
            bad.push(`seed ${seed}: ${formatIp(a.family, a.value)} in [${sig}] got ${JSON.stringify(ident)}`);
          }
        }
      }
      for (const ep of fabric.endpoints) {
        for (const a of ep.addresses) {
          if (!byId.get(lookup.identityOf(a))?.endpoints.includes(ep.name)) bad.push(`seed ${seed}: endpoint ${ep.name} missing from its identity`);
        }
      }
    }
    console.log(`identity verify: ${addresses} addresses, ${bad.length} mismatches`);
    expect(bad.slice(0, 5)).toEqual([]);
  });

  it('round-trips the IR through JSON exactly', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const rng = makeRng(seed);
      const { policy, fabric } = generateScenario(rng);
      const ir = buildIr(policy, fabric);
      const text = JSON.stringify(irToJson(ir));
      const back = irFromJson(JSON.parse(text));
      expect(back).toEqual(ir);
      expect(JSON.stringify(irToJson(back))).toBe(text);
      const a = new IrLookup(ir);
      const b = new IrLookup(back);
      for (const f of generateFlows(rng, policy, fabric, 1_000)) expect(b.lookup(f)).toEqual(a.lookup(f));
    }
  });

  it('refuses an IR file whose rule sides or services are malformed', () => {
    const { policy, fabric } = generateScenario(makeRng(5));
    const good = irToJson(buildIr(policy, fabric));
    const bad = (edit: (r: Record<string, unknown>) => void): unknown => {
      const j = JSON.parse(JSON.stringify(good));
      edit(j.rules[0]);
      return j;
    };
    expect(() => irFromJson(bad((r) => (r.from = 'all')))).toThrow(/neither "any" nor/);
    expect(() => irFromJson(bad((r) => (r.services = [[5, 1], [], [], [], []])))).toThrow(/sorted disjoint/);
    expect(() => irFromJson(bad((r) => (r.services = [[]])))).toThrow(/5 lists/);
    expect(() => irFromJson({ ...good, version: 1 })).toThrow(/version 1 is not supported/);
  });

  it('keeps `any` sides as wildcards and group sides by name', () => {
    let wildcards = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const { policy, fabric } = generateScenario(makeRng(seed));
      const ir = buildIr(policy, fabric);
      for (const r of policy.rules) {
        for (const side of ['from', 'to'] as const) {
          const got = ir.rules[r.index][side];
          if (r[side].some((p) => p.kind === 'any')) {
            wildcards++;
            expect(got).toBe('any');
          } else {
            const names = [...new Set(r[side].flatMap((p) => (p.kind === 'group' ? [p.name] : [])))].sort();
            expect(got).toEqual({ groups: names });
          }
        }
      }
    }
    expect(wildcards).toBeGreaterThan(10);
  });

  it('is deterministic', () => {
    const one = generateScenario(makeRng(77));
    const two = generateScenario(makeRng(77));
    expect(JSON.stringify(irToJson(buildIr(one.policy, one.fabric)))).toBe(JSON.stringify(irToJson(buildIr(two.policy, two.fabric))));
  });
});
