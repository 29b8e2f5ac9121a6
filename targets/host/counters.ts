// Per-rule hit counters of a host or DPU, from what its agent reports in
// `weft agent status --json`: the host agent counts packets and bytes per
// rule of the active generation and for the default action (stats map); a
// NIC prefilter's agent counts the packets it dropped per deny rule and for
// the default. Both already name the rule, so nothing is attributed here.

import type { StatusResult } from './agent.ts';
import type { DpuStatusResult } from '../dpu/agent.ts';
import type { RuleHits } from '../contract.ts';

/** The counters of one `agent status --json` reply (host agent or NIC prefilter agent). */
export function hitsOfAgentStatus(status: Partial<StatusResult> & Partial<Pick<DpuStatusResult, 'drops'>>): RuleHits[] {
  if (status.rules) {
    const out: RuleHits[] = status.rules.map((r) => ({ kind: 'rule', label: r.name, packets: BigInt(r.packets ?? r.hits), bytes: BigInt(r.bytes ?? 0) }));
    const d = status.ruleCounters?.default;
    out.push({ kind: 'default', label: 'default', packets: BigInt(d?.packets ?? status.defaultHits ?? 0), bytes: BigInt(d?.bytes ?? 0) });
    return out;
  }
  if (status.drops) {
    return status.drops.map((d): RuleHits => (d.index < 0 ? { kind: 'default', label: 'default', packets: BigInt(d.drops) } : { kind: 'rule', label: d.name, packets: BigInt(d.drops) }));
  }
  throw new Error('agent status reports neither rules nor drops: an agent older than per-rule counters; apply the bundle again to ship the current one');
}
