// P4 switch benchmark: table entries per switch for generated policies of
// 100 to 10,000 rules with port ranges, side by side:
//   naive: every group to prefixes as written, every range to binary
//     prefixes, src x dst x ports per rule, no pruning or merging;
//   flat: the single flat ternary ACL Weft generated before classification
//     (the same bands, each family's merged source prefixes x destination
//     prefixes x binary port prefixes), counted here only;
//   classes: the pipeline codegen writes (LPM classifier entries per table,
//     ACL entries over 64-bit labels: class ids and layer fields, with
//     fence-encoded ports);
//   bits: the same ACL with one label bit per address set instead of class
//     ids (each set one ternary), and the label width that would take;
//   classIdsOnly / layers112: the pipeline's labels without layer fields,
//     and with 112 layer bits instead of LAYER_BITS.
// Policies: "zones" (groups of CIDR blocks that do not overlap, 1-3 port
// matches per rule, 45% ranges) and "labels" (the test generator's
// overlapping selector groups, holes, ICMP and IPv6). The switch has one
// uplink and one port that is exact (the whole policy) or prefilter. Then
// the P4 leaves of the compile benchmark's scenarios, as placed. Entries are
// counted, as codegen counts them before its capacity check; a program is
// built (and its codegen CPU time given) only when it is small enough to
// hold in memory. Times are CPU (user + system) of this process.
// Run alone: node bin/run-ts.js bench/p4.ts

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SourceSpan } from '../orchestrator/diagnostics.ts';
import { cidrRange, rangeToCidrs, type Cidr, type Family } from '../orchestrator/net/ip.ts';
import type { GroupDef, PeerRef, Policy, PortMatch, Rule } from '../orchestrator/policy/model.ts';
import type { Fabric } from '../inventory/model.ts';
import type { DevicePlacement } from '../orchestrator/placement/model.ts';
import { buildIr } from '../orchestrator/ir/build.ts';
import { generateScenario, makeRng, type Rng } from '../orchestrator/testing/generate.ts';
import { bandMatchCount, materialise, planProgram, ServiceMatches, type Labels, type P4Band } from '../targets/p4/codegen.ts';
import { CLOSING_ENTRIES } from '../targets/p4/generation.ts';
import { parsePolicy } from '../orchestrator/policy/load.ts';
import { parseInventory } from '../inventory/load.ts';
import { place } from '../orchestrator/placement/place.ts';
import { scenarioFiles, SCENARIOS } from './compile.ts';
import { AddressClasses, setKey, type SideLabels, type SideMatch } from '../targets/p4/classes.ts';
import { CLASSIFIER_TABLES, PIPELINE } from '../targets/p4/p4info.ts';
import { cidrTernary, mergeTernaries, rangeTernaries } from '../targets/p4/ternary.ts';
import type { AddressSet, Service } from '../targets/switch-common/index.ts';

const SIZES = [100, 1_000, 10_000];
const at: SourceSpan = { file: 'bench-p4', line: 1, col: 1 };

function cidr(family: Family, addr: bigint, len: number): Cidr {
  const bits = family === 4 ? 32 : 128;
  const mask = len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(bits - len);
  return { family, addr: addr & mask, len };
}

/**
 * Zones as data centers lay them out: each group owns one to three /20
 * blocks of 10.0.0.0/8 (a subnet of /20-/26 inside each, a third with a
 * hole), and some a /64 of fd00::/16; groups do not overlap.
 */
function makeGroups(rng: Rng, count: number): GroupDef[] {
  const groups: GroupDef[] = [];
  let block = 0;
  for (let g = 0; g < count; g++) {
    const cidrs: Cidr[] = [];
    const except: Cidr[] = [];
    for (let k = rng.int(1, 3); k > 0; k--) {
      const base = (10n << 24n) | (BigInt(block++ % 4096) << 12n);
      const len = rng.int(20, 26);
      const c = cidr(4, base | BigInt(rng.int(0, 0xfff)), len);
      cidrs.push(c);
      if (rng.chance(0.33) && len < 24) except.push(cidr(4, c.addr | BigInt(rng.int(0, (1 << (32 - len)) - 1)), rng.int(len + 2, 28)));
    }
    if (rng.chance(0.3)) cidrs.push(cidr(6, (0xfd00n << 112n) | (BigInt(g) << 64n), 64));
    groups.push({ name: `zone${g}`, cidrs, except, span: at });
  }
  return groups;
}

function makePorts(rng: Rng): PortMatch[] {
  const out: PortMatch[] = [];
  for (let k = rng.int(1, 3); k > 0; k--) {
    const protocol = rng.chance(0.75) ? 'tcp' : 'udp';
    if (rng.chance(0.45)) {
      const lo = rng.int(1, 60000);
      out.push({ protocol, lo, hi: Math.min(65535, lo + rng.int(1, 4000)), span: at });
    } else {
      const p = rng.pick([22, 53, 80, 443, 3306, 5432, 6379, 8080, 8443, 9092, 9100, 11211]);
      out.push({ protocol, lo: p, hi: p, span: at });
    }
  }
  return out;
}

