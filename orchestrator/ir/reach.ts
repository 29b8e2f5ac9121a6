// Who each rule applies to, resolved from the IR's group names to dense
// identity positions (an identity's index in ir.identities), on demand. Built
// once per IR (and cached), in time and memory linear in the identities'
// group memberships plus the rules' text: a rule side naming a group shares
// that group's member list, and `any` stays a wildcard that costs nothing.

import type { Identity, Ir, IrRule, IrServices } from './model.ts';

export type RuleSide = 'from' | 'to';

/** Address families of an identity as a bit mask: 1 IPv4, 2 IPv6 (both when unknown). */
function familyMask(id: Identity): number {
  if (!id.families) return 3;
  let m = 0;
  for (const f of id.families) m |= f === 4 ? 1 : 2;
  return m;
}

function pushTo(map: Map<string, number[]>, key: string, value: number): void {
  const l = map.get(key);
  if (l) l.push(value);
  else map.set(key, [value]);
}

export class IrReach {
  /** Identity id -> dense position. */
  readonly pos = new Map<number, number>();
  /** Address family mask per position. */
  readonly fam: Uint8Array;
  /** Sorted member positions per group name. */
  private readonly members = new Map<string, Int32Array>();
  /** Rules naming a group on a side, ascending, per group name. */
  private readonly byGroup: Record<RuleSide, Map<string, number[]>> = { from: new Map(), to: new Map() };
  /** Rules whose side is `any`, ascending. */
  readonly anyOn: Record<RuleSide, number[]> = { from: [], to: [] };
  /** Each rule's services, by rule index (for first-match resolution). */
  readonly shapes: IrServices[];
  /** Lazily built group-name sets per position, for membership tests. */
  private readonly groupSets: (Set<string> | undefined)[];

  constructor(readonly ir: Ir) {
    const n = ir.identities.length;
    this.fam = new Uint8Array(n);
    this.groupSets = new Array(n);
    const lists = new Map<string, number[]>();
    ir.identities.forEach((id, k) => {
      this.pos.set(id.id, k);
      this.fam[k] = familyMask(id);
      for (const g of id.groups) pushTo(lists, g, k);
    });
    for (const [g, l] of lists) this.members.set(g, Int32Array.from(l));
    this.shapes = ir.rules.map((r) => r.services);
    for (const r of ir.rules) {
      for (const side of ['from', 'to'] as const) {
        const peers = r[side];
        if (peers === 'any') this.anyOn[side].push(r.index);
        else for (const g of peers.groups) pushTo(this.byGroup[side], g, r.index);
      }
    }
  }

  get count(): number {
    return this.fam.length;
  }

  /** Member positions of a group (empty when it resolves to nothing). */
  membersOf(group: string): Int32Array {
    return this.members.get(group) ?? EMPTY;
  }

  /**
   * A rule side as the member lists of its groups (which may overlap), or
   * null for `any`.
   */
  sideMembers(rule: IrRule, side: RuleSide): Int32Array[] | null {
    const peers = rule[side];
    return peers === 'any' ? null : peers.groups.map((g) => this.membersOf(g));
  }

  /** Upper bound on a side's identities (overlapping groups count twice); `count` for any. */
  sideSize(rule: IrRule, side: RuleSide): number {
    const peers = rule[side];
    if (peers === 'any') return this.count;
    let n = 0;
    for (const g of peers.groups) n += this.membersOf(g).length;
    return n;
  }

  private groupSet(p: number): Set<string> {
    return (this.groupSets[p] ??= new Set(this.ir.identities[p].groups));
  }

  /** Whether the identity at position p is on `side` of rule r. */
  holds(r: number, side: RuleSide, p: number): boolean {
    const peers = this.ir.rules[r][side];
    if (peers === 'any') return true;
    const mine = this.groupSet(p);
    return peers.groups.some((g) => mine.has(g));
  }

  /**
   * The rules whose `side` holds the identity at position p, ascending: the
   * ones naming one of its groups, and the ones with `any` there. Costs the
   * size of the answer (plus a sort), never a walk over every rule.
   */
  rulesHolding(p: number, side: RuleSide): number[] {
    const out = [...this.anyOn[side]];
    for (const g of this.ir.identities[p].groups) {
      const l = this.byGroup[side].get(g);
      if (l) for (const r of l) out.push(r);
    }
    out.sort((a, b) => a - b);
    let w = 0;
    for (let i = 0; i < out.length; i++) if (i === 0 || out[i] !== out[i - 1]) out[w++] = out[i];
    out.length = w;
    return out;
  }
}

const EMPTY = new Int32Array(0);

const cache = new WeakMap<Ir, IrReach>();

/** The reach of an IR, built once and shared by every reader of that IR. */
export function irReach(ir: Ir): IrReach {
  let r = cache.get(ir);
  if (!r) cache.set(ir, (r = new IrReach(ir)));
  return r;
}
