// Exact-port reply rules (exactReplyRules) against a direct walk of the
// concrete cells, remote by remote, regrouped the same way (replyRulesOf):
// the same rules, in the same order, on
// generated policies and fabrics, for every switch's exact locals and for
// random sets of locals, with and without the addresses behind the port.

import { describe, expect, it } from 'vitest';
import { buildIr } from '../../orchestrator/ir/build.ts';
import type { Ir } from '../../orchestrator/ir/model.ts';
import { concreteShareCells } from '../../orchestrator/ir/share.ts';
import type { IpAddr } from '../../orchestrator/net/ip.ts';
import { place } from '../../orchestrator/placement/place.ts';
import { generateScenario, makeRng } from '../../orchestrator/testing/generate.ts';
import { addressResolver, type AddressResolver } from './addresses.ts';
import { ANY_PEER, exactReplyRules, replyRulesOf, type SwitchRule } from './rules.ts';

const ECHO: Record<1 | 58, { request: number; reply: number }> = { 1: { request: 8, reply: 0 }, 58: { request: 128, reply: 129 } };

/** The reply ranges as a walk of every concrete cell finds them (one span per (local, protocol, remote), TCP per local), as switch rules. */
function directReplyRules(ir: Ir, localIdentities: Iterable<number>, resolver: AddressResolver, sources?: IpAddr[]): SwitchRule[] {
  const spans = new Map<string, { from: number; proto: number; to: number; ranges: { lo: number; hi: number; rule: string }[] }>();
  for (const cell of concreteShareCells(ir, localIdentities, 'ingress')) {
    const rule = ir.rules[cell.rule];
    if (rule.action !== 'allow') continue;
    const proto = cell.proto;
    let { lo, hi } = cell;
    if (proto === 1 || proto === 58) {
      const echo = ECHO[proto].request << 8;
      if (lo > echo || hi < echo) continue;
      lo = hi = echo;
    } else if (proto !== 6 && proto !== 17) continue;
    const to = proto === 6 ? ANY_PEER : cell.remote;
    const key = `${cell.local}|${proto}|${to}`;
    let s = spans.get(key);
    if (!s) spans.set(key, (s = { from: cell.local, proto, to, ranges: [] }));
    s.ranges.push({ lo, hi, rule: rule.name });
  }
  // Merged (reply source, proto, port range) -> reply destinations, then
  // regrouped by (proto, port range, destinations) so sources share rules.
  const byRange = new Map<string, { from: number; proto: number; lo: number; hi: number; to: Set<number>; rules: Set<string> }>();
  for (const s of spans.values()) {
    s.ranges.sort((x, y) => x.lo - y.lo);
    const merged: { lo: number; hi: number; rules: Set<string> }[] = [];
    for (const r of s.ranges) {
      const last = merged[merged.length - 1];
      if (last && r.lo <= last.hi + 1) {
        last.hi = Math.max(last.hi, r.hi);
        last.rules.add(r.rule);
      } else merged.push({ lo: r.lo, hi: r.hi, rules: new Set([r.rule]) });
    }
    for (const m of merged) {
      const key = `${s.from}|${s.proto}|${m.lo}|${m.hi}`;
      let g = byRange.get(key);
      if (!g) byRange.set(key, (g = { from: s.from, proto: s.proto, lo: m.lo, hi: m.hi, to: new Set(), rules: new Set() }));
      g.to.add(s.to);
      for (const n of m.rules) g.rules.add(n);
    }
  }
  return replyRulesOf(byRange.values(), resolver, sources);
}

describe('exact-port reply rules', () => {
  it('equal a direct walk of the concrete cells, rule for rule and in order', () => {
    let cases = 0;
    let rules = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const rng = makeRng(9100 + seed);
      const { policy, fabric } = generateScenario(rng, { switches: 3 });
      const ir: Ir = buildIr(policy, fabric);
      const resolver: AddressResolver = addressResolver(ir);
      const placement = place(policy, fabric, ir);
      const sets: number[][] = placement.devices.filter((d) => d.localIdentities.length > 0).map((d) => d.localIdentities);
      const ids = ir.identities.map((i) => i.id);
      for (let k = 0; k < 3; k++) sets.push(ids.filter(() => rng.chance(0.3)));
      const addresses: IpAddr[] = fabric.endpoints.flatMap((e) => e.addresses).filter(() => rng.chance(0.2));
      for (const locals of sets) {
        for (const sources of [undefined, addresses]) {
          const want = directReplyRules(ir, locals, resolver, sources);
          expect(exactReplyRules(ir, locals, resolver, sources)).toEqual(want);
          cases++;
          rules += want.length;
        }
      }
    }
    console.log(`exact reply rules: ${cases} (locals, sources) cases on 40 generated scenarios, ${rules} rules compared`);
    expect(rules).toBeGreaterThan(100);
  });
});
