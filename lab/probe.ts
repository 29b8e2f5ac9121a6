// `weft lab probe`: real TCP connects, UDP exchanges and pings between every
// ordered pair of endpoints of a deployed lab, on the ports the policy names
// (range edges included) plus a seeded sample of others, compared with what
// the reference evaluator expects. A TCP connect succeeds iff its SYN is
// allowed (the replies then pass by connection tracking), a UDP exchange iff
// the request is allowed, a ping iff the echo request is allowed. Every
// agent's rule counters (hosts, DPUs, SmartNICs) are read before and after,
// so each denied probe is attributed to the device that dropped it (drops.ts).

import { loadInventory } from '../inventory/load.ts';
import type { Fabric } from '../inventory/model.ts';
import { Explainer } from '../orchestrator/explain/explain.ts';
import { buildIr } from '../orchestrator/ir/build.ts';
import { place } from '../orchestrator/placement/place.ts';
import { loadPolicy } from '../orchestrator/policy/load.ts';
import type { Policy } from '../orchestrator/policy/model.ts';
import { IPPROTO } from '../orchestrator/policy/model.ts';
import { ReferenceEvaluator } from '../orchestrator/reference/evaluator.ts';
import { makeRng } from '../orchestrator/testing/generate.ts';
import { formatIp, type IpAddr } from '../orchestrator/net/ip.ts';
import type { Flow } from '../orchestrator/flow.ts';
import { logger } from '../orchestrator/log.ts';
import { AGENT_ROLES, readRuleHits } from './agent-status.ts';
import { attributeDrops, counterDeltas, formatDrops, summarizeDrops, type DeviceDrops, type DropPoint } from './drops.ts';
import { pool } from './exec.ts';
import { ProbeAgent } from './probe-client.ts';
import { readState, type LabState } from './state.ts';
import type { ProbeKind } from './probe-agent.ts';

const log = logger('lab-probe');

export interface Service {
  kind: ProbeKind;
  port: number;
}

export function serviceName(s: Service): string {
  return s.kind === 'ping' ? 'ping' : `${s.kind}/${s.port}`;
}

/** The probed services: every port the policy names (range edges), a seeded sample of others, and ping. */
export function probeServices(policy: Policy, seed: number, extraPerProto: number): Service[] {
  const named = { tcp: new Set<number>(), udp: new Set<number>() };
  for (const r of policy.rules) {
    for (const p of r.ports) {
      if (p.protocol !== 'tcp' && p.protocol !== 'udp') continue;
      if (p.lo === 0 && p.hi === 65535) continue;
      named[p.protocol].add(p.lo);
      named[p.protocol].add(p.hi);
    }
  }
  const rng = makeRng(seed);
  const out: Service[] = [];
  for (const kind of ['tcp', 'udp'] as const) {
    const ports = new Set(named[kind]);
    for (let i = 0; i < extraPerProto; ) {
      const p = rng.int(1024, 49151);
      if (!ports.has(p)) {
        ports.add(p);
        i++;
      }
    }
    for (const port of [...ports].sort((a, b) => a - b)) out.push({ kind, port });
  }
  out.push({ kind: 'ping', port: 0 });
  return out;
}

export interface ProbeCell {
  src: string;
  dst: string;
  family: 4 | 6;
  srcAddr: string;
  dstAddr: string;
  service: string;
  expected: boolean;
  observed: boolean;
  /** The deciding rule's index (-1: the default action) and name. */
  rule: number;
  ruleName: string;
  /** Denied probes: the device that dropped it, and what says so. */
  droppedAt?: DropPoint;
}

export interface ProbeReport {
  lab: string;
  endpoints: number;
  pairs: number;
  services: string[];
  probes: number;
  differences: number;
  seconds: number;
  cells: ProbeCell[];
  /** Denied probes per device that dropped them. */
  drops: DeviceDrops[];
  /** Denied probes no device on the path accounts for. */
  unattributed: number;
}

const EPHEMERAL_SPORT = 40000;

