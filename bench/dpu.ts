// DPU benchmark (`npm run bench -- dpu`):
//   - per profile at 10 / 1,000 / 10,000 / 100,000 rules (bench/host-policy.ts
//     policies, a DPU in front of the bench host): the program's instruction
//     count (nfp/generic: offload.bpf.o built for that share; bluefield: the
//     host datapath's TC program), NIC map memory, and ns per packet in
//     BPF_PROG_TEST_RUN for an allowed and a denied packet (median of
//     rounds); nfp at its declared 16,384 entries holds the whole share, the
//     deny set only, or refuses, and says which;
//   - the share of denied packets dropped at the NIC on the example fabric
//     (its DPU as each profile) and on a large generated scenario
//     (bench/scenarios.ts), from the artefacts' interpreters on generated
//     packets (the kernel tests hold the programs to those interpreters).

import { readFileSync } from 'node:fs';
import type { Device, DpuProfile, Fabric } from '../inventory/model.ts';
import { parseInventory } from '../inventory/load.ts';
import { InputError } from '../orchestrator/diagnostics.ts';
import { buildIr } from '../orchestrator/ir/build.ts';
import { parseIp } from '../orchestrator/net/ip.ts';
import type { Policy } from '../orchestrator/policy/model.ts';
import { parsePolicy } from '../orchestrator/policy/load.ts';
import { packagePath } from '../orchestrator/package-root.ts';
import type { Flow } from '../orchestrator/flow.ts';
import { buildPrefilter } from '../targets/dpu/build.ts';
import { DPU_MAP } from '../targets/dpu/abi.ts';
import { FlowerTable, flowerRules } from '../targets/dpu/flower.ts';
import { closePrefilter, loadPrefilter } from '../targets/dpu/loader.ts';
import { framePacket, streamPackets } from '../targets/dpu/packets.ts';
import { buildOf, prefilterArtefacts, prefilterShare, TABLE_LAYOUT, TABLE_MAPS, type PrefilterDir } from '../targets/dpu/prefilter.ts';
import { PROFILES } from '../targets/dpu/profiles.ts';
import { PrefilterSemantics } from '../targets/dpu/semantics.ts';
import { buildObject } from '../targets/host/build.ts';
import { TestRunner } from '../targets/host/libbpf.ts';
import { activate, closeObject, loadObject, MAP_CONCERNS, mapMemory, writeSlot } from '../targets/host/loader.ts';
import { decodeRecords } from '../targets/host/records.ts';
import { artefactRecords, computeShare, shareArtefacts } from '../targets/host/share.ts';
import { BENCH_HOST, benchFabric, benchPolicy, remoteOf } from './host-policy.ts';
import { shapeYaml } from './scenarios.ts';

const SIZES = [10, 1_000, 10_000, 100_000];
const REPEAT = 100_000;
const ROUNDS = 5;
const XDP_DROP = 1;
const TC_ACT_SHOT = 2;
const SHARE_PACKETS = 50_000;
const span = { file: 'bench', line: 1, col: 1 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timed(runner: TestRunner, pkt: Buffer): number {
  runner.run(pkt, 1000);
  return median(Array.from({ length: ROUNDS }, () => runner.run(pkt, REPEAT).durationNs));
}

/** Instructions of an ELF section (8 bytes each), found by name in the section header table. */
function sectionInstructions(elf: Buffer, name: string): number {
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const strtab = shoff + elf.readUInt16LE(0x3e) * shentsize;
  const strOff = Number(elf.readBigUInt64LE(strtab + 0x18));
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * shentsize;
    const at = strOff + elf.readUInt32LE(h);
    if (elf.toString('latin1', at, elf.indexOf(0, at)) === name) return Number(elf.readBigUInt64LE(h + 0x20)) / 8;
  }
  throw new Error(`no section ${name}`);
}

function dpuOf(profile: DpuProfile, host: string, capacity?: number): Device {
  return { name: `dpu-${profile}`, kind: 'dpu', profile, attachedTo: host, mgmt: {}, capacity: capacity ? { aclEntries: capacity } : undefined, labels: {}, span };
}

