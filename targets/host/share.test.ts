// The host share without a kernel: port ranges as prefixes, the pruned
// address table and cells judged by the artefact interpreter (after a round
// trip through maps.json and the record files) against the reference on
// generated scenarios, cells valid for any remote, the capacity error and
// the failsafe.

import { describe, expect, it } from 'vitest';
import { InputError } from '../../orchestrator/diagnostics.ts';
import { buildIr } from '../../orchestrator/ir/build.ts';
import { ReferenceEvaluator } from '../../orchestrator/reference/evaluator.ts';
import { generateFlows, generateScenario, makeRng } from '../../orchestrator/testing/generate.ts';
import { HostSemantics } from './semantics.ts';
import { shapeYaml, SHAPE_DEFAULTS } from '../../bench/scenarios.ts';
import { parsePolicy } from '../../orchestrator/policy/load.ts';
import { parseInventory } from '../../inventory/load.ts';
import { artefactRecords, computeShare, dropLengths, portPrefixes, shareArtefacts, shareFromArtefacts, type HostShare, type IdEntry } from './share.ts';
import { ANY_REMOTE } from '../../orchestrator/ir/share.ts';
import { irReach } from '../../orchestrator/ir/reach.ts';
import { IrLookup } from '../../orchestrator/ir/lookup.ts';
import { IR_PROTOS, type Ir } from '../../orchestrator/ir/model.ts';
import type { Fabric } from '../../inventory/model.ts';
import type { Flow } from '../../orchestrator/flow.ts';
import type { IpAddr } from '../../orchestrator/net/ip.ts';
import { ANY_REMOTE_EXPECTED, anyRemoteCells, anyRemoteFabric, anyRemoteIr } from '../../test/fixtures/host-any-remote/fixture.ts';

/** The share as the bundle carries it, read back. */
function roundTrip(share: HostShare): HostShare {
  const a = shareArtefacts(share);
  return shareFromArtefacts(artefactRecords({ ...a, maps: JSON.parse(JSON.stringify(a.maps)) }), JSON.parse(a.rules));
}

describe('portPrefixes', () => {
  it('covers every range exactly with aligned, disjoint prefixes', () => {
    const rng = makeRng(7);
    const ranges: [number, number][] = [[0, 65535], [0, 0], [65535, 65535], [8000, 8099], [1024, 65535], [1, 65534]];
    for (let i = 0; i < 2000; i++) {
      const a = rng.int(0, 65535);
      ranges.push([a, rng.chance(0.5) ? a + rng.int(0, 300) : rng.int(a, 65535)].map((x) => Math.min(65535, x)) as [number, number]);
    }
    for (const [lo, hi] of ranges) {
      const ps = portPrefixes(lo, hi);
      let next = lo;
      for (const p of ps) {
        const size = 1 << (16 - p.len);
        expect(p.value % size).toBe(0);
        expect(p.value).toBe(next);
        next += size;
      }
      expect(next - 1).toBe(hi);
      expect(ps.length).toBeLessThanOrEqual(30);
    }
  });
});

