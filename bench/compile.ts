// Compile benchmark: every phase of a compile (parse, identities, rules and
// their analysis, placement, per-device codegen, write) on data-center sized
// inputs: the three shapes of bench/scenarios.ts and today's scenario below
// (10,000 rules over 100,000 endpoints on a 1,000-device fabric). Each
// scenario compiles in its own child process so its peak RSS is its own.
// Hosts and DPUs are measured on their shares (ir/share.ts, what their
// codegen reads: cells per device); switches run their real codegen. Then a
// cold `weft explain` (IR, placement, one answer). Run alone:
//   node bin/run-ts.js bench/compile.ts [SCENARIO...]

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join, resolve, dirname } from 'node:path';
import { InputError, type SourceSpan } from '../orchestrator/diagnostics.ts';
import type { GroupDef, Policy, PortMatch, Rule } from '../orchestrator/policy/model.ts';
import type { Device, Endpoint, Fabric, Link } from '../inventory/model.ts';
import type { IpAddr } from '../orchestrator/net/ip.ts';
import { buildIr } from '../orchestrator/ir/build.ts';
import { buildIdentities } from '../orchestrator/identity/build.ts';
import { analyze } from '../orchestrator/analysis/analyze.ts';
import { policyFacts } from '../orchestrator/analysis/facts.ts';
import { checkShareBudget } from '../orchestrator/ir/budget.ts';
import { irToJson } from '../orchestrator/ir/json.ts';
import { shareCells } from '../orchestrator/ir/share.ts';
import { Explainer } from '../orchestrator/explain/explain.ts';
import { place } from '../orchestrator/placement/place.ts';
import { loadPolicy } from '../orchestrator/policy/load.ts';
import { loadInventory } from '../inventory/load.ts';
import { targetFor } from '../targets/registry.ts';
import { scenarioToYaml, shapeYaml, type Shape } from './scenarios.ts';
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

