// P4 codegen against the reference evaluator on generated policies (exact
// and prefilter placements, 200,000 flows each) through the pipeline model
// (classifiers, then ACL), plus the pieces: range ternaries (binary and
// fence-encoded), LPM sweeping, reverse entries, ND, capacity per table,
// JSON form.

import { describe, expect, it } from 'vitest';
import { generateFlows, generatePacketSequences, generateScenario, makeRng } from '../../orchestrator/testing/generate.ts';
import { buildIr } from '../../orchestrator/ir/build.ts';
import { place } from '../../orchestrator/placement/place.ts';
import { ReferenceEvaluator } from '../../orchestrator/reference/evaluator.ts';
import { InputError } from '../../orchestrator/diagnostics.ts';
import { CAPACITY_EXCEEDED } from '../contract.ts';
import { parseCidr, parseIp, type Cidr } from '../../orchestrator/net/ip.ts';
import type { DevicePlacement } from '../../orchestrator/placement/model.ts';
import type { Ir } from '../../orchestrator/ir/model.ts';
import type { Device } from '../../inventory/model.ts';
import {
  checkSwitchFlows,
  checkSwitchSequences,
  endpointSources,
  formatApproximations,
  lpmIntervals,
  packetOfFlow,
  TCP_FLAG_ACK,
} from '../switch-common/index.ts';
import { aclFloor, buildAclEntries, checkCapacity, countsOf, entriesDocument, planProgram, ruleCosts, ServiceMatches } from './codegen.ts';
import { CLOSING_ENTRIES } from './generation.ts';
import { p4EntryFromProto, type AclEntry, type ClassEntry } from './entries.ts';
import { PipelineModel } from './semantics.ts';
import { fenceEncode, fenceRangeTernaries, mergeTernaries, rangeTernaries, type Ternary } from './ternary.ts';

function covered(ts: Ternary[], width: number): Set<number> {
  const out = new Set<number>();
  for (let v = 0; v < 1 << width; v++) if (ts.some((t) => (BigInt(v) & t.mask) === t.value)) out.add(v);
  return out;
}

describe('ternary expansion', () => {
  it('covers a range exactly with at most 2w-2 prefixes', () => {
    const rng = makeRng(7);
    for (let i = 0; i < 300; i++) {
      const a = rng.int(0, 4095);
      const b = rng.int(0, 4095);
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      const ts = rangeTernaries(lo, hi, 12);
      expect(ts.length).toBeLessThanOrEqual(lo === 0 && hi === 4095 ? 1 : 2 * 12 - 2);
      const set = covered(ts, 12);
      expect(set.size).toBe(hi - lo + 1);
      expect(set.has(lo) && set.has(hi) && !set.has(lo - 1) && !set.has(hi + 1)).toBe(true);
    }
    expect(rangeTernaries(1, 65534, 16).length).toBe(30);
    expect(rangeTernaries(8000, 8099, 16).length).toBeLessThan(8);
  });

  it('covers a port range exactly with at most 7 fence-encoded ternaries', () => {
    const rng = makeRng(8);
    let tried = 0;
    for (let i = 0; i < 400; i++) {
      const a = rng.int(0, 65535);
      const b = i % 2 ? rng.int(0, 65535) : Math.min(65535, a + rng.int(0, 300));
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      const ts = fenceRangeTernaries([{ lo, hi }]);
      expect(ts.length).toBeLessThanOrEqual(7);
      // Every port near the ends, and a stride through the whole space.
      const probe = [lo - 2, lo - 1, lo, lo + 1, hi - 1, hi, hi + 1, hi + 2];
      for (let v = i % 997; v < 65536; v += 997) probe.push(v);
      for (const v of probe) {
        if (v < 0 || v > 65535) continue;
        const code = fenceEncode(v);
        expect(ts.some((t) => (code & t.mask) === t.value), `port ${v} in ${lo}-${hi}`).toBe(v >= lo && v <= hi);
        tried++;
      }
    }
    expect(tried).toBeGreaterThan(25_000);
    expect(fenceRangeTernaries([{ lo: 0, hi: 65535 }])).toEqual([{ value: 0n, mask: 0n }]);
    // The binary worst case: 30 prefixes, 7 fence ternaries.
    expect(rangeTernaries(1, 65534, 16).length).toBe(30);
    expect(fenceRangeTernaries([{ lo: 1, hi: 65534 }]).length).toBe(7);
    expect(fenceRangeTernaries([{ lo: 5432, hi: 5432 }]).length).toBe(1);
  });

  it('merges value/mask pairs without changing the covered set', () => {
    const rng = makeRng(11);
    for (let i = 0; i < 200; i++) {
      const items: Ternary[] = [];
      for (let k = 0; k < rng.int(1, 12); k++) items.push(...rangeTernaries(rng.int(0, 200), rng.int(200, 255), 8));
      const before = covered(items, 8);
      const merged = mergeTernaries(items, 8);
      expect(covered(merged, 8)).toEqual(before);
    }
    // Two endpoints differing in one bit become one entry.
    expect(mergeTernaries([{ value: 0x0a00010bn, mask: 0xffffffffn }, { value: 0x0a00011bn, mask: 0xffffffffn }], 32)).toEqual([{ value: 0x0a00010bn, mask: 0xffffffefn }]);
  });
});