describe('computeShare', () => {
  it('judges every flow from or to a local endpoint like the reference (3 scenarios)', () => {
    let judged = 0;
    const mismatches: string[] = [];
    for (const seed of [1, 2, 3]) {
      const rng = makeRng(seed);
      const { policy, fabric } = generateScenario(rng);
      const ir = buildIr(policy, fabric);
      const ref = new ReferenceEvaluator(policy, fabric);
      for (const device of fabric.devices.filter((d) => d.kind === 'host')) {
        const share = roundTrip(computeShare(ir, fabric, device));
        const sem = new HostSemantics(share);
        const locals = share.localAddresses;
        for (const f of generateFlows(rng, policy, fabric, 2500)) {
          const sameFamily = locals.filter((a) => a.family === f.src.family);
          const variants = sameFamily.length ? [f, { ...f, src: rng.pick(sameFamily) }, { ...f, dst: rng.pick(sameFamily) }] : [f];
          for (const v of variants) {
            const got = sem.verdict(v);
            if (!got) continue;
            judged++;
            const want = ref.verdict(v);
            if (got.verdict !== want.verdict || got.rule !== want.rule) {
              mismatches.push(`${JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString(16) : x))}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
            }
          }
        }
      }
    }
    console.log(`host share: ${judged} flows judged by the artefact interpreter, ${mismatches.length} mismatches`);
    expect(mismatches.slice(0, 5)).toEqual([]);
    expect(judged).toBeGreaterThan(20_000);
  });

  it('looks up cells valid for any remote after the specific remote, and collapses unnamed remotes onto ANY_REMOTE', () => {
    const fabric = anyRemoteFabric();
    const share = computeShare(anyRemoteIr(), fabric, fabric.devices[0], { cells: anyRemoteCells });
    // world (1) and "others" (4) are named by no cell: their prefixes resolve to ANY_REMOTE and fold into the virtual /0.
    // clients (2) are allowed tcp/80, so only the local identity (3), which nothing allows in, is denyIngress.
    expect(share.id4.map((e) => [e.prefix.len, e.id, e.local, e.denyIngress])).toEqual([
      [24, 2, false, false],
      [32, 3, true, true],
    ]);
    expect(share.policy.filter((p) => p.remote === ANY_REMOTE).length).toBe(2);
    const sem = new HostSemantics(roundTrip(share));
    for (const e of ANY_REMOTE_EXPECTED) expect({ why: e.why, ...sem.verdict(e.flow) }).toEqual({ why: e.why, verdict: e.verdict, rule: e.rule });
  });

  it('keeps only what local endpoints need', () => {
    const { policy, fabric } = generateScenario(makeRng(3));
    const ir = buildIr(policy, fabric);
    for (const device of fabric.devices.filter((d) => d.kind === 'host')) {
      const share = computeShare(ir, fabric, device);
      const L = new Set(share.localIdentities);
      expect(share.policy.filter((p) => !L.has(p.local)).length).toBe(0);
      expect(share.id4.length + share.id6.length).toBeLessThanOrEqual(ir.lpm.length + share.localAddresses.length);
    }
  });

  it('refuses a share over capacity with the numbers', () => {
    const { policy, fabric } = generateScenario(makeRng(4));
    const ir = buildIr(policy, fabric);
    const device = fabric.devices.find((d) => d.kind === 'host' && fabric.endpoints.some((e) => e.host === d.name))!;
    try {
      computeShare(ir, fabric, device, { slotLimit: 3 });
      expect.unreachable('no capacity error');
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      const d = (e as InputError).diagnostics[0];
      expect(d.code).toBe('capacity-exceeded');
      expect(d.message).toMatch(/needs [\d,]+ entries in the .* over the limit of 3 per generation/);
      expect(d.hint).toMatch(/capacity.aclEntries/);
    }
  });

  it('lists the management SSH service as failsafe', () => {
    const { policy, fabric } = generateScenario(makeRng(5));
    const ir = buildIr(policy, fabric);
    const device = { ...fabric.devices.find((d) => d.kind === 'host')!, mgmt: { address: '172.20.20.21', ssh: { user: 'root', port: 2222 } } };
    const share = computeShare(ir, fabric, device);
    expect(share.failsafe).toEqual([{ address: { family: 4, value: 0xac141415n }, proto: 6, port: 2222 }]);
  });
});

/**
 * Flows aimed at the rules a local address is on: a rule holding the
 * address's identity on one side, an endpoint address of an identity on the
 * other side (any endpoint for `any`), a port key the rule names; half are
 * then nudged one port off, so first match has to look past the rule.
 */
function ruleAimedFlows(rng: ReturnType<typeof makeRng>, ir: Ir, fabric: Fabric, locals: IpAddr[], count: number): Flow[] {
  const reach = irReach(ir);
  const lookup = new IrLookup(ir);
  const addressesOf = new Map(fabric.endpoints.map((e) => [e.name, e.addresses]));
  const out: Flow[] = [];
  for (let tries = 0; out.length < count && tries < count * 20; tries++) {
    const local = rng.pick(locals);
    const p = reach.pos.get(lookup.identityOf(local));
    if (p === undefined) continue;
    const egress = rng.chance(0.5);
    const rules = reach.rulesHolding(p, egress ? 'from' : 'to');
    if (rules.length === 0) continue;
    const rule = ir.rules[rng.pick(rules)];
    const members = reach.sideMembers(rule, egress ? 'to' : 'from');
    const pool = members ? members.flatMap((m) => Array.from(m)) : [];
    const names = members ? (pool.length ? ir.identities[rng.pick(pool)].endpoints : []) : [rng.pick(fabric.endpoints).name];
    if (names.length === 0) continue;
    const remote = (addressesOf.get(rng.pick(names)) ?? []).filter((a) => a.family === local.family);
    if (remote.length === 0) continue;
    const slots = rule.services.flatMap((r, slot) => (r.length ? [slot] : []));
    if (slots.length === 0) continue;
    const slot = rng.pick(slots);
    const ranges = rule.services[slot];
    const k = rng.int(0, ranges.length / 2 - 1);
    let key = rng.int(ranges[2 * k], ranges[2 * k + 1]);
    if (rng.chance(0.5)) key = Math.max(0, Math.min(65535, key + (rng.chance(0.5) ? 1 : -1)));
    const proto = IR_PROTOS[slot];
    const base = { src: egress ? local : rng.pick(remote), dst: egress ? rng.pick(remote) : local, sport: rng.int(1024, 65535) };
    if (proto === 6 || proto === 17) out.push({ ...base, proto, dport: key });
    else if (proto === 1 || proto === 58) {
      if ((proto === 1) !== (local.family === 4)) continue;
      out.push({ ...base, proto, dport: 0, icmpType: key >> 8, icmpCode: key & 0xff, icmpId: 1 });
    } else out.push({ ...base, proto: 47, dport: 0 });
  }
  return out;
}

describe('computeShare on the data-center shapes', () => {
  // bench/scenarios.ts at a small scale: app, env, tier and team labels,
  // zones with holes, catch-all rules; hosts with hundreds of local endpoints.
  for (const shape of ['correlated', 'catch-all', 'independent'] as const) {
    it(`${shape}: a host's and a DPU's compiled shares judge sampled flows like the reference`, () => {
      const rng = makeRng(11);
      const files = shapeYaml(shape, { ...SHAPE_DEFAULTS, rules: 400, endpoints: 3000, devices: 66, apps: 300 });
      const policy = parsePolicy(files.policy, 'policy.yaml');
      const fabric = parseInventory(files.fabric, 'fabric.yaml');
      const ir = buildIr(policy, fabric);
      const ref = new ReferenceEvaluator(policy, fabric);
      const devices = [fabric.devices.find((d) => d.name === 'host0')!, fabric.devices.find((d) => d.name === 'host7')!, fabric.devices.find((d) => d.kind === 'dpu')!];
      let judged = 0;
      let byRule = 0;
      const mismatches: string[] = [];
      for (const device of devices) {
        const share = roundTrip(computeShare(ir, fabric, device));
        expect(share.localAddresses.length).toBeGreaterThan(10);
        const sem = new HostSemantics(share);
        const locals = share.localAddresses;
        const sampled = [
          ...ruleAimedFlows(rng, ir, fabric, locals, 6000),
          ...generateFlows(rng, policy, fabric, 2000).flatMap((f) => {
            const sameFamily = locals.filter((a) => a.family === f.src.family);
            return sameFamily.length ? [{ ...f, src: rng.pick(sameFamily) }, { ...f, dst: rng.pick(sameFamily) }] : [];
          }),
        ];
        for (const v of sampled) {
          {
            const got = sem.verdict(v);
            if (!got) continue;
            judged++;
            const want = ref.verdict(v);
            if (want.rule >= 0) byRule++;
            if (got.verdict !== want.verdict || got.rule !== want.rule) {
              mismatches.push(`${device.name} ${JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString(16) : x))}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
            }
          }
        }
      }
      console.log(`host share, ${shape}: ${judged} flows judged by the artefact interpreter on ${devices.length} devices (${byRule} decided by a rule), ${mismatches.length} mismatches`);
      expect(mismatches.slice(0, 5)).toEqual([]);
      expect(judged).toBeGreaterThan(10_000);
      expect(byRule).toBeGreaterThan(judged / 3);
    });
  }
});

