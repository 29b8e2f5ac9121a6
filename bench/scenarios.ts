// Data-center sized inputs for the compile benchmark, as the files a user
// writes: 10,000 rules in 4 sections over 100,000 endpoints on a 1,000-device
// leaf-spine fabric (4 spines, 50 leaves, the rest hosts, 1 host in 10 behind
// a DPU). Endpoint labels: app (2,000 values), env, tier, team (20 values);
// groups mix selectors with CIDRs that have except holes. Shapes:
//   independent: every label drawn on its own per endpoint (identities ~ endpoints);
//   correlated:  an app's team and tier fixed (a few identities per app);
//   catch-all:   correlated + `allow any -> any tcp/9100` + a final logged `deny any -> any`.
// No file of this module is a bench entry (it exports no run()).

import { formatCidr, formatIp } from '../orchestrator/net/ip.ts';
import type { Policy, PortMatch, PeerRef } from '../orchestrator/policy/model.ts';
import type { Fabric } from '../inventory/model.ts';
import { makeRng, type Rng } from '../orchestrator/testing/generate.ts';

export type Shape = 'independent' | 'correlated' | 'catch-all';

export interface ShapeOptions {
  rules: number;
  endpoints: number;
  devices: number;
  apps: number;
  teams: number;
  seed: number;
}

export const SHAPE_DEFAULTS: ShapeOptions = { rules: 10_000, endpoints: 100_000, devices: 1_000, apps: 2_000, teams: 20, seed: 1 };

const ENVS = ['prod', 'stage', 'dev'];
const TIERS = ['web', 'app', 'db', 'cache'];
const PORTS = [80, 443, 8080, 8443, 5432, 3306, 6379, 9092, 2379, 11211, 27017, 9200];
const SPINES = 4;
const LEAVES = 50;

/** Address of an app's n-th endpoint: each app owns a /19 of 10.0.0.0/8, so a zone (/12) holds whole apps. */
function v4Of(app: number, n: number): bigint {
  return 0x0a000000n + (BigInt(app) << 13n) + BigInt(n + 1);
}

export function shapeYaml(shape: Shape, o: ShapeOptions = SHAPE_DEFAULTS): { policy: string; fabric: string } {
  const rng = makeRng(o.seed);
  return { fabric: fabricYaml(shape, o, rng), policy: policyYaml(shape, o, rng) };
}

function fabricYaml(shape: Shape, o: ShapeOptions, rng: Rng): string {
  const out = ['apiVersion: weft.dev/v1', 'kind: Fabric', `metadata: {name: bench-${shape}}`, 'spec:', '  devices:'];
  const rest = o.devices - SPINES - LEAVES;
  const dpus = Math.floor(rest / 11);
  const hosts = rest - dpus;
  for (let i = 0; i < SPINES; i++) out.push(`    - {name: spine${i}, kind: switch, pipeline: openconfig, capacity: {aclEntries: 1000000}}`);
  for (let i = 0; i < LEAVES; i++) out.push(`    - {name: leaf${i}, kind: switch, pipeline: ${i % 2 ? 'openconfig' : 'p4'}, capacity: {aclEntries: 1000000}}`);
  for (let i = 0; i < hosts; i++) out.push(`    - {name: host${i}, kind: host}`);
  for (let i = 0; i < dpus; i++) out.push(`    - {name: dpu${i}, kind: dpu, profile: bluefield, attachedTo: host${i * 10}}`);
  out.push('  links:');
  for (let l = 0; l < LEAVES; l++) for (let s = 0; s < SPINES; s++) out.push(`    - {endpoints: ["leaf${l}:up${s}", "spine${s}:down${l}"]}`);
  for (let i = 0; i < hosts; i++) out.push(`    - {endpoints: ["host${i}:eth1", "leaf${i % LEAVES}:eth${1 + Math.floor(i / LEAVES)}"]}`);
  out.push('  endpoints:');
  const edge = new Int32Array(LEAVES);
  const perApp = new Int32Array(o.apps);
  const teamOf = (app: number) => app % o.teams;
  const tierOf = (app: number) => TIERS[(app >> 5) % TIERS.length];
  for (let i = 0; i < o.endpoints; i++) {
    const app = rng.int(0, o.apps - 1);
    const correlated = shape !== 'independent';
    const team = correlated ? teamOf(app) : rng.int(0, o.teams - 1);
    const tier = correlated ? tierOf(app) : rng.pick(TIERS);
    const addrs = [formatIp(4, v4Of(app, perApp[app]++))];
    if (rng.chance(0.2)) addrs.push(formatIp(6, (0xfd00n << 112n) | (BigInt(app) << 64n) | BigInt(i + 1)));
    let where: string;
    if (rng.chance(0.95)) where = `host: host${rng.int(0, hosts - 1)}`;
    else {
      // Unmanaged boxes share a few edge ports per leaf (P4 ports are 0-510).
      const leaf = rng.int(0, LEAVES - 1);
      where = `attach: "leaf${leaf}:eth${200 + (edge[leaf]++ % 300)}"`;
    }
    out.push(`    - {name: ep${i}, ${where}, addresses: [${addrs.map((a) => `"${a}"`).join(', ')}], labels: {app: a${app}, env: ${rng.pick(ENVS)}, tier: ${tier}, team: t${team}}}`);
  }
  return `${out.join('\n')}\n`;
}

