// Compile benchmark: `weft compile` itself (compileBundle, the same code
// path as the CLI: artefacts streamed to disk device by device) on
// data-center sized inputs: the three shapes of bench/scenarios.ts and
// today's scenario below (10,000 rules over 100,000 endpoints on a
// 1,000-device fabric). Each scenario compiles in its own child process so
// its peak RSS is its own; the child reports each phase's wall and CPU time
// as it ends, so a compile cut short by the time limit still shows where
// the time went. Per device: entries (max and median per target) and the
// devices refused, with why. Then a cold `weft explain` on the same files
// (bench/explain.ts), and a recompile after a one-rule edit into the bundle
// just written (a new `weft compile` process too; devices the edit did not
// reach keep their artefacts). Run alone:
//   node bin/run-ts.js bench/compile.ts [SCENARIO...] [--scale 0.1] [--limit-s 600] [--leaves openconfig]
// --leaves openconfig makes every P4 leaf an OpenConfig one, for scenarios
// whose P4 leaves are refused (no bundle is written, so nothing to recompile).
// --scale shrinks rules, endpoints and devices for exploratory runs; the
// figures to report are those at scale 1. Codegen uses every core unless
// WEFT_COMPILE_THREADS says otherwise (=1: one thread, for a side-by-side).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join, resolve, dirname } from 'node:path';
import { InputError, type SourceSpan } from '../orchestrator/diagnostics.ts';
import type { GroupDef, Policy, PortMatch, Rule } from '../orchestrator/policy/model.ts';
import type { Device, Endpoint, Fabric, Link } from '../inventory/model.ts';
import type { IpAddr } from '../orchestrator/net/ip.ts';
import { compileBundle, type DeviceTiming, type PhaseTiming } from '../orchestrator/compile/driver.ts';
import { compileThreads, workersFor } from '../orchestrator/compile/codegen-pool.ts';
import { buildIr } from '../orchestrator/ir/build.ts';
import { explainOnce, runWeft } from './explain.ts';
import { ensureDistCurrent } from '../test/build-dist.ts';
import { place } from '../orchestrator/placement/place.ts';
import { compactPlacement } from '../orchestrator/placement/compact.ts';
import { winningRules } from '../orchestrator/analysis/facts.ts';
import { loadPolicy } from '../orchestrator/policy/load.ts';
import { loadInventory } from '../inventory/load.ts';
import { scenarioToYaml, shapeYaml, SHAPE_DEFAULTS, type Shape } from './scenarios.ts';
import { makeRng, type Rng } from '../orchestrator/testing/generate.ts';

export interface CompileBenchOptions {
  rules: number;
  endpoints: number;
  devices: number;
  apps: number;
  seed: number;
  /** Add one `any` to `any` rule (ping everywhere): every pair of identities gets a cell. */
  anyToAny: boolean;
}

const DEFAULTS: CompileBenchOptions = { rules: 10_000, endpoints: 100_000, devices: 1_000, apps: 400, seed: 1, anyToAny: false };
const TIERS = ['web', 'app', 'db'];
const ENVS = ['prod', 'stage', 'dev'];
const PORTS = [80, 443, 8080, 8443, 5432, 3306, 6379, 9092, 2379, 11211, 27017, 9200];

function at(file: string, line: number): SourceSpan {
  return { file, line, col: 1 };
}

/**
 * A realistic large fabric: apps live in their own /18 (their IPv6 twin in
 * their own /64), tiers and environments are labels; zones are /12 CIDR
 * groups with holes; most rules are app-to-app service rules.
 */
