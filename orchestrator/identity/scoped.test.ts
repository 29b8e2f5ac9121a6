// The identities of single addresses, computed without the whole table,
// against the whole table (buildIdentities and its LPM): the same id and
// groups for every address that can tell them apart.

import { describe, expect, it } from 'vitest';
import type { Fabric } from '../../inventory/model.ts';
import { buildIr } from '../ir/build.ts';
import { IrLookup } from '../ir/lookup.ts';
import type { Family, IpAddr } from '../net/ip.ts';
import { cidrRange } from '../net/ip.ts';
import type { Policy } from '../policy/model.ts';
import { ip, makeFabric, makePolicy } from '../testing/build.ts';
import { generateScenario, makeRng } from '../testing/generate.ts';
import { FIRST_HASHED_IDENTITY, signatureSlot } from './build.ts';
import { ScopedIdentities } from './scoped.ts';

/** Endpoint addresses and every prefix's edges and their neighbours. */
function probes(policy: Policy, fabric: Fabric): IpAddr[] {
  const out: IpAddr[] = fabric.endpoints.flatMap((e) => e.addresses);
  const max: Record<Family, bigint> = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n };
  for (const g of policy.groups.values()) {
    for (const c of [...g.cidrs, ...g.except]) {
      const { lo, hi } = cidrRange(c);
      for (const v of [lo - 1n, lo, lo + 1n, hi - 1n, hi, hi + 1n]) if (v >= 0n && v <= max[c.family]) out.push({ family: c.family, value: v });
    }
  }
  return out;
}

/** Addresses whose scoped identity differs from the whole table's, and how many were compared. */
function compare(policy: Policy, fabric: Fabric): { addresses: number; mismatches: string[] } {
  const ir = buildIr(policy, fabric);
  const lookup = new IrLookup(ir);
  const groupsOf = new Map(ir.identities.map((i) => [i.id, i.groups]));
  const scoped = new ScopedIdentities(policy, fabric);
  const addrs = probes(policy, fabric);
  const mismatches: string[] = [];
  for (const a of addrs) {
    const id = lookup.identityOf(a);
    const want = { id, groups: groupsOf.get(id) ?? [] };
    const got = scoped.identityOf(a);
    if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${a.family}/${a.value}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
  }
  return { addresses: addrs.length, mismatches };
}

/** Three group names whose one-group signatures take slots s, s and s + 1: their ids are settled by probing. */
function collidingNames(): string[] {
  const bySlot = new Map<number, string[]>();
  for (let i = 0; i < 300_000; i++) {
    const name = `c${i}`;
    const slot = signatureSlot([name]);
    const l = bySlot.get(slot);
    if (l) l.push(name);
    else bySlot.set(slot, [name]);
  }
  for (const [slot, names] of bySlot) {
    const next = bySlot.get(slot + 1);
    if (names.length >= 2 && next) return [next[0], names[0], names[1]];
  }
  throw new Error('no colliding names found');
}

describe('ScopedIdentities', () => {
  it('gives every address of 40 generated scenarios the id and groups of the whole identity table', () => {
    let addresses = 0;
    const mismatches: string[] = [];
    for (let seed = 1; seed <= 40; seed++) {
      const { policy, fabric } = generateScenario(makeRng(seed), seed % 4 === 0 ? { endpoints: 300, groups: 30 } : {});
      const r = compare(policy, fabric);
      addresses += r.addresses;
      mismatches.push(...r.mismatches);
    }
    console.log(`scoped identities: ${addresses} addresses over 40 generated scenarios, ${mismatches.length} mismatches`);
    expect(mismatches).toEqual([]);
    expect(addresses).toBeGreaterThan(10_000);
  });

  it('handles shared addresses, prefixes covered by endpoints, a /32 group on an endpoint, a covered /0, and colliding ids', () => {
    const [c1, c2, c3] = collidingNames();
    const policy = makePolicy({
      groups: {
        web: { selector: { app: 'web' } },
        db: { selector: { app: 'db' } },
        net: { cidrs: ['10.0.0.0/30'] },
        one: { cidrs: ['10.0.1.5/32'] },
        halves: { cidrs: ['0.0.0.0/1', '128.0.0.0/1'], except: ['10.9.0.0/16', '172.16.0.0/16'] },
        [c1]: { cidrs: ['172.16.1.0/24'] },
        [c2]: { cidrs: ['172.16.2.0/24'] },
        [c3]: { cidrs: ['172.16.3.0/24'] },
        v6: { cidrs: ['fd00::/64'] },
      },
      rules: [{ from: ['web'], to: ['db'], action: 'allow' }],
    });
    const fabric = makeFabric([
      { name: 'e0', addresses: ['10.0.0.0'], labels: { app: 'web' } },
      { name: 'e1', addresses: ['10.0.0.1'], labels: { app: 'db' } },
      { name: 'e2', addresses: ['10.0.0.2'], labels: { app: 'web' } },
      { name: 'e3', addresses: ['10.0.0.3'], labels: { app: 'web' } },
      { name: 'one', addresses: ['10.0.1.5'], labels: { app: 'db' } },
      { name: 'shared-web', addresses: ['10.0.2.7', 'fd00::7'], labels: { app: 'web' } },
      { name: 'shared-db', addresses: ['10.0.2.7', 'fd00::7'], labels: { app: 'db' } },
      { name: 'held', addresses: ['10.9.0.1', 'fd00:1::1'], labels: { team: 'x' } },
    ]);
    expect(compare(policy, fabric).mismatches).toEqual([]);
    const scoped = new ScopedIdentities(policy, fabric);
    expect(scoped.identityOf(ip('10.0.2.7')).groups).toEqual(['db', 'halves', 'web']);
    // The three colliding signatures cannot all keep their hashed slot.
    const names = [c1, c2, c3];
    const slots = names.map((n, k) => scoped.identityOf(ip(`172.16.${k + 1}.9`)).id - FIRST_HASHED_IDENTITY);
    expect(new Set(slots).size).toBe(3);
    expect(slots.filter((s, k) => s !== signatureSlot([names[k]])).length).toBeGreaterThan(0);
  });
});
