// How planned acl entries are written: a Template is one match over lists
// (source prefixes, destination prefixes, source and destination port
// ranges), and an EntryList writes it either expanded (one acl-entry per
// combination, for devices without openconfig-defined-sets) or as a single
// acl-entry naming prefix-sets and port-sets (SetBook), so the configuration
// grows with rules plus prefixes instead of their product. Either way the
// list counts the expansion: that is what the device's TCAM holds, and what
// capacity.aclEntries is checked against.

import { formatCidr, type Cidr, type Family } from '../../orchestrator/net/ip.ts';
import type { AclEntry, DefinedSets, ForwardingAction, PortRange } from './model.ts';

/** Header fields of one entry besides addresses and ports. */
export interface Fields {
  protocol?: number;
  icmp?: { type?: number; code?: number };
  tcpFlags?: AclEntry['tcpFlags'];
}

/** An address side: prefixes, or [undefined] for any address. */
export type Side = (Cidr | undefined)[];

export const ANY_SIDE: Side = [undefined];

export interface Template {
  description: string;
  srcs?: Side;
  dsts?: Side;
  fields?: Fields;
  /** Port ranges (any port when absent); only with protocol 6 or 17. */
  srcPorts?: PortRange[];
  dstPorts?: PortRange[];
  action: ForwardingAction;
  log?: boolean;
  /** Readable stems for the sets this template needs (e.g. the rule and side). */
  names?: { src?: string; dst?: string; srcPorts?: string; dstPorts?: string };
}

/** Entries a template costs on the device: the product of its lists. */
export function templateCost(t: Template): number {
  return (t.srcs ?? ANY_SIDE).length * (t.dsts ?? ANY_SIDE).length * (t.srcPorts?.length ?? 1) * (t.dstPorts?.length ?? 1);
}

/** Prefix-sets and port-sets of one configuration, shared by every entry with the same members. */
export class SetBook {
  readonly defined: DefinedSets = { prefixSets: [], portSets: [] };
  private readonly byMembers = new Map<string, string>();
  private readonly taken = new Set<string>();

  private name(stem: string, suffix: string): string {
    const base = `weft-${stem.replace(/[^A-Za-z0-9_.-]+/g, '_')}${suffix}`;
    let name = base;
    for (let n = 2; this.taken.has(name); n++) name = `${base}-${n}`;
    this.taken.add(name);
    return name;
  }

  prefixSet(family: Family, prefixes: Cidr[], stem: string): string {
    const key = `${family}|${prefixes.map(formatCidr).join(',')}`;
    let name = this.byMembers.get(key);
    if (!name) {
      name = this.name(stem, `-v${family}`);
      this.byMembers.set(key, name);
      this.defined.prefixSets.push({ name, family, prefixes });
    }
    return name;
  }

  portSet(ports: PortRange[], stem: string): string {
    const key = `ports|${ports.map((p) => `${p.lo}-${p.hi}`).join(',')}`;
    let name = this.byMembers.get(key);
    if (!name) {
      name = this.name(stem, '-ports');
      this.byMembers.set(key, name);
      this.defined.portSets.push({ name, ports });
    }
    return name;
  }
}

/** Entries of one acl-set in sequence order (steps of 10 leave room for an operator's own). */
export class EntryList {
  static readonly SEQ_STEP = 10;
  readonly entries: AclEntry[] = [];
  /** Device entries written so far (the expansion). */
  cost = 0;

  /** `sets`: write set references (the device has openconfig-defined-sets); without it, expand. */
  constructor(
    private readonly family: Family,
    private readonly sets?: SetBook,
  ) {}

  private push(e: Omit<AclEntry, 'seq'>): void {
    this.entries.push({ ...e, seq: (this.entries.length + 1) * EntryList.SEQ_STEP });
  }

  add(t: Template): void {
    const cost = templateCost(t);
    if (cost === 0) return;
    this.cost += cost;
    const base = { description: t.description, ...t.fields, action: t.action, log: t.log ?? false };
    const srcs = t.srcs ?? ANY_SIDE;
    const dsts = t.dsts ?? ANY_SIDE;
    const sps = t.srcPorts ?? [undefined];
    const dps = t.dstPorts ?? [undefined];
    if (this.sets) {
      const stem = t.names ?? {};
      const e: Omit<AclEntry, 'seq'> = { ...base };
      if (srcs.length > 1) e.srcSet = this.sets.prefixSet(this.family, srcs as Cidr[], stem.src ?? t.description);
      else if (srcs[0]) e.src = srcs[0];
      if (dsts.length > 1) e.dstSet = this.sets.prefixSet(this.family, dsts as Cidr[], stem.dst ?? t.description);
      else if (dsts[0]) e.dst = dsts[0];
      if (sps.length > 1) e.srcPortSet = this.sets.portSet(sps as PortRange[], stem.srcPorts ?? t.description);
      else if (sps[0]) e.srcPort = sps[0];
      if (dps.length > 1) e.dstPortSet = this.sets.portSet(dps as PortRange[], stem.dstPorts ?? t.description);
      else if (dps[0]) e.dstPort = dps[0];
      this.push(e);
      return;
    }
    // The order resolveDefinedSets expands a set reference in, so both forms program the same TCAM.
    for (const src of srcs) {
      for (const dst of dsts) {
        for (const srcPort of sps) {
          for (const dstPort of dps) {
            this.push({ ...base, ...(src ? { src } : {}), ...(dst ? { dst } : {}), ...(srcPort ? { srcPort } : {}), ...(dstPort ? { dstPort } : {}) });
          }
        }
      }
    }
  }
}
