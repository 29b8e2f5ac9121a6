// `weft status --counters`: per device, the hits its target counts for each
// policy rule (host and DPU agents per rule; P4 direct counters and
// OpenConfig acl-entry counters summed back to the rule each entry comes
// from, by the drivers), named by section/name and where the rule is written
// (the bundle's IR carries each rule's file:line:col, as rule-sources.json
// does), in policy order: a rule, its replies, then the default action and
// the entries of Weft's own.

import type { RuleHits, TargetName } from '../../targets/contract.ts';
import type { Bundle } from '../compile/bundle.ts';
import { formatSpan } from '../diagnostics.ts';
import { inPool, message, DEFAULT_PARALLEL } from './rollout.ts';
import { statusTargets, type StatusOptions, type StatusTarget } from './status.ts';

export interface RuleCounters {
  kind: RuleHits['kind'];
  /** section/name of a rule (and of the rule whose replies these are); "default" and the action; or what Weft's own entries are. */
  rule: string;
  /** Where the rule is written (file:line:col), when the bundle knows. */
  source?: string;
  /** allow|deny for rules and the default. */
  action?: string;
  packets: string;
  bytes?: string;
}

export interface DeviceCounters {
  device: string;
  target: TargetName;
  state: 'read' | 'unreachable' | 'unknown';
  rules: RuleCounters[];
  detail?: string;
}

const KIND_ORDER: Record<RuleHits['kind'], number> = { rule: 0, reply: 1, default: 2, other: 3 };

/** One device's hits named after the rules of the bundle it runs, in policy order. */
export function nameHits(hits: RuleHits[], bundle: Bundle): RuleCounters[] {
  const rules = new Map(bundle.ir.rules.map((r) => [r.name, r]));
  const rows = hits.map((h) => {
    const r = h.kind === 'rule' || h.kind === 'reply' ? rules.get(h.label) : undefined;
    const order = r ? r.index : Number.MAX_SAFE_INTEGER;
    const row: RuleCounters = {
      kind: h.kind,
      rule: r ? `${r.section ? `${r.section}/` : ''}${r.name}` : h.kind === 'default' ? 'default' : h.label,
      ...(r ? { source: formatSpan(r.span) } : {}),
      ...(r ? { action: r.action } : h.kind === 'default' ? { action: bundle.ir.defaultAction } : {}),
      packets: h.packets.toString(),
      ...(h.bytes !== undefined ? { bytes: h.bytes.toString() } : {}),
    };
    return { row, order, kind: KIND_ORDER[h.kind] };
  });
  rows.sort((a, b) => a.order - b.order || a.kind - b.kind);
  return rows.map((x) => x.row);
}

/** One device's counters (its driver's deadline bounds the read). */
export async function readDeviceCounters(t: StatusTarget): Promise<DeviceCounters> {
  const base = { device: t.handle.device.name, target: t.handle.target };
  if (!t.wanted) return { ...base, state: 'unknown', rules: [], detail: t.unknown };
  try {
    return { ...base, state: 'read', rules: nameHits(await t.handle.driver.counters(t.ctx, t.wanted.art), t.wanted.bundle) };
  } catch (e) {
    return { ...base, state: 'unreachable', rules: [], detail: message(e) };
  }
}

export async function readCounters(opts: StatusOptions): Promise<DeviceCounters[]> {
  return inPool(await statusTargets(opts), opts.parallel ?? DEFAULT_PARALLEL, readDeviceCounters);
}

/** One counted row for humans: what it counts, the rule's action and source, packets and bytes. */
export function formatCounterRow(r: RuleCounters): string {
  const what = r.kind === 'reply' ? `${r.rule} (replies)` : r.kind === 'default' ? `default ${r.action ?? ''}`.trim() : r.kind === 'other' ? `[weft] ${r.rule}` : r.rule;
  return `${what.padEnd(40)} ${(r.action && r.kind === 'rule' ? r.action : '').padEnd(5)} ${(r.source ?? '').padEnd(28)} ${r.packets.padStart(12)} pkts${r.bytes !== undefined ? ` ${r.bytes.padStart(14)} bytes` : ''}`;
}

export function formatCounters(devices: DeviceCounters[]): string {
  const lines: string[] = [];
  for (const d of devices) {
    lines.push(`${d.device} (${d.target})${d.state === 'read' ? '' : `  ${d.state}${d.detail ? `: ${d.detail}` : ''}`}`);
    for (const r of d.rules) lines.push(`  ${formatCounterRow(r)}`);
  }
  const n = (s: DeviceCounters['state']): number => devices.filter((d) => d.state === s).length;
  lines.push(`${n('read')} devices read, ${n('unreachable')} unreachable${n('unknown') ? `, ${n('unknown')} unknown` : ''}`);
  return lines.join('\n');
}
