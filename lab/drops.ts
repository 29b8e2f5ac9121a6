// Where `lab probe`'s denied probes were dropped. A denied probe's path (the
// devices it crosses, in order, as `weft explain` finds it) is walked from its
// source; the first device whose hit counter for the probe's deciding rule
// moved during the run (read from its agent before and after) takes the drop,
// one probe per hit, so a device is named only where its own counters saw the
// packets. A device whose counters were not read (switches; an agent that
// could not report) takes the drop where placement says it drops the flow,
// and the report says it was placed, not counted.

import type { DeviceKind, Fabric } from '../inventory/model.ts';
import type { Explainer } from '../orchestrator/explain/explain.ts';
import type { Flow } from '../orchestrator/flow.ts';
import type { RuleHits } from './agent-status.ts';

/** counters: the device's own rule counter moved; placement: its counters were not read, and placement says it drops the flow. */
export type DropWitness = 'counters' | 'placement';

export interface DropPoint {
  device: string;
  kind: DeviceKind;
  by: DropWitness;
}

export interface DeviceDrops {
  device: string;
  kind: DeviceKind;
  by: DropWitness;
  probes: number;
  /** counters: how far each deciding rule's counter moved on this device, by rule name ("default" for the default action). */
  hits: Record<string, number>;
}

export interface DeniedProbe {
  flow: Flow;
  /** The deciding rule's index in the policy (-1: the default action). */
  rule: number;
}

/** How far each counter moved between two reads; devices missing from either read are left out. */
export function counterDeltas(before: Map<string, RuleHits>, after: Map<string, RuleHits>): Map<string, RuleHits> {
  const out = new Map<string, RuleHits>();
  for (const [device, a] of after) {
    const b = before.get(device);
    if (!b) continue;
    const d: RuleHits = new Map();
    // A counter that went down was reset (a reload in between): what it reads now is what moved.
    for (const [rule, hits] of a) d.set(rule, hits >= (b.get(rule) ?? 0n) ? hits - (b.get(rule) ?? 0n) : hits);
    out.set(device, d);
  }
  return out;
}

/** One drop point per probe (undefined where no device on its path accounts for it). */
export function attributeDrops(explainer: Explainer, fabric: Fabric, probes: DeniedProbe[], moved: Map<string, RuleHits>): (DropPoint | undefined)[] {
  const kind = new Map(fabric.devices.map((d) => [d.name, d.kind]));
  const left = new Map([...moved].map(([d, hits]) => [d, new Map(hits)]));
  return probes.map(({ flow, rule }) => {
    const x = explainer.explain(flow);
    for (const hop of x.path?.hops ?? []) {
      const k = kind.get(hop.device);
      if (k === undefined) continue;
      const counters = left.get(hop.device);
      if (counters) {
        const n = counters.get(rule) ?? 0n;
        if (n > 0n) {
          counters.set(rule, n - 1n);
          return { device: hop.device, kind: k, by: 'counters' };
        }
        continue;
      }
      if (x.points.some((p) => p.device === hop.device && p.decision === 'deny')) return { device: hop.device, kind: k, by: 'placement' };
    }
    return undefined;
  });
}

/** Drops per device, in the order of the devices in the fabric. */
export function summarizeDrops(fabric: Fabric, points: (DropPoint | undefined)[], rules: number[], moved: Map<string, RuleHits>, ruleName: (rule: number) => string): DeviceDrops[] {
  const by = new Map<string, DeviceDrops>();
  points.forEach((p, i) => {
    if (!p) return;
    let s = by.get(p.device);
    if (!s) by.set(p.device, (s = { device: p.device, kind: p.kind, by: p.by, probes: 0, hits: {} }));
    s.probes++;
    if (p.by === 'counters') s.hits[ruleName(rules[i])] = Number(moved.get(p.device)?.get(rules[i]) ?? 0n);
  });
  return fabric.devices.map((d) => by.get(d.name)).filter((s): s is DeviceDrops => s !== undefined);
}

export function formatDrops(drops: DeviceDrops[], unattributed: number): string[] {
  const lines = drops.map((d) => {
    const how = d.by === 'counters' ? `its rule counters moved: ${Object.entries(d.hits).map(([r, n]) => `${r} +${n}`).join(', ')}` : 'placed there (its counters are not read)';
    return `dropped at ${d.device} (${d.kind}): ${d.probes} probes; ${how}`;
  });
  if (unattributed > 0) lines.push(`dropped where no counter or placement accounts for it: ${unattributed} probes`);
  return lines;
}