export function benchScenario(o: CompileBenchOptions): { policy: Policy; fabric: Fabric } {
  const rng: Rng = makeRng(o.seed);
  const FF = 'bench/fabric.yaml';
  const PF = 'bench/policy.yaml';
  const switches = Math.max(1, Math.round(o.devices * 0.08));
  const dpus = Math.round(o.devices * 0.02);
  const hosts = o.devices - switches - dpus;
  const devices: Device[] = [];
  const links: Link[] = [];
  for (let i = 0; i < switches; i++) {
    devices.push({ name: `leaf${i}`, kind: 'switch', pipeline: i % 2 ? 'openconfig' : 'p4', mgmt: {}, labels: {}, span: at(FF, devices.length + 1) });
  }
  for (let i = 0; i < hosts; i++) {
    devices.push({ name: `host${i}`, kind: 'host', mgmt: {}, labels: {}, span: at(FF, devices.length + 1) });
    links.push({ a: { device: `host${i}`, port: 'eth1' }, b: { device: `leaf${i % switches}`, port: `eth${1 + Math.floor(i / switches)}` }, span: at(FF, 0) });
  }
  for (let i = 0; i < dpus; i++) {
    devices.push({ name: `dpu${i}`, kind: 'dpu', profile: 'bluefield', attachedTo: `host${i}`, mgmt: {}, labels: {}, span: at(FF, devices.length + 1) });
  }
  const endpoints: Endpoint[] = [];
  const perApp = new Int32Array(o.apps);
  const edgePorts = new Int32Array(switches);
  for (let i = 0; i < o.endpoints; i++) {
    const app = rng.int(0, o.apps - 1);
    const n = perApp[app]++;
    const addresses: IpAddr[] = [{ family: 4, value: 0x0a000000n + (BigInt(app) << 14n) + BigInt(n + 1) }];
    if (rng.chance(0.2)) addresses.push({ family: 6, value: (0xfd00n << 112n) | (BigInt(app) << 64n) | BigInt(n + 1) });
    const ep: Endpoint = {
      name: `ep${i}`,
      addresses,
      labels: { app: `app${app}`, tier: rng.pick(TIERS), env: rng.pick(ENVS) },
      span: at(FF, devices.length + i + 1),
    };
    if (rng.chance(0.9)) ep.host = `host${rng.int(0, hosts - 1)}`;
    else {
      // Port numbers stay within what a P4 pipeline addresses (0-510).
      const sw = rng.int(0, switches - 1);
      ep.attach = { device: `leaf${sw}`, port: `eth${100 + (edgePorts[sw]++ % 400)}` };
    }
    endpoints.push(ep);
  }
  const groups = new Map<string, GroupDef>();
  let line = 1;
  const group = (name: string, g: Omit<GroupDef, 'name' | 'span'>): void => {
    groups.set(name, { name, ...g, span: at(PF, line++) });
  };
  for (let a = 0; a < o.apps; a++) group(`app${a}`, { selector: { app: `app${a}` }, cidrs: [], except: [] });
  for (let a = 0; a < o.apps; a += 3) for (const t of TIERS) group(`app${a}-${t}`, { selector: { app: `app${a}`, tier: t }, cidrs: [], except: [] });
  for (const e of ENVS) group(`env-${e}`, { selector: { env: e }, cidrs: [], except: [] });
  for (const t of TIERS) for (const e of ENVS) group(`${t}-${e}`, { selector: { tier: t, env: e }, cidrs: [], except: [] });
  for (let z = 0; z < 16; z++) {
    const base = 0x0a000000n + (BigInt(z) << 20n);
    group(`zone${z}`, {
      cidrs: [{ family: 4, addr: base, len: 12 }],
      except: [{ family: 4, addr: base + (BigInt(rng.int(0, 15)) << 16n), len: 16 }],
    });
  }
  for (let z = 0; z < 8; z++) group(`zone6-${z}`, { cidrs: [{ family: 6, addr: (0xfd00n << 112n) | (BigInt(z * 64) << 64n), len: 58 }], except: [] });
  group('mgmt', { cidrs: [{ family: 4, addr: 0xac100000n, len: 12 }], except: [{ family: 4, addr: 0xac1f0000n, len: 16 }] });
  group('internet-blocklist', { cidrs: [{ family: 4, addr: 0xc6120000n, len: 15 }, { family: 4, addr: 0xcb007100n, len: 24 }], except: [] });

  const appGroup = (): string => {
    const a = rng.int(0, o.apps - 1);
    if (a % 3 === 0 && rng.chance(0.6)) return `app${a}-${rng.pick(TIERS)}`;
    return `app${a}`;
  };
  const rules: Rule[] = [];
  const rule = (from: string[], to: string[], ports: PortMatch[], action: 'allow' | 'deny'): void => {
    const index = rules.length;
    const peer = (n: string) => (n === 'any' ? { kind: 'any' as const } : { kind: 'group' as const, name: n, span: at(PF, line) });
    rules.push({ index, name: `rule${index}`, section: '', from: from.map(peer), to: to.map(peer), ports, action, log: false, span: at(PF, line++) });
  };
  const s = (): SourceSpan => at(PF, line);
  // Baseline: a few rules over `any` on one side.
  rule(['internet-blocklist'], ['any'], [], 'deny');
  rule(['mgmt'], ['any'], [{ protocol: 'tcp', lo: 22, hi: 22, span: s() }], 'allow');
  rule(['app0'], ['any'], [{ protocol: 'tcp', lo: 9100, hi: 9100, span: s() }, { protocol: 'icmp', type: 8, span: s() }], 'allow');
  rule(['any'], ['app1'], [{ protocol: 'udp', lo: 53, hi: 53, span: s() }, { protocol: 'tcp', lo: 53, hi: 53, span: s() }], 'allow');
  rule(['env-dev'], ['db-prod'], [], 'deny');
  if (o.anyToAny) rule(['any'], ['any'], [{ protocol: 'icmp', type: 8, span: s() }, { protocol: 'icmpv6', type: 128, span: s() }], 'allow');
  rule(['zone3'], ['zone4'], [{ protocol: 'tcp', lo: 0, hi: 1023, span: s() }], 'deny');
  while (rules.length < o.rules) {
    const from = rng.chance(0.8) ? [appGroup()] : [appGroup(), appGroup()];
    const to = [appGroup()];
    const ports: PortMatch[] = [];
    const n = rng.int(1, 3);
    for (let k = 0; k < n; k++) {
      const r = rng.next();
      if (r < 0.75) {
        const p = rng.pick(PORTS);
        ports.push({ protocol: 'tcp', lo: p, hi: p, span: s() });
      } else if (r < 0.9) {
        const lo = rng.pick([8000, 9000, 30000]);
        ports.push({ protocol: rng.chance(0.5) ? 'tcp' : 'udp', lo, hi: lo + rng.pick([99, 999]), span: s() });
      } else {
        ports.push({ protocol: 'icmp', type: 8, span: s() });
      }
    }
    rule(from, to, ports, rng.chance(0.85) ? 'allow' : 'deny');
  }
  const policy: Policy = { file: PF, name: 'bench', defaultAction: 'deny', groups, sections: [], rules, digest: 'bench' };
  const fabric: Fabric = { file: FF, name: 'bench', devices, links, endpoints, digest: 'bench' };
  return { policy, fabric };
}