function inputFiles(scenario: Scenario): { policy: string; fabric: string } {
  if (scenario === 'today') {
    const { policy, fabric } = benchScenario(DEFAULTS);
    return scenarioToYaml(policy, fabric);
  }
  return shapeYaml(scenario satisfies Shape);
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Compiles one scenario in this process and reports; called in the child. */
async function compileHere(scenario: Scenario): Promise<Record<string, unknown>> {
  const work = mkdtempSync(join(tmpdir(), `weft-bench-compile-${process.pid}-`));
  try {
    const files = inputFiles(scenario);
    const policyPath = join(work, 'policy.yaml');
    const fabricPath = join(work, 'fabric.yaml');
    writeFileSync(policyPath, files.policy);
    writeFileSync(fabricPath, files.fabric);
    const phase: Record<string, number> = {};
    const t0 = performance.now();
    let t = t0;
    const lap = (name: string): void => {
      const now = performance.now();
      phase[name] = Math.round(now - t);
      process.stderr.write(`bench compile ${scenario}: ${name} ${phase[name]} ms\n`);
      t = now;
    };
    const policy = loadPolicy(policyPath);
    const fabric = loadInventory(fabricPath);
    lap('parse');
    const table = buildIdentities(policy, fabric);
    lap('identities');
    const ir = buildIr(policy, fabric, table);
    const diagnostics = analyze(policy, fabric, ir);
    const facts = policyFacts(ir);
    lap('rules');
    const placement = place(policy, fabric, ir);
    lap('placement');

    const byName = new Map(fabric.devices.map((d) => [d.name, d]));
    const perTarget = new Map<string, number[]>();
    const refused: Record<string, number> = {};
    const artefacts: { device: string; path: string; content: string | Uint8Array }[] = [];
    for (const dp of placement.devices) {
      const device = byName.get(dp.device)!;
      checkShareBudget(ir, device, dp.localIdentities);
      let entries: number;
      if (dp.target === 'host' || dp.target === 'dpu') {
        entries = 0;
        for (const dir of ['egress', 'ingress'] as const) for (const _ of shareCells(ir, dp.localIdentities, dir)) entries++;
      } else {
        try {
          const out = await targetFor(device).codegen({ policy, fabric, ir, placement, device, devicePlacement: dp });
          entries = out.stats.entries ?? 0;
          for (const f of out.files) artefacts.push({ device: device.name, ...f });
        } catch (e) {
          // A switch the policy does not fit is refused cleanly (exit 2 in `weft compile`): count it and go on.
          if (!(e instanceof InputError)) throw e;
          refused[e.diagnostics[0]?.code ?? 'input-error'] = (refused[e.diagnostics[0]?.code ?? 'input-error'] ?? 0) + 1;
          continue;
        }
      }
      const l = perTarget.get(dp.target) ?? [];
      l.push(entries);
      perTarget.set(dp.target, l);
    }
    lap('codegen');
    const out = join(work, 'out');
    mkdirSync(out);
    writeFileSync(join(out, 'ir.json'), `${JSON.stringify(irToJson(ir))}\n`);
    writeFileSync(join(out, 'placement.json'), `${JSON.stringify(placement)}\n`);
    for (const a of artefacts) {
      mkdirSync(join(out, a.device), { recursive: true });
      writeFileSync(join(out, a.device, a.path), a.content);
    }
    lap('write');
    const wallMs = Math.round(performance.now() - t0);

    // Cold explain, parse excluded: the IR, placement and one answer, as `weft explain` does.
    const e0 = performance.now();
    const ir2 = buildIr(policy, fabric);
    const explainer = new Explainer(policy, fabric, ir2, place(policy, fabric, ir2));
    const ep = fabric.endpoints;
    const answer = explainer.explain({ src: ep[0].addresses[0], dst: ep[ep.length - 1].addresses[0], proto: 6, sport: 40000, dport: 443 });
    const explainMs = Math.round(performance.now() - e0);

    const entries: Record<string, { devices: number; max: number; median: number; total: number }> = {};
    for (const [target, l] of [...perTarget].sort()) entries[target] = { devices: l.length, max: Math.max(...l), median: median(l), total: l.reduce((a, b) => a + b, 0) };
    return {
      scenario,
      rules: policy.rules.length,
      endpoints: fabric.endpoints.length,
      devices: fabric.devices.length,
      identities: ir.identities.length,
      lpmEntries: ir.lpm.length,
      rulesAfterAnalysis: facts.exact ? facts.rules.filter((f) => f.wins).length : `${policy.rules.length} (analysis skipped)`,
      analysis: facts.stats,
      warnings: diagnostics.length,
      wallMs,
      wallMsWithoutParse: wallMs - phase.parse,
      phaseMs: phase,
      entriesPerDevice: entries,
      refusedDevices: refused,
      explainColdMs: explainMs,
      explainParseMs: phase.parse,
      explainVerdict: answer.verdict,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function runChild(scenario: Scenario): Promise<Record<string, unknown>> {
  const here = fileURLToPath(import.meta.url);
  const runner = resolve(dirname(here), '../bin/run-ts.js');
  const child = spawn(process.execPath, ['--max-old-space-size=4096', runner, here, '--child', scenario], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((res) => child.on('close', res));
  if (code !== 0) return { scenario, error: `child exited with ${code}` };
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
}

export async function run(only: readonly Scenario[] = SCENARIOS): Promise<Record<string, unknown>> {
  const figures: Record<string, unknown> = {};
  for (const s of only) figures[s] = await runChild(s);
  return figures;
}

const invokedAs = process.argv[1] ? resolve(process.argv[1]) : '';
if (invokedAs === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--child') {
    process.stdout.write(`${JSON.stringify(await compileHere(process.argv[3] as Scenario))}\n`);
  } else {
    const picked = process.argv.slice(2).filter((a): a is Scenario => (SCENARIOS as readonly string[]).includes(a));
    console.log(JSON.stringify(await run(picked.length ? picked : SCENARIOS), null, 2));
  }
}
