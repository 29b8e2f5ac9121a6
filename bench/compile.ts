// Compile benchmark: identities + IR for a data-center sized policy (10,000
// rules over 100,000 endpoints on a 1,000-device fabric). The compile runs in
// a child process so its peak RSS is its own. Run alone:
//   node bin/run-ts.js bench/compile.ts [--any-to-any]
// --any-to-any adds one rule over `any` on both sides, the worst case of the
// cell model: one cell per pair of identities.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolve, dirname } from 'node:path';
import type { SourceSpan } from '../orchestrator/diagnostics.ts';
import type { GroupDef, Policy, PortMatch, Rule } from '../orchestrator/policy/model.ts';
import type { Device, Endpoint, Fabric, Link } from '../inventory/model.ts';
import type { IpAddr } from '../orchestrator/net/ip.ts';
import { buildIr } from '../orchestrator/ir/build.ts';
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
    else ep.attach = { device: `leaf${rng.int(0, switches - 1)}`, port: `eth${100 + i}` };
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

/** Compiles in this process and reports; called in the child. */
function compileHere(o: CompileBenchOptions): Record<string, unknown> {
  const { policy, fabric } = benchScenario(o);
  const inputRssMiB = process.memoryUsage().rss / 2 ** 20;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const ir = buildIr(policy, fabric);
  const cpu = process.cpuUsage(c0);
  const wallMs = performance.now() - t0;
  return {
    rules: policy.rules.length,
    endpoints: fabric.endpoints.length,
    devices: fabric.devices.length,
    groups: policy.groups.size,
    identities: ir.identities.length,
    lpmEntries: ir.lpm.length,
    wallMs: Math.round(wallMs),
    // CPU time of the compile: wall time swings with other load on the box.
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    inputRssMiB: Math.round(inputRssMiB),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

export async function run(opts: Partial<CompileBenchOptions> = {}): Promise<Record<string, unknown>> {
  const o = { ...DEFAULTS, ...opts };
  const here = fileURLToPath(import.meta.url);
  const runner = resolve(dirname(here), '../bin/run-ts.js');
  const child = spawn(process.execPath, ['--max-old-space-size=4096', runner, here, '--child', JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((res) => child.on('close', res));
  if (code !== 0) throw new Error(`compile bench child exited with ${code}`);
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
}

const invokedAs = process.argv[1] ? resolve(process.argv[1]) : '';
if (invokedAs === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--child') {
    process.stdout.write(`${JSON.stringify(compileHere(JSON.parse(process.argv[3]) as CompileBenchOptions))}\n`);
  } else {
    console.log(JSON.stringify(await run({ anyToAny: process.argv.includes('--any-to-any') }), null, 2));
  }
}
