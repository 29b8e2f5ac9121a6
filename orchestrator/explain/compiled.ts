// What explain reads of the compiled policy: the identity of an address,
// the rule the IR's first match picks for a flow, and whether a rule's
// source side holds an address. Read from a whole IR when the caller has
// one (the report, the lab's probes); otherwise computed for only the
// addresses explain asks about, from the identities' own membership
// (ScopedIdentities) and the IR's own form of each rule (irRule), so the
// compiled answer stays a check that shares no code with the reference
// evaluator.

import type { Fabric } from '../../inventory/model.ts';
import type { Flow } from '../flow.ts';
import { ScopedIdentities } from '../identity/scoped.ts';
import { irRule } from '../ir/build.ts';
import { servicesHold } from '../ir/expand.ts';
import { irKey, IrLookup } from '../ir/lookup.ts';
import type { Ir, IrPeers, IrRule } from '../ir/model.ts';
import { irReach } from '../ir/reach.ts';
import type { IpAddr } from '../net/ip.ts';
import type { PeerRef, Policy } from '../policy/model.ts';

export interface CompiledView {
  identityOf(a: IpAddr): { id: number; groups: string[] };
  /** Index of the first rule the compiled policy matches to `flow`; -1 when the default action decides. */
  firstMatch(flow: Flow): number;
  /** Whether the source side of rule `rule` holds address `a`. */
  sourceHolds(rule: number, a: IpAddr): boolean;
}

/** Explain's reading of a whole IR. */
export function irView(ir: Ir): CompiledView {
  const lookup = new IrLookup(ir);
  const reach = irReach(ir);
  let groupsById: Map<number, string[]> | undefined;
  return {
    identityOf(a) {
      const id = lookup.identityOf(a);
      groupsById ??= new Map(ir.identities.map((i) => [i.id, i.groups]));
      return { id, groups: groupsById.get(id) ?? [] };
    },
    firstMatch: (flow) => lookup.lookup(flow).rule,
    sourceHolds(rule, a) {
      const p = reach.pos.get(lookup.identityOf(a));
      return p !== undefined && reach.holds(rule, 'from', p);
    },
  };
}

function peersHold(peers: IrPeers, groups: ReadonlySet<string>): boolean {
  return peers === 'any' || peers.groups.some((g) => groups.has(g));
}

/** Whether a rule side as written can hold an address in `groups` (a quick test; the IR's form decides). */
function mayHold(refs: PeerRef[], groups: ReadonlySet<string>): boolean {
  return refs.some((p) => p.kind === 'any' || groups.has(p.name));
}

/** The compiled policy for the addresses asked about only: no identity table, LPM or rule index of the whole fabric. */
export class ScopedView implements CompiledView {
  private readonly identities: ScopedIdentities;
  private readonly rules: IrRule[] = [];

  constructor(
    private readonly policy: Policy,
    fabric: Fabric,
  ) {
    this.identities = new ScopedIdentities(policy, fabric);
  }

  private rule(index: number): IrRule {
    return (this.rules[index] ??= irRule(this.policy.rules[index]));
  }

  identityOf(a: IpAddr): { id: number; groups: string[] } {
    return this.identities.identityOf(a);
  }

  firstMatch(flow: Flow): number {
    const src = new Set(this.identities.groupsOf(flow.src));
    const dst = new Set(this.identities.groupsOf(flow.dst));
    const { proto, key } = irKey(flow);
    for (let i = 0; i < this.policy.rules.length; i++) {
      // The IR form costs more than a glance at the rule's own sides: built only for rules that can match.
      const { from, to } = this.policy.rules[i];
      if (!mayHold(from, src) || !mayHold(to, dst)) continue;
      const r = this.rule(i);
      if (peersHold(r.from, src) && peersHold(r.to, dst) && servicesHold(r.services, proto, key)) return i;
    }
    return -1;
  }

  sourceHolds(rule: number, a: IpAddr): boolean {
    return peersHold(this.rule(rule).from, new Set(this.identities.groupsOf(a)));
  }
}