export const SCENARIOS = ['today', 'correlated', 'catch-all', 'independent'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Rules, endpoints and devices times `scale` (at least 1 of each; the leaf-spine core keeps its size). */
function scaled(n: number, scale: number): number {
  return Math.max(1, Math.round(n * scale));
}

/** P4 leaves as generated, or all leaves OpenConfig (--leaves openconfig). */
export type Leaves = 'as-generated' | 'openconfig';

/** The scenario's policy and fabric as YAML, as `weft compile` reads them. */
export function scenarioFiles(scenario: Scenario, scale: number, leaves: Leaves = 'as-generated'): { policy: string; fabric: string } {
  const files = generatedFiles(scenario, scale);
  return leaves === 'openconfig' ? { ...files, fabric: files.fabric.replaceAll('pipeline: p4', 'pipeline: openconfig') } : files;
}

function generatedFiles(scenario: Scenario, scale: number): { policy: string; fabric: string } {
  if (scenario === 'today') {
    const { policy, fabric } = benchScenario({ ...DEFAULTS, rules: scaled(DEFAULTS.rules, scale), endpoints: scaled(DEFAULTS.endpoints, scale), devices: scaled(DEFAULTS.devices, scale) });
    return scenarioToYaml(policy, fabric);
  }
  const o = SHAPE_DEFAULTS;
  return shapeYaml(scenario satisfies Shape, { ...o, rules: scaled(o.rules, scale), endpoints: scaled(o.endpoints, scale), devices: Math.max(60, scaled(o.devices, scale)) });
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const cpuMsSince = (c: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(c);
  return Math.round((d.user + d.system) / 1000);
};

/** What the child sends the parent, one JSON line each, as it happens. */
type ChildEvent =
  | { event: 'phase'; phase: PhaseTiming }
  | { event: 'devices'; codegen: Record<string, { devices: number; refused: number; wallMs: number; maxEntries: number; medianEntries: number; totalEntries: number }>; refusedWhy: Record<string, number>; slowest: { device: string; wallMs: number }[] }
  | { event: 'done'; figures: Record<string, unknown> };

/** A device's table entries: what switch codegen counts, or the eBPF targets' address and policy tables. */
function deviceEntries(d: DeviceTiming): number {
  const s = d.stats;
  return s.entries ?? (s.id4Entries ?? 0) + (s.id6Entries ?? 0) + (s.policyEntries ?? 0);
}

/** Compiles one scenario in this process through compileBundle, streaming events to stdout; called in the child. */
async function compileHere(scenario: Scenario, scale: number, work: string, leaves: Leaves): Promise<void> {
  const send = (e: ChildEvent): void => void process.stdout.write(`${JSON.stringify(e)}\n`);
  const files = scenarioFiles(scenario, scale, leaves);
  const policyPath = join(work, 'policy.yaml');
  const fabricPath = join(work, 'fabric.yaml');
  writeFileSync(policyPath, files.policy);
  writeFileSync(fabricPath, files.fabric);
  const devices: DeviceTiming[] = [];
  const phases: PhaseTiming[] = [];
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let outcome = 'bundle written';
  try {
    await compileBundle({
      policyPath,
      inventoryPath: fabricPath,
      outDir: join(work, 'out'),
      onPhase: (phase) => {
        phases.push(phase);
        send({ event: 'phase', phase });
      },
      onDevice: (d) => devices.push(d),
    });
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    // Refused (a device over capacity, a share over budget): exit 2 in `weft compile`, nothing written.
    const codes = new Map<string, number>();
    for (const d of e.diagnostics) codes.set(d.code, (codes.get(d.code) ?? 0) + 1);
    outcome = `refused (exit 2): ${[...codes].map(([c, n]) => `${n} ${c}`).join(', ')}`;
  }
  const wallMs = Math.round(performance.now() - t0);
  const cpuMs = cpuMsSince(c0);
  const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);

  const codegen: Extract<ChildEvent, { event: 'devices' }>['codegen'] = {};
  const refusedWhy: Record<string, number> = {};
  for (const target of [...new Set(devices.map((d) => d.target))].sort()) {
    const mine = devices.filter((d) => d.target === target);
    const entries = mine.filter((d) => !d.refused).map(deviceEntries);
    codegen[target] = {
      devices: mine.length,
      refused: mine.filter((d) => d.refused).length,
      wallMs: mine.reduce((n, d) => n + d.wallMs, 0),
      maxEntries: entries.length ? Math.max(...entries) : 0,
      medianEntries: median(entries),
      totalEntries: entries.reduce((a, b) => a + b, 0),
    };
  }
  for (const d of devices) {
    for (const why of d.refused ?? []) {
      // "leaf0: the policy needs 11182 entries in p4 table weft_acl, ..." -> "capacity-exceeded: p4 table weft_acl"
      const what = /in (p4 table \S+|[a-z]+ acl[^,]*)/.exec(why.message)?.[1] ?? why.message.replace(/^\S+: /, '').slice(0, 80);
      const key = `${why.code}: ${what}`;
      refusedWhy[key] = (refusedWhy[key] ?? 0) + 1;
    }
  }
  const slowest = [...devices].sort((a, b) => b.wallMs - a.wallMs).slice(0, 3).map((d) => ({ device: d.device, wallMs: d.wallMs }));
  send({ event: 'devices', codegen, refusedWhy, slowest });

  // The figures below (identities, rules after analysis, placement) are read
  // again here, untimed: the compile keeps none of its intermediates.
  const policy = loadPolicy(policyPath);
  const fabric = loadInventory(fabricPath);
  const ir = buildIr(policy, fabric);
  const placement = place(policy, fabric, ir);
  send({
    event: 'done',
    figures: {
      outcome,
      rules: policy.rules.length,
      endpoints: fabric.endpoints.length,
      devices: fabric.devices.length,
      identities: ir.identities.length,
      lpmEntries: ir.lpm.length,
      compileWallMs: wallMs,
      compileCpuMs: cpuMs,
      compilePeakRssMiB: peakRssMiB,
      // Threads that ran codegen: this one and its workers.
      codegenThreads: 1 + workersFor(fabric.devices.length, compileThreads()),
      phases: Object.fromEntries(phases.map((p) => [p.phase, `${p.wallMs} ms wall, ${p.cpuMs} ms cpu`])),
      // Rules after analysis: those that decide some flow (a shadowed rule is placed nowhere).
      rulesWinning: winningRules(ir).size,
      placement: placementFigures(placement, join(work, 'out', 'placement.json')),
    },
  });
}

/** What placement.json holds: distinct points (each reason once), the per-side fragments rules refer to, and the points they expand to. */
function placementFigures(placement: ReturnType<typeof place>, file: string): Record<string, number> {
  const c = compactPlacement(placement);
  const expanded = c.rules.reduce((n, r) => n + (r.from >= 0 ? c.fragments[r.from].length : 0) + (r.to >= 0 ? c.fragments[r.to].length : 0), 0);
  return {
    distinctPoints: c.points.length,
    fragments: c.fragments.length,
    rulePoints: expanded,
    ...(existsSync(file) ? { fileMiB: Math.round((statSync(file).size / 2 ** 20) * 10) / 10 } : {}),
  };
}

/**
 * Runs one scenario in a child process, killed after `limitS` seconds; a
 * cut-short run reports the phases it finished. The parent owns the work
 * directory, so a killed child leaves nothing behind.
 */
async function runChild(scenario: Scenario, scale: number, limitS: number, leaves: Leaves): Promise<Record<string, unknown>> {
  const work = mkdtempSync(join(tmpdir(), `weft-bench-compile-${process.pid}-`));
  try {
    return await runChildIn(work, scenario, scale, limitS, leaves);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function runChildIn(work: string, scenario: Scenario, scale: number, limitS: number, leaves: Leaves): Promise<Record<string, unknown>> {
  const here = fileURLToPath(import.meta.url);
  const runner = resolve(dirname(here), '../bin/run-ts.js');
  const started = performance.now();
  const child = spawn(process.execPath, ['--max-old-space-size=4096', runner, here, '--child', scenario, String(scale), work, leaves], { stdio: ['ignore', 'pipe', 'inherit'] });
  const out: Record<string, unknown> = { scenario, scale, leaves };
  const phases: Record<string, string> = {};
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    buffered += d;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const e = JSON.parse(buffered.slice(0, nl)) as ChildEvent;
      buffered = buffered.slice(nl + 1);
      if (e.event === 'phase') {
        phases[e.phase.phase] = `${e.phase.wallMs} ms wall, ${e.phase.cpuMs} ms cpu`;
        process.stderr.write(`bench compile ${scenario}: ${e.phase.phase} ${phases[e.phase.phase]}\n`);
      } else if (e.event === 'devices') Object.assign(out, { codegenPerTarget: e.codegen, refusedWhy: e.refusedWhy, slowestDevices: e.slowest });
      else Object.assign(out, e.figures);
    }
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, limitS * 1000);
  const code = await new Promise<number | null>((res) => child.on('close', res));
  clearTimeout(timer);
  if (timedOut) return { ...out, error: `did not finish within ${limitS} s (wall); phases finished: ${Object.keys(phases).join(', ') || 'none'}`, phasesFinished: phases };
  if (code !== 0) return { ...out, error: `child exited with ${code} after ${Math.round((performance.now() - started) / 1000)} s`, phasesFinished: phases };
  // A cold `weft explain` on the same files, in a process of its own.
  const explainCold = explainOnce(work, readFileSync(join(work, 'fabric.yaml'), 'utf8'));
  return { ...out, explainCold, recompileOneRule: recompileOnce(work) };
}

/**
 * Edits one rule between two apps (its first port becomes 2999) and runs
 * `weft compile` again into the bundle just written, as a new process;
 * reports its wall and CPU time and the devices it reused.
 */
function recompileOnce(work: string): Record<string, unknown> {
  if (!existsSync(join(work, 'out', 'manifest.json'))) return { skipped: 'the first compile wrote no bundle (refused), so there is nothing to reuse' };
  const policyPath = join(work, 'policy.yaml');
  const lines = readFileSync(policyPath, 'utf8').split('\n');
  const at = lines.findIndex((l) => /from: \[app\d+\], to: \[app\d+\]/.test(l) && /port: "?\d+/.test(l));
  if (at < 0) return { skipped: 'no rule between two apps to edit' };
  const rule = /name: ([^,]+)/.exec(lines[at])?.[1];
  lines[at] = lines[at].replace(/port: "?\d+(-\d+)?"?/, 'port: 2999');
  writeFileSync(policyPath, lines.join('\n'));
  const r = runWeft(['compile', '--policy', policyPath, '--inventory', join(work, 'fabric.yaml'), '--out', join(work, 'out'), '--log-level', 'debug'], ['--max-old-space-size=4096'], 3600);
  if (r.status !== 0) return { rule, error: `weft compile exited ${r.status}: ${r.stderr.slice(-400)}` };
  const head = /\((\d+) devices(?:, (\d+) unchanged since the previous bundle)?\)/.exec(r.stdout);
  // Each phase's wall time, from the compile's own debug log.
  const phases: Record<string, number> = {};
  for (const line of r.stderr.split('\n')) {
    if (!line.includes('compile phase done')) continue;
    const e = JSON.parse(line) as { phase: string; ms: number };
    phases[e.phase] = e.ms;
  }
  return {
    rule,
    wallMs: r.wallMs,
    cpuMs: r.cpuMs,
    peakRssMiB: r.peakRssMiB,
    devices: Number(head?.[1] ?? 0),
    reused: Number(head?.[2] ?? 0),
    phasesWallMs: phases,
  };
}

export async function run(only: readonly Scenario[] = SCENARIOS, scale = 1, limitS = 600, leaves: Leaves = 'as-generated'): Promise<Record<string, unknown>> {
  ensureDistCurrent();
  const figures: Record<string, unknown> = {};
  for (const s of only) figures[s] = await runChild(s, scale, limitS, leaves);
  return figures;
}

const invokedAs = process.argv[1] ? resolve(process.argv[1]) : '';
if (invokedAs === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    await compileHere(args[1] as Scenario, Number(args[2]), args[3], args[4] as Leaves);
  } else {
    const option = (name: string, fallback: number): number => {
      const i = args.indexOf(name);
      const v = i >= 0 ? Number(args[i + 1]) : fallback;
      if (!(v > 0)) throw new Error(`${name} needs a positive number`);
      return v;
    };
    const picked = args.filter((a): a is Scenario => (SCENARIOS as readonly string[]).includes(a));
    const leaves = args.includes('--leaves') ? args[args.indexOf('--leaves') + 1] : 'as-generated';
    if (leaves !== 'as-generated' && leaves !== 'openconfig') throw new Error('--leaves takes openconfig');
    console.log(JSON.stringify(await run(picked.length ? picked : SCENARIOS, option('--scale', 1), option('--limit-s', 600), leaves), null, 2));
  }
}