function policyYaml(shape: Shape, o: ShapeOptions, rng: Rng): string {
  const out = ['apiVersion: weft.dev/v1', 'kind: Policy', `metadata: {name: bench-${shape}}`, 'spec:', '  defaultAction: deny', '  groups:'];
  for (let a = 0; a < o.apps; a++) out.push(`    app${a}: {selector: {app: a${a}}}`);
  for (let a = 0; a < o.apps; a += 4) out.push(`    app${a}-prod: {selector: {app: a${a}, env: prod}}`);
  for (let t = 0; t < o.teams; t++) {
    // A team's workloads plus its legacy subnet, minus the part being retired.
    const base = 0xac100000n + (BigInt(t) << 12n);
    out.push(`    team${t}: {selector: {team: t${t}}, cidrs: [${formatCidr({ family: 4, addr: base, len: 20 })}], except: [${formatCidr({ family: 4, addr: base, len: 24 })}]}`);
  }
  for (const t of TIERS) for (const e of ENVS) out.push(`    ${t}-${e}: {selector: {tier: ${t}, env: ${e}}}`);
  for (let z = 0; z < 16; z++) {
    const base = 0x0a000000n + (BigInt(z) << 20n);
    const hole = base + (BigInt(rng.int(0, 15)) << 16n);
    out.push(`    zone${z}: {cidrs: [${formatCidr({ family: 4, addr: base, len: 12 })}], except: [${formatCidr({ family: 4, addr: hole, len: 16 })}]}`);
  }
  out.push('    ops: {cidrs: [10.250.0.0/16, "fd00:250::/32"], except: [10.250.9.0/24]}');
  out.push('    blocklist: {cidrs: [198.18.0.0/15, 203.0.113.0/24]}');
  out.push('    monitoring: {selector: {app: a0}, cidrs: [10.251.0.0/24]}');

  const app = (): string => {
    const a = rng.int(0, o.apps - 1);
    return a % 4 === 0 && rng.chance(0.5) ? `app${a}-prod` : `app${a}`;
  };
  const ports = (): string => {
    const list: string[] = [];
    for (let k = rng.int(1, 3); k > 0; k--) {
      const r = rng.next();
      if (r < 0.75) list.push(`{protocol: tcp, port: ${rng.pick(PORTS)}}`);
      else if (r < 0.9) {
        const lo = rng.pick([8000, 9000, 30000]);
        list.push(`{protocol: ${rng.chance(0.5) ? 'tcp' : 'udp'}, port: "${lo}-${lo + rng.pick([99, 999])}"}`);
      } else list.push('{protocol: icmp, type: 8}');
    }
    return `[${list.join(', ')}]`;
  };
  let n = 0;
  const rule = (from: string[], to: string[], p: string, action: string, log = false): string =>
    `        - {name: r${n++}, from: [${from.join(', ')}], to: [${to.join(', ')}], ports: ${p}, action: ${action}${log ? ', log: true' : ''}}`;
  const catchAll = shape === 'catch-all';
  const sections: { name: string; rules: string[] }[] = [
    { name: 'baseline', rules: [] },
    { name: 'teams', rules: [] },
    { name: 'zones', rules: [] },
    { name: 'apps', rules: [] },
  ];
  const [baseline, teams, zones, apps] = sections;
  baseline.rules.push(rule(['blocklist'], ['any'], '[{protocol: any}]', 'deny', true));
  baseline.rules.push(rule(['ops'], ['any'], '[{protocol: tcp, port: 22}]', 'allow'));
  baseline.rules.push(rule(['monitoring'], ['any'], '[{protocol: tcp, port: 9100}, {protocol: icmp, type: 8}]', 'allow'));
  baseline.rules.push(rule(['any'], ['app1'], '[{protocol: udp, port: 53}, {protocol: tcp, port: 53}]', 'allow'));
  if (catchAll) baseline.rules.push(rule(['any'], ['any'], '[{protocol: tcp, port: 9100}]', 'allow'));
  for (let t = 0; t < 40; t++) teams.rules.push(rule([`team${rng.int(0, o.teams - 1)}`], [app()], ports(), rng.chance(0.8) ? 'allow' : 'deny'));
  for (let z = 0; z < 40; z++) zones.rules.push(rule([`zone${rng.int(0, 15)}`], [`zone${rng.int(0, 15)}`], '[{protocol: tcp, port: "0-1023"}]', 'deny'));
  const fixed = sections.reduce((k, s) => k + s.rules.length, 0) + (catchAll ? 1 : 0);
  for (let k = fixed; k < o.rules; k++) {
    const from = rng.chance(0.8) ? [app()] : [app(), app()];
    apps.rules.push(rule(from, [app()], ports(), rng.chance(0.85) ? 'allow' : 'deny'));
  }
  if (catchAll) apps.rules.push(rule(['any'], ['any'], '[{protocol: any}]', 'deny', true));
  out.push('  sections:');
  for (const s of sections) out.push(`    - name: ${s.name}`, '      rules:', ...s.rules);
  return `${out.join('\n')}\n`;
}