describe('LPM sweep', () => {
  it('gives each address the identity of its longest prefix', () => {
    const c = (s: string): Cidr => (parseCidr(s) as { ok: true; cidr: Cidr }).cidr;
    const lpm = [
      { prefix: c('0.0.0.0/0'), id: 1 },
      { prefix: c('10.0.0.0/8'), id: 2 },
      { prefix: c('10.1.0.0/16'), id: 3 },
      { prefix: c('10.1.2.0/24'), id: 2 },
      { prefix: c('10.200.0.0/16'), id: 4 },
    ];
    const ivs = lpmIntervals(lpm, 4);
    const at = (ip: string): number => {
      const v = parseIp(ip)!.value;
      return ivs.find((i) => i.lo <= v && v <= i.hi)!.id;
    };
    expect(at('9.255.255.255')).toBe(1);
    expect(at('10.0.0.0')).toBe(2);
    expect(at('10.1.0.1')).toBe(3);
    expect(at('10.1.2.9')).toBe(2);
    expect(at('10.1.3.0')).toBe(3);
    expect(at('10.200.255.255')).toBe(4);
    expect(at('11.0.0.0')).toBe(1);
    for (let i = 1; i < ivs.length; i++) expect(ivs[i].lo).toBe(ivs[i - 1].hi + 1n);
    expect(ivs[0].lo).toBe(0n);
    expect(ivs[ivs.length - 1].hi).toBe(0xffffffffn);
  });
});

/** Turns every exact port into a host-facing one: the same switch in prefilter mode. */
function asPrefilter(dp: DevicePlacement): DevicePlacement {
  return { ...dp, mode: 'prefilter', interfaces: dp.interfaces.map((i) => (i.role === 'unmanaged-endpoint' ? { ...i, role: 'host' } : i)) };
}

