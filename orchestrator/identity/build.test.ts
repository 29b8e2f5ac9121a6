// Identities and the LPM table: classes of equal membership, no class
// without addresses, ids stable across unrelated edits, a table that
// resolves every address.

import { describe, expect, it } from 'vitest';
import { buildIdentities, FIRST_HASHED_IDENTITY } from './build.ts';
import { buildIr } from '../ir/build.ts';
import { IrLookup } from '../ir/lookup.ts';
import { WORLD_IDENTITY, type Ir } from '../ir/model.ts';
import { ip, makeFabric, makePolicy, type EndpointSpec } from '../testing/build.ts';
import { generateScenario, makeRng } from '../testing/generate.ts';

describe('buildIdentities', () => {
  it('gives the world identity to addresses in no group, and pairs only identities of a common family', () => {
    const policy = makePolicy({
      groups: { a: { cidrs: ['10.0.0.0/8'] }, b: { cidrs: ['10.0.0.0/8', '192.168.0.0/16'] } },
      rules: [{ from: ['a'], to: ['b'], action: 'allow' }],
    });
    const ir = buildIr(policy, makeFabric([]));
    const lookup = new IrLookup(ir);
    expect(lookup.identityOf(ip('8.8.8.8'))).toBe(WORLD_IDENTITY);
    expect(lookup.identityOf(ip('::1'))).toBe(WORLD_IDENTITY);
    const ab = lookup.identityOf(ip('10.1.1.1'));
    const bOnly = lookup.identityOf(ip('192.168.1.1'));
    expect(ab).not.toBe(bOnly);
    expect(ab).toBeGreaterThanOrEqual(FIRST_HASHED_IDENTITY);
    expect(ir.identities.find((i) => i.id === ab)).toEqual({ id: ab, groups: ['a', 'b'], endpoints: [], families: [4] });
    expect(ir.identities.find((i) => i.id === bOnly)?.groups).toEqual(['b']);
    expect(ir.identities.find((i) => i.id === WORLD_IDENTITY)?.families).toEqual([4, 6]);
    expect(ir.rules[0]).toMatchObject({ from: { groups: ['a'] }, to: { groups: ['b'] } });
  });

  it('never makes a class without addresses (a prefix tiled by its excepts)', () => {
    const policy = makePolicy({
      groups: { hollow: { cidrs: ['10.0.0.0/24'], except: ['10.0.0.0/25', '10.0.0.128/25'] } },
      rules: [{ from: ['hollow'], to: ['any'], action: 'allow' }],
    });
    const ir = buildIr(policy, makeFabric([]));
    expect(ir.identities.map((i) => i.groups)).toEqual([[]]);
  });

  it('gives a /0 tiled by longer prefixes a class that exists', () => {
    const policy = makePolicy({ groups: { lo: { cidrs: ['0.0.0.0/1'] }, hi: { cidrs: ['128.0.0.0/1'] } }, rules: [] });
    const { identities, lpm } = buildIdentities(policy, makeFabric([]));
    const v4 = identities.filter((i) => i.families?.includes(4)).map((i) => i.groups.join(','));
    expect(v4.sort()).toEqual(['hi', 'lo']);
    const ids = new Set(identities.map((i) => i.id));
    for (const e of lpm) expect(ids.has(e.id)).toBe(true);
  });

  it('keeps a selected endpoint inside an except hole in its group', () => {
    const policy = makePolicy({
      groups: { g: { selector: { app: 'x' }, cidrs: ['10.0.0.0/16'], except: ['10.0.5.0/24'] } },
      rules: [],
    });
    const fabric = makeFabric([
      { name: 'x1', addresses: ['10.0.5.7'], labels: { app: 'x' } },
      { name: 'y1', addresses: ['10.0.5.8'], labels: { app: 'y' } },
    ]);
    const ir = buildIr(policy, fabric);
    const lookup = new IrLookup(ir);
    const g = ir.identities.find((i) => i.groups.join() === 'g');
    expect(g?.endpoints).toEqual(['x1']);
    expect(lookup.identityOf(ip('10.0.5.7'))).toBe(g?.id);
    expect(lookup.identityOf(ip('10.0.5.8'))).toBe(WORLD_IDENTITY);
    expect(lookup.identityOf(ip('10.0.4.255'))).toBe(g?.id);
    expect(ir.identities.find((i) => i.id === WORLD_IDENTITY)?.endpoints).toEqual(['y1']);
  });

  it('keeps ids of identities an edit did not touch', () => {
    const groups = {
      web: { selector: { app: 'web' } },
      db: { selector: { app: 'db' } },
      ops: { cidrs: ['10.250.0.0/16'] },
      lab: { cidrs: ['10.0.0.0/16'], except: ['10.0.9.0/24'] },
    };
    const eps: EndpointSpec[] = [
      { name: 'w1', addresses: ['10.0.1.1'], labels: { app: 'web' } },
      { name: 'w2', addresses: ['10.1.1.2'], labels: { app: 'web' } },
      { name: 'd1', addresses: ['10.0.2.1'], labels: { app: 'db' } },
      { name: 'd2', addresses: ['10.3.2.1'], labels: { app: 'db' } },
      { name: 'o1', addresses: ['10.250.0.9'], labels: { app: 'web' } },
    ];
    const rules = [{ from: ['web'], to: ['db'], action: 'allow' as const }];
    const before = buildIr(makePolicy({ groups, rules }), makeFabric(eps));
    const after = buildIr(makePolicy({ groups: { ...groups, ops: { cidrs: ['10.250.0.0/15', 'fd00::/8'] } }, rules }), makeFabric(eps));
    const idsOf = (ir: Ir): Map<string, number> => new Map(ir.identities.map((i) => [i.groups.join(','), i.id]));
    const b = idsOf(before);
    const a = idsOf(after);
    let kept = 0;
    for (const [sig, id] of b) {
      if (sig.split(',').includes('ops')) continue;
      expect({ sig, id: a.get(sig) }).toEqual({ sig, id });
      kept++;
    }
    expect(kept).toBeGreaterThanOrEqual(4);
    expect(a.get('ops,web')).toBe(b.get('ops,web'));
  });

  it('emits a sorted LPM table with a /0 per family and only known ids', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const { policy, fabric } = generateScenario(makeRng(seed));
      const { identities, lpm } = buildIdentities(policy, fabric);
      const ids = new Set(identities.map((i) => i.id));
      expect(ids.size).toBe(identities.length);
      expect(identities.map((i) => i.id)).toEqual([...ids].sort((x, y) => x - y));
      const sigs = new Set(identities.map((i) => i.groups.join(',')));
      expect(sigs.size).toBe(identities.length);
      expect(lpm.filter((e) => e.prefix.len === 0).map((e) => e.prefix.family)).toEqual([4, 6]);
      for (let i = 1; i < lpm.length; i++) {
        const p = lpm[i - 1].prefix;
        const q = lpm[i].prefix;
        const before = p.family < q.family || (p.family === q.family && (p.addr < q.addr || (p.addr === q.addr && p.len < q.len)));
        expect(before).toBe(true);
      }
      for (const e of lpm) expect(ids.has(e.id)).toBe(true);
    }
  });
});