function makePolicy(rng: Rng, rules: number): Policy {
  const groups = makeGroups(rng, Math.min(1300, Math.max(20, Math.floor(rules / 8))));
  const peer = (): PeerRef[] => (rng.chance(0.05) ? [{ kind: 'any' }] : [{ kind: 'group', name: rng.pick(groups).name, span: at }]);
  const list: Rule[] = [];
  for (let i = 0; i < rules; i++) {
    list.push({ index: i, name: `r${i}`, section: '', from: peer(), to: peer(), ports: makePorts(rng), action: rng.chance(0.25) ? 'deny' : 'allow', log: false, span: at });
  }
  return { file: 'bench-p4', name: `bench-${rules}`, defaultAction: 'deny', groups: new Map(groups.map((g) => [g.name, g])), sections: [], rules: list, digest: `bench-${rules}` };
}

/** Prefixes of a group as written: each CIDR minus its holes, no merging across CIDRs. */
function naiveGroupPrefixes(g: GroupDef | undefined, family: Family): number {
  if (!g) return 1; // any: one wildcard
  let n = 0;
  for (const c of g.cidrs.filter((x) => x.family === family)) {
    const { lo, hi } = cidrRange(c);
    const holes = g.except
      .filter((e) => e.family === family)
      .map(cidrRange)
      .filter((h) => h.lo >= lo && h.hi <= hi)
      .sort((a, b) => (a.lo < b.lo ? -1 : 1));
    let cur = lo;
    for (const h of holes) {
      if (h.lo > cur) n += rangeToCidrs(family, cur, h.lo - 1n).length;
      if (h.hi + 1n > cur) cur = h.hi + 1n;
    }
    if (cur <= hi) n += rangeToCidrs(family, cur, hi).length;
  }
  return n;
}

/**
 * Naive entries: per rule, its sources' prefixes x its destinations' x its
 * port expansion. With `replies`, also what a naive stateless switch needs
 * to carry an allowed flow's replies: the same product reversed, per allow
 * rule (the reply's source port is the rule's service port), which is what
 * the exact pipeline's reverse entries do.
 */
function naiveEntries(policy: Policy, replies = false): number {
  let total = 0;
  for (const r of policy.rules) {
    const ports = r.ports.reduce((n, p) => n + (p.protocol === 'tcp' || p.protocol === 'udp' ? rangeTernaries(p.lo, p.hi, 16).length : 1), 0);
    for (const family of [4, 6] as const) {
      const count = (refs: PeerRef[]) => refs.reduce((n, p) => n + naiveGroupPrefixes(p.kind === 'any' ? undefined : policy.groups.get(p.name), family), 0);
      const product = count(r.from) * count(r.to) * ports;
      total += replies && r.action === 'allow' ? 2 * product : product;
    }
  }
  return total;
}

/** Binary prefix count of a set of port ranges, merged (the flat pipeline's port expansion). */
function binaryPorts(ranges: { lo: number; hi: number }[]): number {
  return mergeTernaries(
    ranges.flatMap((r) => rangeTernaries(r.lo, r.hi, 16)),
    16,
  ).length;
}

function flatServices(services: Service[]): number {
  let n = 0;
  const icmpTypes = new Map<number, bigint[]>();
  for (const s of services) {
    if (s.kind === 'ports') n += binaryPorts(s.dst) * binaryPorts(s.src);
    else if (s.kind === 'icmp' && s.type !== undefined && s.code === undefined) icmpTypes.set(s.proto, [...(icmpTypes.get(s.proto) ?? []), BigInt(s.type)]);
    else n += 1;
  }
  for (const types of icmpTypes.values()) n += mergeTernaries(types.map((value) => ({ value, mask: 0xffn })), 8).length;
  return n;
}

/** Entries of the flat pipeline for the same bands: per family, merged source x destination prefixes x services, per ingress port. */
function flatEntries(bands: P4Band[]): number {
  let total = 0;
  for (const b of bands) {
    const services = flatServices(b.rule.services);
    for (const family of [4, 6] as const) {
      const prefixes = (set: AddressSet) => (family === 4 ? set.v4 : set.v6);
      const width = family === 4 ? 32 : 128;
      const src = mergeTernaries(prefixes(b.rule.src).map(cidrTernary), width).length;
      const dst = mergeTernaries(prefixes(b.rule.dst).map(cidrTernary), width).length;
      total += src * dst * services * (b.ports?.length ?? 1);
    }
  }
  return total;
}