/** The bench packets: an allowed and a denied new TCP flow towards the bench host (host-policy.ts: even rules allow). */
function flows(n: number): { allow: Flow; deny: Flow } {
  const at = (i: number): Flow => ({ src: { family: 4, value: remoteOf(i).addr }, dst: parseIp(`192.168.0.${10 + (i % 4)}`)!, proto: 6, sport: 40000, dport: remoteOf(i).port });
  const mid = Math.floor(n / 2) & ~1;
  return { allow: at(mid), deny: at(mid + 1) };
}

/** In-memory form of a share's record tables, as readPrefilterDir gives them from disk. */
function inMemory(share: ReturnType<typeof prefilterShare>): PrefilterDir {
  const art = prefilterArtefacts(share);
  const tables = Object.fromEntries(TABLE_MAPS.map((m) => [m, decodeRecords(art.records[m], TABLE_LAYOUT[m].key, TABLE_LAYOUT[m].value, m)])) as PrefilterDir['tables'];
  return { maps: art.maps, tables, share };
}

async function prefilterAt(profile: 'nfp' | 'generic', n: number, fabric: Fabric, policy: Policy): Promise<Record<string, unknown>> {
  const dpu = dpuOf(profile, BENCH_HOST);
  const f = { ...fabric, devices: [...fabric.devices, dpu] };
  let share;
  try {
    share = prefilterShare(buildIr(policy, f), f, dpu);
  } catch (e) {
    if (e instanceof InputError) return { [`${profile}_${n}`]: `refused: ${e.diagnostics[0].code} (capacity ${PROFILES[profile].defaultEntries})` };
    throw e;
  }
  const object = await buildPrefilter(buildOf(share));
  const p = loadPrefilter(object, inMemory(share));
  try {
    const run = new TestRunner(p.prog);
    const { allow, deny } = flows(n);
    const pass = framePacket(allow, false);
    const drop = framePacket(deny, false);
    if (run.run(pass).retval === XDP_DROP) throw new Error(`${profile} at ${n} rules dropped the allowed bench packet`);
    const dropped = run.run(drop).retval === XDP_DROP;
    let memory = 0;
    for (const c of Object.keys(DPU_MAP) as (keyof typeof DPU_MAP)[]) memory += mapMemory(p.fds[c]);
    return {
      [`${profile}_${n}_scope`]: share.scope,
      [`${profile}_${n}_instructions`]: sectionInstructions(readFileSync(object), 'xdp'),
      [`${profile}_${n}_nic_entries`]: share.id4.length + share.policy.length,
      [`${profile}_${n}_map_bytes`]: memory,
      [`${profile}_${n}_pass_ns`]: timed(run, pass),
      [`${profile}_${n}_denied_packet`]: dropped ? 'dropped' : 'passed',
      [`${profile}_${n}_drop_ns`]: timed(run, drop),
    };
  } finally {
    closePrefilter(p);
  }
}

async function bluefieldAt(n: number, fabric: Fabric, policy: Policy): Promise<Record<string, unknown>> {
  const dpu = dpuOf('bluefield', BENCH_HOST);
  const f = { ...fabric, devices: [...fabric.devices, dpu] };
  const share = computeShare(buildIr(policy, f), f, dpu);
  const object = await buildObject();
  // TEST_RUN repeats on one skb: the seen mark off, so every repeat takes the full lookup path.
  const m = loadObject(object, { sizes: share.maxEntries, statsStride: share.statsStride, seenMark: 0 });
  try {
    writeSlot(m, 0, artefactRecords(shareArtefacts(share)));
    activate(m, 0, 1);
    const tc = new TestRunner(m.progs.tc);
    const { allow, deny } = flows(n);
    const pass = framePacket(allow, false);
    const drop = framePacket(deny, false);
    if (tc.run(drop).retval !== TC_ACT_SHOT) throw new Error(`bluefield at ${n} rules passed the denied bench packet`);
    let memory = 0;
    for (const c of MAP_CONCERNS) memory += mapMemory(m.fds[c]);
    const plan = flowerRules(share, PROFILES.bluefield.eswitchRules!);
    return {
      [`bluefield_${n}_instructions`]: sectionInstructions(readFileSync(object), 'tc'),
      [`bluefield_${n}_map_bytes`]: memory,
      [`bluefield_${n}_pass_ns`]: timed(tc, pass),
      [`bluefield_${n}_drop_ns`]: timed(tc, drop),
      [`bluefield_${n}_flower_rules`]: `${plan.rules.length}${plan.complete ? '' : ' (cut at capacity)'}`,
    };
  } finally {
    closeObject(m);
  }
}