function flowOf(src: IpAddr, dst: IpAddr, s: Service): Flow {
  switch (s.kind) {
    case 'tcp':
      return { src, dst, proto: IPPROTO.tcp, sport: EPHEMERAL_SPORT, dport: s.port };
    case 'udp':
      return { src, dst, proto: IPPROTO.udp, sport: EPHEMERAL_SPORT, dport: s.port };
    case 'ping':
      return src.family === 4
        ? { src, dst, proto: IPPROTO.icmp, sport: 0, dport: 0, icmpType: 8, icmpCode: 0, icmpId: 1 }
        : { src, dst, proto: IPPROTO.icmpv6, sport: 0, dport: 0, icmpType: 128, icmpCode: 0, icmpId: 1 };
  }
}

function ruleNameOf(policy: Policy, rule: number): string {
  return rule < 0 ? 'default' : (policy.rules[rule]?.name ?? String(rule));
}

/** Nodes whose agent the lab applied an artefact to: their rule counters are read around the run. */
function agentNodes(state: LabState): string[] {
  return state.nodes.filter((n) => AGENT_ROLES.includes(n.role) && state.applied[n.name] !== undefined).map((n) => n.name);
}

/** Explain over the policy's IR and placement: the paths denied probes are attributed along. */
function explainerFor(policy: Policy, fabric: Fabric): Explainer {
  const ir = buildIr(policy, fabric);
  return new Explainer(policy, fabric, ir, place(policy, fabric, ir));
}

export interface ProbeOptions {
  lab: string;
  policyPath: string;
  seed: number;
  extraPorts: number;
  timeoutMs?: number;
  concurrency?: number;
}

export async function probeLab(opts: ProbeOptions): Promise<ProbeReport> {
  const t0 = performance.now();
  const state = readState(opts.lab);
  if (!state || state.phase !== 'ready' || !state.inventory) throw new Error(`lab ${opts.lab} is not deployed`);
  const policy = loadPolicy(opts.policyPath);
  const fabric = loadInventory(state.inventory);
  const ref = new ReferenceEvaluator(policy, fabric);
  const services = probeServices(policy, opts.seed, opts.extraPorts);
  const tcpPorts = services.filter((s) => s.kind === 'tcp').map((s) => s.port);
  const udpPorts = services.filter((s) => s.kind === 'udp').map((s) => s.port);
  const eps = fabric.endpoints.map((e) => ({ e, node: state.nodes.find((n) => n.name === e.name) })).filter((x) => x.node !== undefined);
  const timeoutMs = opts.timeoutMs ?? 300;

  const agents = new Map<string, ProbeAgent>();
  try {
    const started = await Promise.all(eps.map(async ({ e, node }) => [e.name, await ProbeAgent.start(node?.netns as string, tcpPorts, udpPorts)] as const));
    for (const [name, a] of started) agents.set(name, a);

    const cells: ProbeCell[] = [];
    const flows = new Map<ProbeCell, Flow>();
    let pairs = 0;
    for (const a of eps) {
      for (const b of eps) {
        if (a.e.name === b.e.name) continue;
        let paired = false;
        for (const family of [4, 6] as const) {
          const sa = a.e.addresses.find((x) => x.family === family);
          const da = b.e.addresses.find((x) => x.family === family);
          if (!sa || !da) continue;
          paired = true;
          for (const s of services) {
            const flow = flowOf(sa, da, s);
            const v = ref.verdict(flow);
            const cell: ProbeCell = {
              src: a.e.name,
              dst: b.e.name,
              family,
              srcAddr: formatIp(family, sa.value),
              dstAddr: formatIp(family, da.value),
              service: serviceName(s),
              expected: v.verdict === 'allow',
              observed: false,
              rule: v.rule,
              ruleName: ruleNameOf(policy, v.rule),
            };
            cells.push(cell);
            flows.set(cell, flow);
          }
        }
        if (paired) pairs++;
      }
    }
    const svcOf = new Map(services.map((s) => [serviceName(s), s]));
    const counted = agentNodes(state);
    const before = await readRuleHits(state, counted);
    const runCell = async (c: ProbeCell): Promise<void> => {
      const s = svcOf.get(c.service) as Service;
      c.observed = await (agents.get(c.src) as ProbeAgent).probe(s.kind, c.dstAddr, s.port, timeoutMs);
    };
    await pool(cells, opts.concurrency ?? 128, runCell);
    // A blocked probe that should have passed gets a second chance with more
    // time, so a slow first packet on a busy machine is not reported as a difference.
    const suspects = cells.filter((c) => c.expected && !c.observed);
    await pool(suspects, 8, async (c) => {
      const s = svcOf.get(c.service) as Service;
      c.observed = await (agents.get(c.src) as ProbeAgent).probe(s.kind, c.dstAddr, s.port, timeoutMs * 4);
    });
    const moved = counterDeltas(before, await readRuleHits(state, counted));
    const denied = cells.filter((c) => !c.observed);
    const points = attributeDrops(explainerFor(policy, fabric), fabric, denied.map((c) => ({ flow: flows.get(c) as Flow, rule: c.rule })), moved);
    denied.forEach((c, i) => {
      const p = points[i];
      if (p) c.droppedAt = p;
    });
    const drops = summarizeDrops(fabric, points, denied.map((c) => c.rule), moved, (r) => ruleNameOf(policy, r));
    const differences = cells.filter((c) => c.expected !== c.observed).length;
    log.info({ lab: opts.lab, probes: cells.length, differences, drops: drops.map((d) => `${d.device}:${d.probes}`) }, 'probe done');
    return {
      lab: opts.lab,
      endpoints: eps.length,
      pairs,
      services: services.map(serviceName),
      probes: cells.length,
      differences,
      seconds: (performance.now() - t0) / 1000,
      cells,
      drops,
      unattributed: points.filter((p) => p === undefined).length,
    };
  } finally {
    for (const a of agents.values()) a.stop();
  }
}

