// How planned acl entries are written: a Template is one match over lists
// (source prefixes, destination prefixes, source and destination port
// ranges), and an EntryList writes it either expanded (one acl-entry per
// combination, for devices without openconfig-defined-sets) or as a single
// acl-entry naming prefix-sets and port-sets (SetBook), so the configuration
// grows with rules plus prefixes instead of their product. Either way the
// list counts the expansion: that is what the device's TCAM holds, and what
// capacity.aclEntries is checked against.

import { type Cidr, type Family } from '../../orchestrator/net/ip.ts';
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

/** Member keys by list object: the resolver hands the same prefix lists to every rule and switch of a compile. */
const memberKeys = new WeakMap<object, string>();

function membersKey(list: Cidr[] | PortRange[], format: () => string): string {
  let key = memberKeys.get(list);
  if (key === undefined) memberKeys.set(list, (key = format()));
  return key;
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
    const key = `${family}|${membersKey(prefixes, () => prefixes.map((c) => `${c.addr.toString(16)}/${c.len}`).join(','))}`;
    let name = this.byMembers.get(key);
    if (!name) {
      name = this.name(stem, `-v${family}`);
      this.byMembers.set(key, name);
      this.defined.prefixSets.push({ name, family, prefixes });
    }
    return name;
  }

  portSet(ports: PortRange[], stem: string): string {
    const key = `ports|${membersKey(ports, () => ports.map((p) => `${p.lo}-${p.hi}`).join(','))}`;
    let name = this.byMembers.get(key);
    if (!name) {
      name = this.name(stem, '-ports');
      this.byMembers.set(key, name);
      this.defined.portSets.push({ name, ports });
    }
    return name;
  }
}

type Written = Omit<AclEntry, 'seq'>;

/**
 * Entries of one acl-set in sequence order (steps of 10 leave room for an
 * operator's own). The expansion is counted as templates are added and only
 * materialised when `entries` is read, so a planner checks `cost` against
 * capacity before a device without defined sets pays for millions of entries.
 */
export class EntryList {
  static readonly SEQ_STEP = 10;
  /** Device entries added so far (the expansion). */
  cost = 0;
  /** Per added template, its one entry naming defined sets; without them it is expanded when read. */
  private readonly added: { template: Template; entry?: Written }[] = [];

  /** `sets`: write set references (the device has openconfig-defined-sets); without it, expand. */
  constructor(
    private readonly family: Family,
    private readonly sets?: SetBook,
  ) {}

  add(t: Template): void {
    const cost = templateCost(t);
    if (cost === 0) return;
    this.cost += cost;
    // Sets are named as templates arrive, so names follow the order rules are planned in.
    this.added.push(this.sets ? { template: t, entry: this.withSets(t, this.sets) } : { template: t });
  }

  /** The acl-entries, expanded where the device has no defined sets. */
  get entries(): AclEntry[] {
    const out: AclEntry[] = [];
    const push = (e: Written): void => void out.push({ ...e, seq: (out.length + 1) * EntryList.SEQ_STEP });
    for (const a of this.added) {
      if (a.entry) push(a.entry);
      else expand(a.template, push);
    }
    return out;
  }

  /** The templates added, in order (those costing no entry are left out). */
  get templates(): Template[] {
    return this.added.map((a) => a.template);
  }

  private withSets(t: Template, sets: SetBook): Written {
    const srcs = t.srcs ?? ANY_SIDE;
    const dsts = t.dsts ?? ANY_SIDE;
    const sps = t.srcPorts ?? [undefined];
    const dps = t.dstPorts ?? [undefined];
    const stem = t.names ?? {};
    const e: Written = baseOf(t);
    if (srcs.length > 1) e.srcSet = sets.prefixSet(this.family, srcs as Cidr[], stem.src ?? t.description);
    else if (srcs[0]) e.src = srcs[0];
    if (dsts.length > 1) e.dstSet = sets.prefixSet(this.family, dsts as Cidr[], stem.dst ?? t.description);
    else if (dsts[0]) e.dst = dsts[0];
    if (sps.length > 1) e.srcPortSet = sets.portSet(sps as PortRange[], stem.srcPorts ?? t.description);
    else if (sps[0]) e.srcPort = sps[0];
    if (dps.length > 1) e.dstPortSet = sets.portSet(dps as PortRange[], stem.dstPorts ?? t.description);
    else if (dps[0]) e.dstPort = dps[0];
    return e;
  }
}

function baseOf(t: Template): Written {
  return { description: t.description, ...t.fields, action: t.action, log: t.log ?? false };
}

/** One entry per combination, in the order resolveDefinedSets expands a set reference in, so both forms program the same TCAM. */
function expand(t: Template, push: (e: Written) => void): void {
  const base = baseOf(t);
  for (const src of t.srcs ?? ANY_SIDE) {
    for (const dst of t.dsts ?? ANY_SIDE) {
      for (const srcPort of t.srcPorts ?? [undefined]) {
        for (const dstPort of t.dstPorts ?? [undefined]) {
          push({ ...base, ...(src ? { src } : {}), ...(dst ? { dst } : {}), ...(srcPort ? { srcPort } : {}), ...(dstPort ? { dstPort } : {}) });
        }
      }
    }
  }
}