/** Denied packets to or from the endpoints behind the DPU, and the share of them its NIC drops (interpreters). */
function nicShare(policy: Policy, fabric: Fabric, dpu: Device): string {
  const ir = buildIr(policy, fabric);
  let denied = 0;
  let dropped = 0;
  if (dpu.profile === 'bluefield') {
    const share = computeShare(ir, fabric, dpu, { slotLimit: Number.MAX_SAFE_INTEGER });
    const table = new FlowerTable(flowerRules(share, PROFILES.bluefield.eswitchRules!).rules);
    const local = new Set(share.localAddresses.map((a) => `${a.family}|${a.value}`));
    streamPackets({ policy, fabric }, share.localAddresses, { packets: SHARE_PACKETS, seed: 1 }, (f, want) => {
      if (want !== 'deny' || !local.has(`${f.src.family}|${f.src.value}`)) return;
      denied++;
      if (table.decide(f) === 'drop') dropped++;
    });
    return `${((100 * dropped) / Math.max(1, denied)).toFixed(1)}% of ${denied} denied packets leaving the host (flower)`;
  }
  let share;
  try {
    share = prefilterShare(ir, fabric, dpu);
  } catch (e) {
    if (e instanceof InputError) return `refused: ${e.diagnostics[0].code}`;
    throw e;
  }
  const nic = new PrefilterSemantics(share);
  streamPackets({ policy, fabric }, share.localAddresses, { packets: SHARE_PACKETS, seed: 1 }, (f, want, local, ack) => {
    if (want !== 'deny' || !local) return;
    denied++;
    if (nic.decide(f, ack).action === 'drop') dropped++;
  });
  return `${((100 * dropped) / Math.max(1, denied)).toFixed(1)}% of ${denied} denied packets (${share.scope})`;
}

function withProfile(fabric: Fabric, name: string, profile: DpuProfile): { fabric: Fabric; dpu: Device } {
  const dpu = { ...fabric.devices.find((d) => d.name === name)!, profile };
  return { fabric: { ...fabric, devices: fabric.devices.map((d) => (d.name === name ? dpu : d)) }, dpu };
}

export async function run(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const fabric = benchFabric();
  for (const n of SIZES) {
    const policy = benchPolicy(n);
    for (const profile of ['nfp', 'generic'] as const) Object.assign(out, await prefilterAt(profile, n, fabric, policy));
    Object.assign(out, await bluefieldAt(n, fabric, policy));
  }

  const example = {
    policy: parsePolicy(readFileSync(packagePath('examples', 'policy.yaml'), 'utf8'), 'examples/policy.yaml'),
    fabric: parseInventory(readFileSync(packagePath('examples', 'fabric.yaml'), 'utf8'), 'examples/fabric.yaml'),
  };
  const exampleDpu = example.fabric.devices.find((d) => d.kind === 'dpu' || d.kind === 'smartnic')!;
  for (const profile of ['nfp', 'generic', 'bluefield'] as const) {
    const v = withProfile(example.fabric, exampleDpu.name, profile);
    out[`example_${profile}_nic_dropped`] = nicShare(example.policy, v.fabric, v.dpu);
  }

  // A large generated scenario: 2,000 rules over 20,000 endpoints on 300 devices (bench/scenarios.ts, catch-all shape).
  const large = shapeYaml('catch-all', { rules: 2_000, endpoints: 20_000, devices: 300, apps: 400, teams: 20, seed: 1 });
  const lp = parsePolicy(large.policy, 'generated/policy.yaml');
  const lf = parseInventory(large.fabric, 'generated/fabric.yaml');
  const largeDpu = lf.devices.find((d) => d.kind === 'dpu')!;
  for (const profile of ['nfp', 'generic', 'bluefield'] as const) {
    const v = withProfile(lf, largeDpu.name, profile);
    out[`large_${profile}_nic_dropped`] = nicShare(lp, v.fabric, v.dpu);
  }
  return out;
}
