// The IR builder: identities and their LPM table, then the ordered rules with
// their sides as identity sets named by groups (`any` kept as a wildcard) and
// their services as port-key ranges. Its size is that of the policy and the
// identities; nothing here multiplies identities by identities.

import type { PeerRef, Policy, Rule } from '../policy/model.ts';
import type { Fabric } from '../../inventory/model.ts';
import { buildIdentities, type IdentityTable } from '../identity/build.ts';
import { logger } from '../log.ts';
import type { Ir, IrPeers, IrRule } from './model.ts';
import { ruleShape } from './expand.ts';

const log = logger('ir');

function peersOf(refs: PeerRef[]): IrPeers {
  if (refs.some((p) => p.kind === 'any')) return 'any';
  const groups = new Set<string>();
  for (const p of refs) if (p.kind === 'group') groups.add(p.name);
  return { groups: [...groups].sort() };
}

/** A policy rule in the IR's form. */
export function irRule(r: Rule): IrRule {
  return {
    index: r.index,
    name: r.name,
    section: r.section,
    action: r.action,
    log: r.log,
    span: r.span,
    from: peersOf(r.from),
    to: peersOf(r.to),
    services: ruleShape(r.ports),
  };
}

/** `table`: the identities when already built (benchmarks time the two phases apart). */
export function buildIr(policy: Policy, fabric: Fabric, table: IdentityTable = buildIdentities(policy, fabric)): Ir {
  const t0 = performance.now();
  const { identities, lpm } = table;
  policy.rules.forEach((r, i) => {
    if (r.index !== i) throw new Error(`rule ${r.name}: index ${r.index} is not its position ${i}`);
  });
  const rules: IrRule[] = policy.rules.map(irRule);
  log.debug({ identities: identities.length, lpm: lpm.length, rules: rules.length, ms: performance.now() - t0 }, 'ir built');
  return {
    policyName: policy.name,
    policyDigest: policy.digest,
    fabricDigest: fabric.digest,
    defaultAction: policy.defaultAction,
    identities,
    lpm,
    rules,
  };
}
