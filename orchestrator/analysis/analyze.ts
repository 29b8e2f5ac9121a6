// Policy analysis from the compiled IR: groups that resolve to no address,
// rules that can never match (shadowed by earlier rules), and rules whose
// removal would change no verdict (redundant). Exact (facts.ts walks classes
// of identities rather than sampling flows); on a policy too large for that
// walk, the shadowed and redundant checks are skipped with a note.

import type { Diagnostic } from '../diagnostics.ts';
import type { Policy, Rule } from '../policy/model.ts';
import type { Fabric } from '../../inventory/model.ts';
import type { Ir } from '../ir/model.ts';
import { policyFacts } from './facts.ts';

function isEmptySide(peers: Rule['from'], empty: Set<string>): boolean {
  return peers.every((p) => p.kind === 'group' && empty.has(p.name));
}

export function analyze(policy: Policy, _fabric: Fabric, ir: Ir): Diagnostic[] {
  const out: Diagnostic[] = [];
  const nonEmpty = new Set<string>();
  for (const id of ir.identities) for (const g of id.groups) nonEmpty.add(g);
  const empty = new Set<string>();
  for (const g of policy.groups.values()) {
    if (nonEmpty.has(g.name)) continue;
    empty.add(g.name);
    out.push({
      code: 'empty-group',
      severity: 'warning',
      message: `group ${g.name} resolves to no address`,
      span: g.span,
      hint: g.selector ? 'no endpoint of the inventory has every label of its selector, and its cidrs (minus except) are empty' : 'its except list covers all its cidrs',
    });
  }

  const facts = policyFacts(ir);
  if (!facts.exact) {
    out.push({ code: 'analysis-skipped', severity: 'warning', message: facts.skipped!, hint: 'the compile is unaffected; switch targets keep every rule' });
  }

  for (const r of policy.rules) {
    const fromEmpty = isEmptySide(r.from, empty);
    const toEmpty = isEmptySide(r.to, empty);
    if (fromEmpty || toEmpty) {
      const side = fromEmpty && toEmpty ? 'from and to' : fromEmpty ? 'from' : 'to';
      out.push({
        code: 'empty-group',
        severity: 'warning',
        message: `rule ${r.name} never matches: its ${side} groups resolve to no address`,
        span: r.span,
        hint: 'fix the groups or remove the rule',
      });
      continue;
    }
    if (!facts.exact) continue;
    const f = facts.rules[r.index];
    if (!f.wins) {
      if (!f.applies) {
        out.push({
          code: 'shadowed-rule',
          severity: 'warning',
          message: `rule ${r.name} never matches: its sources and destinations share no address family`,
          span: r.span,
          hint: 'a flow is IPv4 or IPv6 at both ends',
        });
        continue;
      }
      const by = [...f.coveredBy].sort((a, b) => a - b).map((i) => policy.rules[i].name);
      out.push({
        code: 'shadowed-rule',
        severity: 'warning',
        message: `rule ${r.name} is shadowed: earlier rules decide every flow it matches${by.length > 0 ? ` (${by.join(', ')})` : ''}`,
        span: r.span,
        hint: 'move it above the rules that shadow it, or remove it',
      });
      continue;
    }
    if (!f.needed) {
      out.push({
        code: 'redundant-rule',
        severity: 'warning',
        message: `rule ${r.name} is redundant: without it every flow it decides gets the same verdict (${r.action}) from later rules or the default`,
        span: r.span,
        hint: 'remove it, unless it is there for logging or documentation',
      });
    }
  }
  return out;
}