describe('p4 entries against the reference evaluator', () => {
  for (const [seed, defaultAction] of [
    [1, undefined],
    [2, undefined],
    [3, 'allow'],
  ] as const) {
    it(`generated policy ${seed}${defaultAction ? ` (default ${defaultAction})` : ''}: exact ports equal, prefilter ports never drop an allowed flow`, () => {
      const { policy, fabric } = generateScenario(makeRng(seed), { defaultAction, rules: defaultAction ? 12 : undefined });
      const ir = buildIr(policy, fabric);
      const placement = place(policy, fabric, ir);
      const ref = new ReferenceEvaluator(policy, fabric);
      const flows = generateFlows(makeRng(seed * 1000 + 1), policy, fabric, 200_000);
      const switches = placement.devices.filter((d) => d.target === 'p4' || d.target === 'openconfig');
      expect(switches.length).toBeGreaterThan(0);
      const dp = switches.find((d) => d.mode === 'exact') ?? switches[0];
      let total = 0;
      for (const [label, placementOf] of [
        ['as placed', dp],
        ['prefilter only', asPrefilter(dp)],
      ] as const) {
        const program = buildAclEntries({ policy, ir, devicePlacement: placementOf, fabric });
        // Capacity is checked on counts taken before the entries exist: they must be the entries' own.
        const plan = planProgram({ policy, ir, devicePlacement: placementOf, fabric });
        expect(plan.counts).toEqual(countsOf(program));
        // The floor an early refusal reads is never above the entries.
        const floor = aclFloor(plan.bands, new ServiceMatches());
        expect(floor.total).toBeLessThanOrEqual(plan.counts.acl);
        expect(floor.total).toBeGreaterThan(0);
        const interp = new PipelineModel(program.entries, program.classes);
        const exactPorts = placementOf.interfaces.filter((i) => i.role === 'unmanaged-endpoint').map((i) => i.name);
        const prefilterPorts = placementOf.interfaces.filter((i) => i.role !== 'unmanaged-endpoint').map((i) => i.name);
        const r = checkSwitchFlows({
          exactPorts,
          prefilterPorts,
          flows,
          reference: (f) => ref.verdict(f).verdict,
          sourcesOf: (port) => endpointSources(fabric, dp.device, port),
          evaluate: (p) => interp.evaluate(p),
          replyEntry: (p) => interp.replyEntry(p),
          ports: 'rotate',
        });
        console.log(
          `p4 verify seed ${seed} (default ${policy.defaultAction}) ${dp.device} ${label}: ${flows.length} flows, ${r.checks} checks over ${exactPorts.length} exact + ${prefilterPorts.length} prefilter ports, ${program.entries.length} ACL + ${program.classes.length} LPM entries, ${r.mismatches} mismatches, ${r.approximated} passed by reverse entries`,
        );
        expect(r.examples).toEqual([]);
        expect(r.mismatches).toBe(0);
        total += r.checks;
      }
      expect(total).toBe(2 * flows.length);
    });
  }
});