/** One label bit per distinct address set of a side: every set is one ternary; the width is the number of sets. */
class GroupBits implements SideLabels {
  readonly bit = new Map<string, bigint>();
  constructor(sets: AddressSet[]) {
    for (const s of sets) if (!s.any && !this.bit.has(setKey(s))) this.bit.set(setKey(s), 1n << BigInt(this.bit.size));
  }
  matchesOf(set: AddressSet): SideMatch[] {
    if (set.any) return [{}];
    const out: SideMatch[] = [];
    for (const family of [4, 6] as const) if ((family === 4 ? set.v4 : set.v6).some((c) => c.len === 0)) out.push({ family });
    if (set.v4.some((c) => c.len > 0) || set.v6.some((c) => c.len > 0)) {
      const b = this.bit.get(setKey(set))!;
      out.push({ label: { value: b, mask: b } });
    }
    return out;
  }
}

/** CPU time (user + system) since `c`, in ms: the machine is shared, so wall time says little. */
function cpuMsSince(c: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(c);
  return (d.user + d.system) / 1000;
}

/** One line on stderr per step, with CPU and heap so far: a run cut short still shows how far it got and what it held. */
function progress(step: string): void {
  const cpu = process.cpuUsage();
  process.stderr.write(`bench p4: ${step} (${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU, ${Math.round(process.memoryUsage().heapUsed / 2 ** 20)} MiB heap)\n`);
}

const FABRIC: Fabric = { file: 'bench-p4', name: 'bench', devices: [], links: [], endpoints: [], digest: 'bench' };

/** Exact: every identity is behind the port (the whole policy, and every reply, on it). */
function placement(mode: 'exact' | 'prefilter', ir: ReturnType<typeof buildIr>): DevicePlacement {
  return {
    device: 'leaf1',
    target: 'p4',
    mode,
    localIdentities: mode === 'exact' ? ir.identities.map((i) => i.id) : [],
    interfaces: [
      { name: 'eth1', role: 'uplink' },
      { name: 'eth2', role: mode === 'exact' ? 'unmanaged-endpoint' : 'host' },
    ],
    reason: 'bench',
  };
}

/** Above this many ACL entries the bench counts a program without building it (as codegen does before refusing it): millions of entry objects would not fit the heap. */
const BUILD_LIMIT = 200_000;

/** ACL entries of the bands under other labels, counted without building them. */
function countWith(bands: P4Band[], labels: Labels, expand: ServiceMatches): number {
  return bands.reduce((n, b) => n + bandMatchCount(b, labels, expand), 0);
}

/** Entries per table for one policy on one switch, exact and prefilter, in every encoding. */
function measure(out: Record<string, unknown>, name: string, policy: Policy, ir: ReturnType<typeof buildIr>): void {
  for (const mode of ['exact', 'prefilter'] as const) {
    const input = { policy, ir, devicePlacement: placement(mode, ir) };
    const c0 = process.cpuUsage();
    const plan = planProgram(input);
    const planCpu = cpuMsSince(c0);
    const { bands, labels, counts, expand } = plan;
    const k = `${name}.${mode}`;
    progress(`${k}: planned, ${counts.acl} ACL entries`);
    out[`${k}.flat.aclEntries`] = flatEntries(bands);
    out[`${k}.classes.aclEntries`] = counts.acl;
    // Of which reverse entries for replies at exact ports (exactReplyRules): the naive and flat counts carry no replies at all.
    out[`${k}.classes.exactReplyAclEntries`] = countWith(bands.filter((b) => b.rule.rule < 0 && b.rule.name.startsWith('reply of')), labels, expand);
    out[`${k}.classes.lpmEntries`] = CLASSIFIER_TABLES.reduce((n, t) => n + counts.lpm[t], 0);
    for (const t of CLASSIFIER_TABLES) out[`${k}.classes.${t}`] = counts.lpm[t];
    out[`${k}.classes.classIds`] = `${labels.src.count}+${labels.dst.count}`;
    out[`${k}.classes.layeredSets`] = `${labels.src.layered}+${labels.dst.layered}`;
    out[`${k}.classes.layerBits`] = `${labels.src.layerBits}+${labels.dst.layerBits}`;
    const bits = { src: new GroupBits(bands.map((b) => b.rule.src)), dst: new GroupBits(bands.map((b) => b.rule.dst)) };
    out[`${k}.bits.aclEntries`] = countWith(bands, bits, new ServiceMatches());
    out[`${k}.bits.labelBits`] = `${bits.src.bit.size}+${bits.dst.bit.size}`;
    // Class ids alone (no layers), and layers twice as wide (a 128-bit label).
    for (const [variant, budget] of [
      ['classIdsOnly', 0],
      ['layers112', 112],
    ] as const) {
      const src = bands.map((b) => b.rule.src);
      const dst = bands.map((b) => b.rule.dst);
      out[`${k}.${variant}.aclEntries`] = countWith(bands, { src: new AddressClasses(src, 'bench', budget), dst: new AddressClasses(dst, 'bench', budget) }, expand);
    }
    // CPU of codegen's own work: classify and count (all a refused switch costs), then build the entries.
    out[`${k}.planCpuMs`] = Math.round(planCpu);
    if (counts.acl <= BUILD_LIMIT) {
      const c1 = process.cpuUsage();
      materialise(plan);
      out[`${k}.codegenCpuMs`] = Math.round(planCpu + cpuMsSince(c1));
    } else out[`${k}.codegenCpuMs`] = `not built (${counts.acl.toLocaleString('en-US')} entries > ${BUILD_LIMIT.toLocaleString('en-US')})`;
  }
}

