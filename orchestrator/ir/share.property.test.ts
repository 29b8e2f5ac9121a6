// Differential property test of the device-share contract: the cells
// shareCells yields for a set of local identities, read in the documented
// lookup order (specific cell, then the ANY_REMOTE cell, then the default),
// give the reference evaluator's verdict and deciding rule on every
// generated flow whose local end is in those identities; and the cells keep
// their stated order and disjointness.

import { describe, expect, it } from 'vitest';
import { buildIr } from './build.ts';
import { IrLookup, irKey } from './lookup.ts';
import { ANY_REMOTE, concreteShareCells, shareCells, type ShareCell, type ShareDirection } from './share.ts';
import type { Ir } from './model.ts';
import { ReferenceEvaluator } from '../reference/evaluator.ts';
import { generateFlows, generateScenario, makeRng, type Rng, type ScenarioOptions } from '../testing/generate.ts';
import { makeFabric, makePolicy } from '../testing/build.ts';
import { formatIp } from '../net/ip.ts';

/** The lookup a datapath does over one direction's cells. */
class ShareTable {
  private readonly byKey = new Map<string, ShareCell[]>();

  constructor(cells: Iterable<ShareCell>) {
    for (const c of cells) {
      const k = `${c.local}|${c.remote}|${c.proto}`;
      const l = this.byKey.get(k);
      if (l) l.push(c);
      else this.byKey.set(k, [c]);
    }
  }

  private find(local: number, remote: number, proto: number, key: number): ShareCell | undefined {
    return this.byKey.get(`${local}|${remote}|${proto}`)?.find((c) => c.lo <= key && key <= c.hi);
  }

  /** The deciding rule (-1: default) by the contract's lookup order. */
  rule(local: number, remote: number, proto: number, key: number): number {
    return (this.find(local, remote, proto, key) ?? this.find(local, ANY_REMOTE, proto, key))?.rule ?? -1;
  }
}

/** Order (local, remote, proto, lo), disjoint per (local, remote, proto), known identities and rules. */
function checkShape(ir: Ir, cells: ShareCell[], locals: Set<number>, where: string): string[] {
  const ids = new Set(ir.identities.map((i) => i.id));
  const bad: string[] = [];
  cells.forEach((c, i) => {
    const ok = locals.has(c.local) && (c.remote === ANY_REMOTE || ids.has(c.remote)) && c.lo <= c.hi && c.rule >= 0 && c.rule < ir.rules.length;
    const p = cells[i - 1];
    const order = !p ? -1 : p.local - c.local || p.remote - c.remote || p.proto - c.proto || (p.hi < c.lo ? -1 : 1);
    if (!ok || order >= 0) bad.push(`${where}: cell ${i} ${JSON.stringify(c)}`);
  });
  return bad;
}

interface Tally {
  flows: number;
  byRule: number;
  viaWildcard: number;
  cells: number;
  bad: string[];
}

/** Local identities: those of a random share of the endpoints (a device's worth or more). */
function pickLocals(rng: Rng, ir: Ir, fraction: number): Set<number> {
  const out = new Set<number>();
  for (const id of ir.identities) if (id.endpoints.length > 0 && rng.chance(fraction)) out.add(id.id);
  if (rng.chance(0.3)) out.add(ir.identities[0].id);
  return out;
}

function compare(seed: number, opts: ScenarioOptions, flowCount: number, tally: Tally): void {
  const rng = makeRng(seed);
  const { policy, fabric } = generateScenario(rng, opts);
  const ir = buildIr(policy, fabric);
  const lookup = new IrLookup(ir);
  const ref = new ReferenceEvaluator(policy, fabric);
  const locals = pickLocals(rng, ir, 0.4);
  const tables = {} as Record<ShareDirection, ShareTable>;
  for (const dir of ['egress', 'ingress'] as const) {
    const cells = [...shareCells(ir, locals, dir)];
    tally.cells += cells.length;
    tally.bad.push(...checkShape(ir, cells, locals, `seed ${seed} ${dir}`));
    tables[dir] = new ShareTable(cells);
  }
  for (const f of generateFlows(rng, policy, fabric, flowCount)) {
    const src = lookup.identityOf(f.src);
    const dst = lookup.identityOf(f.dst);
    const { proto, key } = irKey(f);
    const want = ref.verdict(f);
    for (const dir of ['egress', 'ingress'] as const) {
      const [local, remote] = dir === 'egress' ? [src, dst] : [dst, src];
      if (!locals.has(local)) continue;
      tally.flows++;
      if (want.rule >= 0) tally.byRule++;
      const rule = tables[dir].rule(local, remote, proto, key);
      if (want.rule >= 0 && ir.rules[want.rule][dir === 'egress' ? 'to' : 'from'] === 'any') tally.viaWildcard++;
      const verdict = rule >= 0 ? ir.rules[rule].action : ir.defaultAction;
      if (rule !== want.rule || verdict !== want.verdict) {
        tally.bad.push(
          `seed ${seed} ${dir}: ${formatIp(f.src.family, f.src.value)} -> ${formatIp(f.dst.family, f.dst.value)} proto ${f.proto} key ${key}: share ${verdict}/${rule}, reference ${want.verdict}/${want.rule}`,
        );
      }
    }
  }
}