describe('p4 entries on a hand-built policy', () => {
  // web (10.0.1.0/24) may reach db (10.0.2.10) on tcp/5432 and udp/8000-8099;
  // nothing else is allowed; the db sits behind leaf1:eth5, unmanaged.
  const c = (s: string): Cidr => (parseCidr(s) as { ok: true; cidr: Cidr }).cidr;
  const span = { file: 'hand', line: 1, col: 1 };
  const ir: Ir = {
    policyName: 'hand',
    policyDigest: '',
    fabricDigest: '',
    defaultAction: 'deny',
    identities: [
      { id: 1, groups: [], endpoints: [] },
      { id: 2, groups: ['web'], endpoints: [] },
      { id: 3, groups: ['db'], endpoints: ['db-1'] },
    ],
    lpm: [
      { prefix: c('0.0.0.0/0'), id: 1 },
      { prefix: c('10.0.1.0/24'), id: 2 },
      { prefix: c('10.0.2.10/32'), id: 3 },
      { prefix: c('::/0'), id: 1 },
    ],
    rules: [
      {
        index: 0,
        name: 'web-to-db',
        section: '',
        action: 'allow',
        log: false,
        span,
        from: { groups: ['web'] },
        to: { groups: ['db'] },
        // IR protocol slots: other, icmp, tcp, udp, icmpv6.
        services: [[], [], [5432, 5432], [8000, 8099], []],
      },
    ],
  };
  const policy = {
    file: 'hand',
    name: 'hand',
    defaultAction: 'deny' as const,
    groups: new Map([
      ['web', { name: 'web', cidrs: [c('10.0.1.0/24')], except: [], span }],
      ['db', { name: 'db', cidrs: [c('10.0.2.10/32')], except: [], span }],
    ]),
    sections: [],
    rules: [
      {
        index: 0,
        name: 'web-to-db',
        section: '',
        from: [{ kind: 'group' as const, name: 'web', span }],
        to: [{ kind: 'group' as const, name: 'db', span }],
        ports: [
          { protocol: 'tcp' as const, lo: 5432, hi: 5432, span },
          { protocol: 'udp' as const, lo: 8000, hi: 8099, span },
        ],
        action: 'allow' as const,
        log: false,
        span,
      },
    ],
    digest: '',
  };
  const dp: DevicePlacement = {
    device: 'leaf1',
    target: 'p4',
    mode: 'exact',
    localIdentities: [3],
    interfaces: [
      { name: 'eth1', role: 'uplink' },
      { name: 'eth5', role: 'unmanaged-endpoint' },
    ],
    reason: 'hand',
  };
  const ip = (s: string) => parseIp(s)!;
  const flow = (src: string, dst: string, proto: number, sport: number, dport: number) => ({ src: ip(src), dst: ip(dst), proto, sport, dport });
  const c24 = (s: string) => ip(s).value;
  const program = buildAclEntries({ policy, ir, devicePlacement: dp });
  const interp = new PipelineModel(program.entries, program.classes);

  it('passes replies of allowed TCP connections at the exact port only with ACK set', () => {
    const reply = flow('10.0.2.10', '10.0.1.7', 6, 5432, 40000);
    expect(interp.evaluate(packetOfFlow(reply, { inPort: 'eth5' }))).toBe('deny');
    expect(interp.evaluate(packetOfFlow(reply, { inPort: 'eth5', established: true }))).toBe('permit');
    expect(interp.evaluate({ ...packetOfFlow(reply, { inPort: 'eth5' }), tcpFlags: TCP_FLAG_ACK | 0x02 })).toBe('permit');
    // The reverse entry is tied to the service port.
    expect(interp.evaluate(packetOfFlow(flow('10.0.2.10', '10.0.1.7', 6, 5433, 40000), { inPort: 'eth5', established: true }))).toBe('deny');
    expect(program.notes.join('\n')).toMatch(/reverse rule/);
  });

  it('passes UDP replies from the service ports and nothing else from the endpoint', () => {
    const reply = flow('10.0.2.10', '10.0.1.7', 17, 8050, 40000);
    expect(interp.evaluate(packetOfFlow(reply, { inPort: 'eth5' }))).toBe('permit');
    expect(interp.replyEntry(packetOfFlow(reply, { inPort: 'eth5' }))).toBe(true);
    // Not rounded out: 8100 is outside the service range.
    expect(interp.evaluate(packetOfFlow({ ...reply, sport: 8100 }, { inPort: 'eth5' }))).toBe('deny');
    // Only towards the rule's sources.
    expect(interp.evaluate(packetOfFlow({ ...reply, dst: ip('10.0.3.7') }, { inPort: 'eth5' }))).toBe('deny');
    // No rule allows ICMP: no echo reply entry.
    expect(interp.evaluate(packetOfFlow({ src: ip('10.0.2.10'), dst: ip('10.0.1.7'), proto: 1, sport: 0, dport: 0, icmpType: 0, icmpCode: 0 }, { inPort: 'eth5' }))).toBe('deny');
  });

  it('lets IPv6 neighbour discovery and non-IP traffic pass an exact port', () => {
    const ns = { ...packetOfFlow({ src: ip('fe80::1'), dst: ip('ff02::1:ff00:1'), proto: 58, sport: 0, dport: 0, icmpType: 135, icmpCode: 0 }, { inPort: 'eth5' }) };
    expect(interp.evaluate(ns)).toBe('permit');
    expect(interp.evaluate({ ...ns, icmpType: 128 })).toBe('deny');
    expect(interp.evaluate({ inPort: 'eth5', etherType: 0x0806, proto: 0, sport: 0, dport: 0, tcpFlags: 0, icmpType: 0, icmpCode: 0 })).toBe('permit');
  });

  it('classifies each group once and matches the ACL on labels', () => {
    // Sources: web, the endpoint's own address (exact port), every address; destinations: db, web (replies).
    const srcTables = program.classes.filter((c) => c.table === 'weft_src_class_v4');
    expect(srcTables.some((c) => c.prefix.len === 24 && c.prefix.addr === c24('10.0.1.0'))).toBe(true);
    for (const e of program.entries) {
      expect(Object.keys(e.match).some((k) => k.startsWith('ipv4') || k.startsWith('ipv6'))).toBe(false);
    }
    const model = new PipelineModel(program.entries, program.classes);
    const web = model.labelsOf(packetOfFlow(flow('10.0.1.7', '10.0.2.10', 6, 40000, 5432)));
    const other = model.labelsOf(packetOfFlow(flow('10.0.3.7', '10.0.2.11', 6, 40000, 5432)));
    expect(web.src).not.toBe(0n);
    expect(web.dst).not.toBe(0n);
    expect(other).toEqual({ src: 0n, dst: 0n });
    expect(program.stats.aclEntries).toBe(program.entries.length);
    expect(program.stats.lpmEntries).toBe(program.classes.length);
  });

  it('writes deterministic entries that read back to the same pipeline', () => {
    const a = JSON.stringify(entriesDocument(program, 1));
    const b = JSON.stringify(entriesDocument(buildAclEntries({ policy, ir, devicePlacement: dp }), 1));
    expect(a).toBe(b);
    const doc = entriesDocument(program, 1);
    const acl: AclEntry[] = [];
    const classes: ClassEntry[] = [];
    for (const u of doc.updates) {
      const e = p4EntryFromProto(u.entity.tableEntry);
      if (e.kind === 'acl') acl.push(e.entry);
      else classes.push(e.entry);
    }
    expect(acl.length).toBe(program.entries.length);
    expect(classes.length).toBe(program.classes.length);
    const interp2 = new PipelineModel(acl, classes);
    const rng = makeRng(3);
    const ref = new ReferenceEvaluator(policy, { file: 'hand', name: 'hand', devices: [], links: [], endpoints: [], digest: '' });
    const flows = generateFlows(rng, policy, { file: 'hand', name: 'hand', devices: [], links: [], endpoints: [], digest: '' }, 20_000);
    const r = checkSwitchFlows({ exactPorts: ['eth5'], prefilterPorts: ['eth1'], flows, reference: (f) => ref.verdict(f).verdict, evaluate: (p) => interp2.evaluate(p) });
    console.log(`p4 verify hand-built (read back from JSON): ${flows.length} flows, ${r.checks} checks, ${r.mismatches} mismatches`);
    expect(r.mismatches).toBe(0);
    // Classifier entries first (no priority, LPM), then the ACL by priority, highest first.
    const firstAcl = doc.updates.findIndex((u) => u.entity.tableEntry.priority !== undefined);
    expect(firstAcl).toBe(program.classes.length);
    // Every entry is written for generation 0 (the transition moves it to the generation it writes).
    for (const u of doc.updates) expect(u.entity.tableEntry.match.filter((m) => m.exact)).toEqual([{ fieldId: expect.any(Number), exact: { value: 'AA==' } }]);
    for (const u of doc.updates.slice(0, firstAcl)) for (const m of u.entity.tableEntry.match) if (!m.exact) expect(m.lpm?.prefixLen).toBeGreaterThan(0);
    const aclUpdates = doc.updates.slice(firstAcl);
    for (const u of aclUpdates) {
      expect(u.entity.tableEntry.priority).toBeGreaterThan(0);
      for (const m of u.entity.tableEntry.match) if (!m.exact) expect(Buffer.from(m.ternary!.mask, 'base64').every((x) => x === 0)).toBe(false);
    }
    const prios = aclUpdates.map((u) => u.entity.tableEntry.priority ?? 0);
    expect([...prios].sort((x, y) => y - x)).toEqual(prios);
  });

  it('refuses a program whose one generation does not fit at compile time, naming the table and the numbers; notes one that fits once but not twice', () => {
    const device = { name: 'leaf1', kind: 'switch', pipeline: 'p4', mgmt: {}, capacity: { aclEntries: 4 }, labels: {}, span: { file: 'fabric.yaml', line: 7, col: 5 } } as Device;
    const message = (f: () => void): string => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        // The same code as every other target's capacity error.
        expect(new Set((e as InputError).diagnostics.map((d) => d.code))).toEqual(new Set([CAPACITY_EXCEEDED]));
        return (e as InputError).message;
      }
      return '';
    };
    const acl = message(() => checkCapacity({ device, policy }, countsOf(program)));
    const n = program.entries.length;
    expect(acl).toContain(`leaf1: the policy needs ${n + 2} entries in p4 table weft_acl (${n} for the policy, 2 to drop all IP while a change too big for two generations is made in place), more than 4 (capacity.aclEntries of leaf1)`);
    expect(acl).toContain('fabric.yaml:7:5');
    expect(checkCapacity({ policy, device: { ...device, capacity: undefined } }, countsOf(program))).toEqual([]);
    // Room for one generation and the closing entries, not for two: compiles, with a note that changes are not hitless.
    expect(message(() => checkCapacity({ policy, device: { ...device, capacity: { aclEntries: n + 1 } } }, countsOf(program)))).toContain(`needs ${n + 2} entries`);
    expect(checkCapacity({ policy, device: { ...device, capacity: { aclEntries: n + 2 } } }, countsOf(program))).toEqual([
      `weft_acl: ${n} entries per policy generation, room for ${n + 2} (capacity.aclEntries of leaf1), not for two: a change on this switch is not hitless, it is made in place with all IP through the switch dropped meanwhile`,
    ]);
    expect(checkCapacity({ policy, device: { ...device, capacity: { aclEntries: 2 * n } } }, countsOf(program))).toEqual([]);
    const big = { entries: Array.from({ length: 5000 }, () => program.entries[0]), classes: [] };
    expect(message(() => checkCapacity({ policy, device: { ...device, capacity: undefined } }, countsOf(big)))).toMatch(/needs 5002 entries in p4 table weft_acl .*more than 4096 \(the size of table weft_acl/);
    const srcV4 = program.classes.filter((c) => c.table === 'weft_src_class_v4').length;
    expect(srcV4).toBeGreaterThan(1);
    const lpm = message(() => checkCapacity({ policy, device: { ...device, capacity: { lpmEntries: 1 } } }, countsOf(program)));
    expect(lpm).toContain(`needs ${srcV4} entries in p4 table weft_src_class_v4, more than 1 (capacity.lpmEntries of leaf1)`);
  });

  it('names the rules that cost a refused table most, with their file:line:col', () => {
    const ruleSpan = (line: number) => ({ file: 'policy.yaml', line, col: 7 });
    // A second rule from web to a 3-prefix set, over a port range: it costs more ACL entries than web-to-db, and its destination set has more prefixes.
    const wide = {
      ...policy.rules[0],
      index: 1,
      name: 'web-to-wide',
      to: [{ kind: 'group' as const, name: 'wide', span }],
      ports: [{ protocol: 'tcp' as const, lo: 1000, hi: 1999, span }],
      span: ruleSpan(20),
    };
    const two = {
      ...policy,
      groups: new Map([...policy.groups, ['wide', { name: 'wide', cidrs: [c('10.0.4.1/32'), c('10.0.6.0/24'), c('10.0.9.0/25')], except: [], span }]]),
      rules: [{ ...policy.rules[0], span: ruleSpan(10) }, wide],
    };
    const irTwo = buildIr(two, { file: 'hand', name: 'hand', devices: [], links: [], endpoints: [], digest: '' });
    const plan = planProgram({ policy: two, ir: irTwo, devicePlacement: { ...dp, localIdentities: irTwo.identities.map((i) => i.id) } });
    const costs = ruleCosts(plan);
    expect(costs.acl.get(1)).toBeGreaterThan(costs.acl.get(0)!);
    const device = { name: 'leaf1', kind: 'switch', pipeline: 'p4', mgmt: {}, capacity: { aclEntries: 4, lpmEntries: 2 }, labels: {}, span: { file: 'fabric.yaml', line: 7, col: 5 } } as Device;
    let error: InputError | undefined;
    try {
      checkCapacity({ device, policy: two }, plan.counts, () => ruleCosts(plan));
    } catch (e) {
      error = e as InputError;
    }
    expect(error).toBeInstanceOf(InputError);
    const byTable = new Map(error!.diagnostics.map((d) => [/p4 table (\w+)/.exec(d.message)![1], d.message]));
    // Every entry is a rule's or shared (replies, defaults, control).
    expect(costs.acl.get(0)! + costs.acl.get(1)! + costs.aclShared).toBe(plan.counts.acl);
    expect(costs.aclShared).toBeGreaterThan(0);
    expect(byTable.get('weft_acl')).toContain(
      `; costliest: rule 'web-to-wide' (policy.yaml:20:7): ${costs.acl.get(1)!.toLocaleString('en-US')} entries; rule 'web-to-db' (policy.yaml:10:7): ${costs.acl.get(0)} entries; ${costs.aclShared} entries for replies, defaults and control traffic`,
    );
    expect(byTable.get('weft_dst_class_v4')).toMatch(/costliest: rule 'web-to-wide' \(policy\.yaml:20:7\): [3-9] IPv4 prefixes in its destination set; rule 'web-to-db' \(policy\.yaml:10:7\): 1 IPv4 prefixes/);
    // Without the costs the refusal still names the table and the numbers.
    expect(() => checkCapacity({ device, policy: two }, plan.counts)).toThrow(/needs \d+ entries in p4 table weft_acl .*more than 4 \(capacity\.aclEntries of leaf1\) \(merge or remove rules/);
    // With the device, rules that alone need more than it holds are refused before any address is classified.
    const floor = aclFloor(plan.bands, new ServiceMatches());
    expect(floor.total).toBeLessThanOrEqual(plan.counts.acl);
    expect(() => planProgram({ policy: two, ir: irTwo, devicePlacement: { ...dp, localIdentities: irTwo.identities.map((i) => i.id) }, device })).toThrow(
      new RegExp(`leaf1: the policy needs at least ${floor.total + CLOSING_ENTRIES} entries in p4 table weft_acl \\(one per service and port of each rule, before its addresses are classified\\), more than 4 \\(capacity\\.aclEntries of leaf1\\); costliest: rule 'web-to-wide' \\(policy\\.yaml:20:7\\): \\d+ entries at least`),
    );
    // A device that holds the floor is planned in full.
    expect(planProgram({ policy: two, ir: irTwo, devicePlacement: { ...dp, localIdentities: irTwo.identities.map((i) => i.id) }, device: { ...device, capacity: { aclEntries: floor.total + CLOSING_ENTRIES } } }).counts).toEqual(plan.counts);
  });
});