function dropLetter(p: DropPoint | undefined): string {
  if (!p) return '.';
  switch (p.kind) {
    case 'host':
      return 'h';
    case 'dpu':
    case 'smartnic':
      return 'd';
    case 'switch':
      return 's';
  }
}

/** The observed matrix beside the expected one: one row per (src, dst, family), one column per service. */
export function formatProbe(r: ProbeReport): string {
  const lines: string[] = [];
  lines.push(`columns: ${r.services.map((s, i) => `${i + 1}=${s}`).join(' ')}`);
  lines.push('legend: A allowed, . blocked; observed blocked, by where it was dropped: h host, d DPU or SmartNIC, s switch (. unattributed); ! observed differs from expected');
  const rows = new Map<string, ProbeCell[]>();
  for (const c of r.cells) {
    const k = `${c.src} -> ${c.dst} v${c.family}`;
    rows.set(k, [...(rows.get(k) ?? []), c]);
  }
  const width = Math.max(...[...rows.keys()].map((k) => k.length), 10);
  const n = r.services.length;
  // A ruler of column numbers (ones digit, tens above) over both matrices.
  const tens = r.services.map((_, i) => (i + 1 >= 10 ? String(Math.floor((i + 1) / 10) % 10) : ' ')).join('');
  const ones = r.services.map((_, i) => String((i + 1) % 10)).join('');
  lines.push(`${''.padEnd(width)}  ${'expected'.padEnd(n)}  ${'observed'.padEnd(n)}`);
  lines.push(`${''.padEnd(width)}  ${tens}  ${tens}`);
  lines.push(`${''.padEnd(width)}  ${ones}  ${ones}`);
  for (const [k, cs] of rows) {
    const exp = cs.map((c) => (c.expected ? 'A' : '.')).join('');
    const obs = cs.map((c) => (c.expected !== c.observed ? '!' : c.observed ? 'A' : dropLetter(c.droppedAt))).join('');
    lines.push(`${k.padEnd(width)}  ${exp}  ${obs}`);
  }
  const diffs = r.cells.filter((c) => c.expected !== c.observed);
  for (const d of diffs.slice(0, 40)) {
    lines.push(`difference: ${d.src} (${d.srcAddr}) -> ${d.dst} (${d.dstAddr}) ${d.service}: expected ${d.expected ? 'allow' : 'deny'} (${d.ruleName}), observed ${d.observed ? 'allow' : 'deny'}`);
  }
  if (diffs.length > 40) lines.push(`... and ${diffs.length - 40} more differences`);
  lines.push(...formatDrops(r.drops, r.unattributed));
  lines.push(
    `probe ${r.lab}: ${r.probes} probes (${r.pairs} endpoint pairs x ${r.services.length} services, both families where both ends have them), ${r.differences} differences, ${r.seconds.toFixed(1)}s`,
  );
  return lines.join('\n');
}