/** Today's bench scenario (bench/compile.ts benchScenario objects) as files, so it is parsed like the others. */
export function scenarioToYaml(policy: Policy, fabric: Fabric): { policy: string; fabric: string } {
  const peers = (ps: PeerRef[]): string => `[${ps.map((p) => (p.kind === 'any' ? 'any' : p.name)).join(', ')}]`;
  const port = (m: PortMatch): string => {
    switch (m.protocol) {
      case 'tcp':
      case 'udp':
        return `{protocol: ${m.protocol}, port: "${m.lo}-${m.hi}"}`;
      case 'icmp':
      case 'icmpv6':
        return `{protocol: ${m.protocol}${m.type !== undefined ? `, type: ${m.type}` : ''}${m.code !== undefined ? `, code: ${m.code}` : ''}}`;
      case 'any':
        return '{protocol: any}';
      default: {
        const never: never = m;
        return never;
      }
    }
  };
  const p = ['apiVersion: weft.dev/v1', 'kind: Policy', `metadata: {name: ${policy.name}}`, 'spec:', `  defaultAction: ${policy.defaultAction}`, '  groups:'];
  for (const g of policy.groups.values()) {
    const parts: string[] = [];
    if (g.selector) parts.push(`selector: {${Object.entries(g.selector).map(([k, v]) => `${k}: ${v}`).join(', ')}}`);
    if (g.cidrs.length) parts.push(`cidrs: [${g.cidrs.map((c) => `"${formatCidr(c)}"`).join(', ')}]`);
    if (g.except.length) parts.push(`except: [${g.except.map((c) => `"${formatCidr(c)}"`).join(', ')}]`);
    p.push(`    ${g.name}: {${parts.join(', ')}}`);
  }
  p.push('  rules:');
  for (const r of policy.rules) {
    const ports = r.ports.length ? r.ports.map(port).join(', ') : '{protocol: any}';
    p.push(`    - {name: ${r.name}, from: ${peers(r.from)}, to: ${peers(r.to)}, ports: [${ports}], action: ${r.action}${r.log ? ', log: true' : ''}}`);
  }
  const f = ['apiVersion: weft.dev/v1', 'kind: Fabric', `metadata: {name: ${fabric.name}}`, 'spec:', '  devices:'];
  for (const d of fabric.devices) {
    const extra = [d.pipeline ? `pipeline: ${d.pipeline}, capacity: {aclEntries: 1000000}` : '', d.profile ? `profile: ${d.profile}` : '', d.attachedTo ? `attachedTo: ${d.attachedTo}` : ''].filter(Boolean);
    f.push(`    - {name: ${d.name}, kind: ${d.kind}${extra.length ? `, ${extra.join(', ')}` : ''}}`);
  }
  f.push('  links:');
  for (const l of fabric.links) f.push(`    - {endpoints: ["${l.a.device}:${l.a.port}", "${l.b.device}:${l.b.port}"]}`);
  f.push('  endpoints:');
  for (const e of fabric.endpoints) {
    const where = e.host ? `host: ${e.host}` : `attach: "${e.attach!.device}:${e.attach!.port}"`;
    const labels = Object.entries(e.labels).map(([k, v]) => `${k}: ${v}`).join(', ');
    f.push(`    - {name: ${e.name}, ${where}, addresses: [${e.addresses.map((a) => `"${formatIp(a.family, a.value)}"`).join(', ')}], labels: {${labels}}}`);
  }
  return { policy: `${p.join('\n')}\n`, fabric: `${f.join('\n')}\n` };
}