describe('p4 entries on request/reply sequences (stateless replies)', () => {
  for (const [seed, label] of [
    [2, 'as placed'],
    [4, 'as placed'],
    [2, 'prefilter only'],
  ] as const) {
    it(`seed ${seed} ${label}: every reply the stateful reference allows passes, at exact and prefilter ports`, () => {
      const { policy, fabric } = generateScenario(makeRng(seed), { defaultAction: 'deny' });
      const ir = buildIr(policy, fabric);
      const placed = place(policy, fabric, ir).devices.find((d) => d.mode === 'exact' && (d.target === 'p4' || d.target === 'openconfig'))!;
      const dp = label === 'prefilter only' ? asPrefilter(placed) : placed;
      const program = buildAclEntries({ policy, ir, devicePlacement: dp, fabric });
      const interp = new PipelineModel(program.entries, program.classes);
      const exactPorts = dp.interfaces.filter((i) => i.role === 'unmanaged-endpoint').map((i) => i.name);
      const r = checkSwitchSequences({
        sequences: generatePacketSequences(makeRng(seed + 50), policy, fabric, 50_000),
        reference: new ReferenceEvaluator(policy, fabric),
        exactSources: new Map(exactPorts.map((p) => [p, endpointSources(fabric, dp.device, p)])),
        prefilterPort: dp.interfaces.find((i) => i.role !== 'unmanaged-endpoint')!.name,
        evaluate: (p) => interp.evaluate(p),
        replyEntry: (p) => interp.replyEntry(p),
      });
      console.log(
        `p4 stateful seed ${seed} ${label} (${exactPorts.length} exact ports): ${r.sequences} sequences, ${r.packets} packets, ${r.replies} allowed replies, ` +
          `${r.carried} allowed packets carried, ${r.mismatches} mismatches; stateless approximations: ${formatApproximations(r.approximated)}`,
      );
      expect(r.examples).toEqual([]);
      expect(r.mismatches).toBe(0);
      expect(r.replies).toBeGreaterThan(1000);
      expect(r.carried).toBeGreaterThan(r.packets / 20);
    });
  }
});