describe('dropLengths', () => {
  /** The flag of the address's longest match, as the full walk finds it. */
  const longestFlag = (es: IdEntry[], addr: number): boolean => {
    let best: IdEntry | undefined;
    for (const e of es) if (covers(e, addr) && (!best || e.prefix.len > best.prefix.len)) best = e;
    return best?.denyIngress ?? false;
  };
  /** The XDP early stage's walk: the first hit at the listed lengths, longest first. */
  const earlyFlag = (es: IdEntry[], lengths: number[], addr: number): boolean => {
    for (const len of [...new Set(lengths)].sort((a, b) => b - a)) {
      const hit = es.find((e) => e.prefix.len === len && covers(e, addr));
      if (hit) return hit.denyIngress;
    }
    return false;
  };
  const covers = (e: IdEntry, addr: number) => e.prefix.len === 0 || BigInt(addr >>> (32 - e.prefix.len)) === e.prefix.addr >> BigInt(32 - e.prefix.len);

  it('gives the flag of the longest match on generated nested tables', () => {
    const rng = makeRng(11);
    let tried = 0;
    for (let t = 0; t < 300; t++) {
      // Prefixes inside 10.0.0.0/16 so that they nest often; unique by (address, length).
      const es = new Map<string, IdEntry>();
      for (let i = rng.int(1, 40); i > 0; i--) {
        const len = rng.int(16, 32);
        const addr = BigInt((((0x0a00 << 16) | rng.int(0, 0xffff)) >>> (32 - len)) >>> 0) << BigInt(32 - len);
        es.set(`${addr}/${len}`, { prefix: { family: 4, addr, len }, id: i, local: false, denyIngress: rng.chance(0.5) });
      }
      const table = [...es.values()];
      const lengths = dropLengths(table);
      expect(new Set(lengths).size).toBeLessThanOrEqual(new Set(table.map((e) => e.prefix.len)).size);
      for (let a = 0; a < 200; a++) {
        const addr = ((0x0a00 << 16) | rng.int(0, 0xffff)) >>> 0;
        expect(earlyFlag(table, lengths, addr)).toBe(longestFlag(table, addr));
        tried++;
      }
    }
    console.log(`dropLengths: ${tried} addresses over 300 tables agreed with the longest match`);
  });

  it('lists only where denial starts or stops', () => {
    const p = (addr: number, len: number) => ({ family: 4 as const, addr: BigInt(addr >>> 0), len });
    const table: IdEntry[] = [
      { prefix: p(0x0a000000, 8), id: 1, local: false, denyIngress: true },
      { prefix: p(0x0a010000, 16), id: 2, local: false, denyIngress: true }, // same flag as 10/8: not listed
      { prefix: p(0x0a010100, 24), id: 3, local: false, denyIngress: false }, // a hole in the denial
      { prefix: p(0xc0a8000a, 32), id: 4, local: true, denyIngress: false }, // not denied, nothing enclosing
    ];
    expect(dropLengths(table).sort((a, b) => b - a)).toEqual([24, 8]);
  });

  it('leaves local addresses out: the early stage never judges a local source', () => {
    const p = (addr: number, len: number) => ({ family: 4 as const, addr: BigInt(addr >>> 0), len });
    const table: IdEntry[] = [
      { prefix: p(0x0a000000, 28), id: 1, local: false, denyIngress: true },
      { prefix: p(0xc0a8000a, 32), id: 2, local: true, denyIngress: true }, // denied, but local
      { prefix: p(0x0a000005, 32), id: 3, local: true, denyIngress: false }, // a local hole in a denied remote prefix
    ];
    expect(dropLengths(table)).toEqual([28]);
  });
});
