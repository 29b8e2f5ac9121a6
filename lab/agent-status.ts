// What Weft's agent runs on a lab node (a host, DPU or SmartNIC), read the way
// an operator reads it on the node: `weft agent status --json`, run inside
// the node's network, mount and UTS namespaces (those of its sshd, where every
// session the rollout opens runs, so the node's own bpffs pins and /run/weft
// are the ones seen). The report's per-rule hit counters are how `lab probe`
// tells which device dropped a probe; its attach points say what a DPU loaded
// and in which mode.

import { logger } from '../orchestrator/log.ts';
import { WEFT_BIN } from '../orchestrator/package-root.ts';
import { pool, run } from './exec.ts';
import type { LabState } from './state.ts';

export interface AgentAttach {
  iface: string;
  hook: string;
  /** XDP: the mode that took effect (native, generic, or offload where a NIC takes it). */
  mode?: string;
  attached: boolean;
}

export interface AgentRuleHits {
  index: number;
  name: string;
  action: string;
  hits: string;
}

/** The fields of `weft agent status --json` the lab reads; agents may report more. */
export interface AgentStatus {
  device: string;
  generation: number;
  attach: AgentAttach[];
  rules: AgentRuleHits[];
  defaultHits: string;
}

/** A NIC prefilter's report (targets/dpu/agent.ts): XDP per port, and the drops it made per rule. */
interface PrefilterStatus {
  device: string;
  generation: number;
  ports: { iface: string; mode: string; attached: boolean }[];
  drops: { index: number; name: string; drops: string }[];
}

/** A prefilter's report in the host's terms: its ports are XDP attach points, its drops the hits of the rules it enforces. */
function fromPrefilter(p: PrefilterStatus): AgentStatus {
  return {
    device: p.device,
    generation: p.generation,
    attach: p.ports.map((x) => ({ iface: x.iface, hook: 'xdp', mode: x.mode, attached: x.attached })),
    rules: p.drops.filter((d) => d.index >= 0).map((d) => ({ index: d.index, name: d.name, action: 'deny', hits: d.drops })),
    defaultHits: p.drops.find((d) => d.index < 0)?.drops ?? '0',
  };
}

/** Per-rule hit counters of one device: policy rule index (-1: the default action) to hits. */
export type RuleHits = Map<number, bigint>;

const log = logger('lab-agent-status');

/** Roles whose nodes run Weft's agent (reached over SSH by the rollout). */
export const AGENT_ROLES: readonly string[] = ['host', 'dpu', 'smartnic'];

function sshdPid(state: LabState, node: string): number {
  const p = state.processes.find((x) => x.node === node && x.service === 'sshd');
  if (!p) throw new Error(`lab ${state.lab}: node ${node} runs no sshd, so no agent`);
  return p.pid;
}

export async function readAgentStatus(state: LabState, node: string): Promise<AgentStatus> {
  const argv = ['nsenter', '-t', String(sshdPid(state, node)), '-m', '-n', '-u', '--', process.execPath, WEFT_BIN, 'agent', 'status', '--device', node, '--json'];
  const r = await run(argv, { allowFail: true, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`weft agent status on ${node} exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  const raw = JSON.parse(r.stdout) as AgentStatus | PrefilterStatus;
  const s = 'ports' in raw ? fromPrefilter(raw) : raw;
  if (s.device !== node || !Array.isArray(s.rules) || !Array.isArray(s.attach)) throw new Error(`weft agent status on ${node}: not a status report of ${node}`);
  return s;
}

export function ruleHits(s: AgentStatus): RuleHits {
  const m: RuleHits = new Map([[-1, BigInt(s.defaultHits)]]);
  for (const r of s.rules) m.set(r.index, BigInt(r.hits));
  return m;
}

/**
 * Hit counters of every listed node, read a few at a time (each read is a
 * node process). A node whose agent cannot report is left out, with a
 * warning: its drops are then attributed by placement, not counted.
 */
export async function readRuleHits(state: LabState, nodes: string[], concurrency = 4): Promise<Map<string, RuleHits>> {
  const out = new Map<string, RuleHits>();
  await pool(nodes, concurrency, async (n) => {
    try {
      out.set(n, ruleHits(await readAgentStatus(state, n)));
    } catch (e) {
      log.warn({ node: n, err: e instanceof Error ? e.message : String(e) }, 'no rule counters from this node');
    }
  });
  return out;
}

/** One line per interface: its hooks, with the XDP mode that took effect, e.g. "eth2 tc-ingress+tc-egress+xdp(native)". */
export function formatAttach(attach: AgentAttach[]): string {
  const byIface = new Map<string, string[]>();
  for (const a of attach) {
    const hook = `${a.hook}${a.mode ? `(${a.mode})` : ''}${a.attached ? '' : '(MISSING)'}`;
    byIface.set(a.iface, [...(byIface.get(a.iface) ?? []), hook]);
  }
  return [...byIface].map(([iface, hooks]) => `${iface} ${hooks.join('+')}`).join(', ');
}