describe('device shares against the reference evaluator', () => {
  it('give the first-match verdict and rule by the lookup contract on generated flows', () => {
    const tally: Tally = { flows: 0, byRule: 0, viaWildcard: 0, cells: 0, bad: [] };
    for (let seed = 1; seed <= 40; seed++) compare(seed, {}, 5_000, tally);
    for (let seed = 1001; seed <= 1006; seed++) compare(seed, { rules: 120, groups: 30, endpoints: 200 }, 15_000, tally);
    for (let seed = 2001; seed <= 2002; seed++) compare(seed, { rules: 400, groups: 60, endpoints: 600, hosts: 8, switches: 4 }, 30_000, tally);
    console.log(`share verify: ${tally.flows} flows with a local end, ${tally.bad.length} mismatches, ${tally.byRule} decided by a rule (${tally.viaWildcard} by a wildcard rule), ${tally.cells} cells`);
    expect(tally.bad.slice(0, 5)).toEqual([]);
    expect(tally.flows).toBeGreaterThan(100_000);
    expect(tally.byRule / tally.flows).toBeGreaterThan(0.3);
    expect(tally.viaWildcard).toBeGreaterThan(1_000);
  }, 600_000);

  it('spelled out per remote, give the same verdict for every remote and key', () => {
    let checked = 0;
    const bad: string[] = [];
    for (let seed = 1; seed <= 15; seed++) {
      const rng = makeRng(seed);
      const { policy, fabric } = generateScenario(rng);
      const ir = buildIr(policy, fabric);
      const lookup = new IrLookup(ir);
      const locals = pickLocals(rng, ir, 0.2);
      for (const dir of ['egress', 'ingress'] as const) {
        const concrete = [...concreteShareCells(ir, locals, dir)];
        const table = new ShareTable(concrete);
        expect(concrete.some((c) => c.remote === ANY_REMOTE)).toBe(false);
        for (const local of locals) {
          for (const remote of ir.identities) {
            for (const [proto, key] of [[6, rng.int(0, 65535)], [17, rng.int(0, 1024)], [1, 8 << 8], [0, 0]] as const) {
              checked++;
              const [s, d] = dir === 'egress' ? [local, remote.id] : [remote.id, local];
              const want = lookup.firstMatch(s, d, proto, key);
              const got = table.rule(local, remote.id, proto, key);
              // A pair without a family in common has no flows and no cells.
              const sf = ir.identities.find((i) => i.id === local)!.families!;
              if (!remote.families!.some((f) => sf.includes(f))) continue;
              if (got !== want) bad.push(`seed ${seed} ${dir} ${local}/${remote.id} ${proto}/${key}: ${got} vs ${want}`);
            }
          }
        }
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
    expect(checked).toBeGreaterThan(10_000);
  }, 600_000);

  it('costs one wildcard cell per local for a catch-all rule, however many identities there are', () => {
    const groups: Record<string, { cidrs: string[] }> = {};
    for (let i = 0; i < 3000; i++) groups[`h${i}`] = { cidrs: [`10.0.${i >> 8}.${i & 255}/32`] };
    const policy = makePolicy({
      groups,
      rules: [
        { name: 'ssh', from: ['h0'], to: ['any'], ports: [{ protocol: 'tcp', port: 22 }], action: 'allow' },
        { name: 'scrape', from: ['any'], to: ['any'], ports: [{ protocol: 'tcp', port: 9100 }], action: 'allow' },
        { name: 'deny-all', from: ['any'], to: ['any'], action: 'deny', log: true },
      ],
    });
    const ir = buildIr(policy, makeFabric([]));
    const h0 = new IrLookup(ir).identityOf({ family: 4, value: 10n << 24n });
    const cells = [...shareCells(ir, [h0], 'egress')];
    expect(cells.every((c) => c.remote === ANY_REMOTE)).toBe(true);
    // tcp: 0-21 deny, 22 ssh, 23-9099 deny, 9100 scrape, 9101-65535 deny; the four other protocols deny.
    expect(cells).toHaveLength(5 + 4);
    // Inbound: scrape and deny-all from anywhere, and ssh from h0 itself (a specific remote).
    const inbound = [...shareCells(ir, [h0], 'ingress')];
    expect(inbound.filter((c) => c.remote === ANY_REMOTE)).toHaveLength(3 + 4);
    expect(inbound.filter((c) => c.remote !== ANY_REMOTE)).toEqual([{ local: h0, remote: h0, proto: 6, lo: 22, hi: 22, rule: 0 }]);
  });
});