/**
 * The P4 leaves of the compile benchmark's scenarios (bench/compile.ts,
 * at WEFT_P4_SCENARIO_SCALE, 0.1 by default: scale 1 takes minutes per
 * scenario), placed as `weft compile` places them: per scenario the number
 * of P4 leaves, the largest table of any leaf in the flat pipeline and in
 * Weft's, and how many leaves exceed the program's tables. Selector groups
 * have no prefixes as written, so there is no naive figure.
 */
function measureScenarios(out: Record<string, unknown>): void {
  const scale = Number(process.env.WEFT_P4_SCENARIO_SCALE ?? '0.1');
  if (!(scale > 0)) throw new Error(`WEFT_P4_SCENARIO_SCALE must be a positive number, not ${process.env.WEFT_P4_SCENARIO_SCALE}`);
  for (const scenario of SCENARIOS) {
    const files = scenarioFiles(scenario, scale);
    const policy = parsePolicy(files.policy, 'policy.yaml');
    const fabric = parseInventory(files.fabric, 'fabric.yaml');
    const ir = buildIr(policy, fabric);
    const leaves = place(policy, fabric, ir).devices.filter((d) => d.target === 'p4');
    const k = `${scenario}@${scale}`;
    progress(`${k}: placed, ${leaves.length} P4 leaves`);
    let flat = 0;
    let acl = 0;
    let lpm = 0;
    let over = 0;
    const c0 = process.cpuUsage();
    for (const devicePlacement of leaves) {
      const plan = planProgram({ policy, ir, devicePlacement, fabric });
      flat = Math.max(flat, flatEntries(plan.bands));
      acl = Math.max(acl, plan.counts.acl);
      const largestLpm = Math.max(...CLASSIFIER_TABLES.map((t) => plan.counts.lpm[t]));
      lpm = Math.max(lpm, largestLpm);
      if (plan.counts.acl + CLOSING_ENTRIES > PIPELINE.size || CLASSIFIER_TABLES.some((t) => plan.counts.lpm[t] > PIPELINE.classifiers[t].size)) over++;
    }
    out[`${k}.p4Leaves`] = leaves.length;
    out[`${k}.maxLeaf.flat.aclEntries`] = flat;
    out[`${k}.maxLeaf.classes.aclEntries`] = acl;
    out[`${k}.maxLeaf.classes.lpmEntriesOneTable`] = lpm;
    out[`${k}.leavesOverProgramSize`] = over;
    out[`${k}.planCpuMsAllLeaves`] = Math.round(cpuMsSince(c0));
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const size of SIZES) {
    const policy = makePolicy(makeRng(size), size);
    const c0 = process.cpuUsage();
    const ir = buildIr(policy, FABRIC);
    progress(`zones${size}: IR built`);
    out[`zones${size}.irCpuMs`] = Math.round(cpuMsSince(c0));
    out[`zones${size}.naive.aclEntries`] = naiveEntries(policy);
    out[`zones${size}.naiveWithReplies.aclEntries`] = naiveEntries(policy, true);
    // Exact without known sources: the whole policy on the port, the like-for-like comparison with the naive expansion.
    measure(out, `zones${size}`, policy, ir);
  }
  // Overlapping label selectors (an address in many groups): where class covers can cost more than one bit per group.
  for (const rules of [200, 1_000]) {
    const { policy, fabric } = generateScenario(makeRng(rules), { rules, groups: Math.max(10, rules / 10), endpoints: rules * 2 });
    const ir = buildIr(policy, fabric);
    progress(`labels${rules}: IR built`);
    out[`labels${rules}.naive.aclEntries`] = naiveEntries(policy);
    out[`labels${rules}.naiveWithReplies.aclEntries`] = naiveEntries(policy, true);
    measure(out, `labels${rules}`, policy, ir);
  }
  measureScenarios(out);
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  console.log(JSON.stringify(await run(), null, 1));
}
