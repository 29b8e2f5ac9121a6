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
// uplink and one port that is exact (the whole policy) or prefilter.
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
import { bandMatches, buildAclEntries, buildBands, numberBands, ServiceMatches, type P4Band } from '../targets/p4/codegen.ts';
import { AddressClasses, setKey, type SideLabels, type SideMatch } from '../targets/p4/classes.ts';
import { CLASSIFIER_TABLES } from '../targets/p4/p4info.ts';
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

function naiveEntries(policy: Policy): number {
  let total = 0;
  for (const r of policy.rules) {
    const ports = r.ports.reduce((n, p) => n + (p.protocol === 'tcp' || p.protocol === 'udp' ? rangeTernaries(p.lo, p.hi, 16).length : 1), 0);
    for (const family of [4, 6] as const) {
      const count = (refs: PeerRef[]) => refs.reduce((n, p) => n + naiveGroupPrefixes(p.kind === 'any' ? undefined : policy.groups.get(p.name), family), 0);
      total += count(r.from) * count(r.to) * ports;
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

/** Entries per table for one policy on one switch, exact and prefilter, in every encoding. */
function measure(out: Record<string, unknown>, name: string, policy: Policy, ir: ReturnType<typeof buildIr>): void {
  for (const mode of ['exact', 'prefilter'] as const) {
    const input = { policy, ir, devicePlacement: placement(mode, ir) };
    const t0 = performance.now();
    const program = buildAclEntries(input);
    const t1 = performance.now();
    const { bands } = buildBands(input);
    const bits = { src: new GroupBits(bands.map((b) => b.rule.src)), dst: new GroupBits(bands.map((b) => b.rule.dst)) };
    const expand = new ServiceMatches();
    const k = `${name}.${mode}`;
    out[`${k}.flat.aclEntries`] = flatEntries(bands);
    out[`${k}.classes.aclEntries`] = program.entries.length;
    out[`${k}.classes.lpmEntries`] = program.classes.length;
    for (const t of CLASSIFIER_TABLES) out[`${k}.classes.${t}`] = program.classes.filter((c) => c.table === t).length;
    out[`${k}.classes.classIds`] = `${program.stats.srcClasses}+${program.stats.dstClasses}`;
    out[`${k}.classes.layeredSets`] = `${program.stats.srcLayered}+${program.stats.dstLayered}`;
    out[`${k}.classes.layerBits`] = `${program.stats.srcLayerBits}+${program.stats.dstLayerBits}`;
    out[`${k}.bits.aclEntries`] = bands.reduce((n, b) => n + bandMatches(b, bits, expand).length, 0);
    // Class ids alone (no layers), and layers twice as wide (a 128-bit label).
    for (const [variant, budget] of [
      ['classIdsOnly', 0],
      ['layers112', 112],
    ] as const) {
      const src = bands.map((b) => b.rule.src);
      const dst = bands.map((b) => b.rule.dst);
      out[`${k}.${variant}.aclEntries`] = numberBands(bands, { src: new AddressClasses(src, 'bench', budget), dst: new AddressClasses(dst, 'bench', budget) }).length;
    }
    out[`${k}.bits.labelBits`] = `${bits.src.bit.size}+${bits.dst.bit.size}`;
    out[`${k}.codegenMs`] = Math.round(t1 - t0);
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const size of SIZES) {
    const policy = makePolicy(makeRng(size), size);
    const t0 = performance.now();
    const ir = buildIr(policy, FABRIC);
    out[`zones${size}.irMs`] = Math.round(performance.now() - t0);
    out[`zones${size}.naive.aclEntries`] = naiveEntries(policy);
    // Exact without known sources: the whole policy on the port, the like-for-like comparison with the naive expansion.
    measure(out, `zones${size}`, policy, ir);
  }
  // Overlapping label selectors (an address in many groups): where class covers can cost more than one bit per group.
  for (const rules of [200, 1_000]) {
    const { policy, fabric } = generateScenario(makeRng(rules), { rules, groups: Math.max(10, rules / 10), endpoints: rules * 2 });
    const ir = buildIr(policy, fabric);
    out[`labels${rules}.naive.aclEntries`] = naiveEntries(policy);
    measure(out, `labels${rules}`, policy, ir);
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  console.log(JSON.stringify(await run(), null, 1));
}
