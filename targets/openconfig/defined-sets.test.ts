// Defined sets against expansion: on generated scenarios the set form, once
// resolved, programs exactly the entries the expanded form writes (same
// matches, actions and order), with the same device cost; a rule over two
// large groups costs a handful of config entries instead of their product;
// and the reader refuses broken set references.

import { describe, expect, it } from 'vitest';
import { generateScenario, makeRng } from '../../orchestrator/testing/generate.ts';
import type { CodegenInput } from '../contract.ts';
import { planAcl } from './codegen.ts';
import { jsonIetfValue } from './gnmi.ts';
import { AclConfigError, aclDocumentJson, definedSetsContentJson, parseAclDocument, resolveDefinedSets, type AclConfig } from './model.ts';
import { buildSetRequest } from './set-request.ts';
import { nameableDenies, openconfigInputs, smallInput } from './testing.ts';

const withSets = (input: CodegenInput, definedSets: boolean): CodegenInput => ({ ...input, device: { ...input.device, capabilities: { definedSets } } });

/** Every acl-set's entries without sequence-ids: what the TCAM matches, in order. */
function programmed(c: AclConfig): string[] {
  // Keys sorted: the two writers build entries member by member in different orders.
  const text = (v: unknown): string =>
    JSON.stringify(v, (_k, x: unknown) =>
      typeof x === 'bigint' ? x.toString() : x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x,
    );
  return resolveDefinedSets(c).sets.flatMap((s) => s.entries.map(({ seq: _seq, ...e }) => `${s.name} ${text(e)}`));
}

describe('openconfig defined sets', () => {
  it('resolve to exactly the expanded entries on generated scenarios, at the same device cost', () => {
    let switches = 0;
    let expandedEntries = 0;
    let configEntries = 0;
    let prefixSets = 0;
    let portSets = 0;
    for (const seed of [21, 22, 23, 24, 25, 26]) {
      const sc = generateScenario(makeRng(seed), { switches: 2 });
      for (const input of openconfigInputs(nameableDenies(sc.policy), sc.fabric)) {
        const sets = planAcl(withSets(input, true));
        const flat = planAcl(withSets(input, false));
        expect(flat.config.definedSets).toBeUndefined();
        // Through the text artefact, as verify and the agent read it.
        const read = parseAclDocument(JSON.parse(JSON.stringify(aclDocumentJson(sets.config))));
        expect(programmed(read)).toEqual(programmed(flat.config));
        expect(sets.stats.entries).toBe(flat.stats.entries);
        expect(flat.stats.configEntries).toBe(flat.stats.entries);
        expect(sets.stats.configEntries).toBeLessThanOrEqual(flat.stats.configEntries);
        switches++;
        expandedEntries += flat.stats.entries;
        configEntries += sets.stats.configEntries;
        prefixSets += sets.stats.prefixSets;
        portSets += sets.stats.portSets;
      }
    }
    console.log(
      `openconfig defined sets: ${switches} switches, ${expandedEntries} device entries; config entries ${expandedEntries} expanded vs ${configEntries} with ${prefixSets} prefix-sets and ${portSets} port-sets`,
    );
    expect(switches).toBeGreaterThan(0);
    expect(prefixSets).toBeGreaterThan(0);
    expect(portSets).toBeGreaterThan(0);
    expect(configEntries).toBeLessThan(expandedEntries);
  });

  it('a rule over two 40-prefix groups and 4 port ranges: one entry and three sets, 6400 device entries', () => {
    const scattered = (net: number): string[] => Array.from({ length: 40 }, (_, i) => `10.${net}.${i * 2}.1/32`);
    const input = smallInput(
      [
        { name: 'many', from: ['a'], to: ['b'], ports: [{ protocol: 'tcp', port: 22 }, { protocol: 'tcp', port: 80 }, { protocol: 'tcp', port: 443 }, { protocol: 'tcp', port: '8000-8099' }], action: 'allow' },
        { name: 'fence-b', from: ['any'], to: ['b'], action: 'deny' },
      ],
      { capacity: 20_000, groups: { a: { cidrs: scattered(100) }, b: { cidrs: scattered(101) } } },
    );
    const sets = planAcl(withSets(input, true));
    const flat = planAcl(withSets(input, false));
    const many = (c: AclConfig) => c.sets.find((s) => s.name === 'weft-prefilter-ipv4')!.entries.filter((e) => e.description === 'rule many');
    expect(many(sets.config)).toHaveLength(1);
    expect(many(sets.config)[0]).toMatchObject({ srcSet: 'weft-a-v4', dstSet: 'weft-b-v4', dstPortSet: 'weft-many-dst-ports' });
    expect(many(flat.config)).toHaveLength(40 * 40 * 4);
    expect(sets.config.definedSets!.portSets.find((p) => p.name === 'weft-many-dst-ports')!.ports).toEqual([
      { lo: 22, hi: 22 },
      { lo: 80, hi: 80 },
      { lo: 443, hi: 443 },
      { lo: 8000, hi: 8099 },
    ]);
    expect(sets.stats.entries).toBe(flat.stats.entries);
    expect(sets.stats.entries).toBeGreaterThan(6400);
    // One Set installs the sets with the entries naming them; the expanded form never touches /defined-sets.
    const paths = (c: AclConfig) => buildSetRequest(c).replace.map((u) => u.path.elem.map((e) => e.name).join('/'));
    expect(paths(sets.config)).toEqual(['acl/acl-sets', 'acl/interfaces', 'defined-sets']);
    expect(jsonIetfValue(buildSetRequest(sets.config).replace[2].val)).toEqual(definedSetsContentJson(sets.config.definedSets!));
    expect(paths(flat.config)).toEqual(['acl/acl-sets', 'acl/interfaces']);
    expect(sets.stats.configEntries).toBeLessThan(60);
    // The device cost, not the config size, is what capacity bounds: at 6000
    // the prefilter leaves the deny (and the allow it protects) to the hosts.
    const cut = planAcl(withSets({ ...input, device: { ...input.device, capacity: { aclEntries: 6000 } } }, true));
    expect(cut.stats.entries).toBeLessThanOrEqual(6000);
    expect(many(cut.config)).toHaveLength(0);
    expect(cut.notes.join('\n')).toMatch(/1 deny rule\(s\) left to the hosts to fit capacity\.aclEntries 6000/);
  });

  it('the reader refuses a reference to a missing set, a set and an address together, and excluded members', () => {
    const input = smallInput([{ name: 'web-to-db', from: ['web'], to: ['db'], ports: [{ protocol: 'tcp', port: 5432 }], action: 'allow' }]);
    const doc = aclDocumentJson(planAcl(input).config) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const problems = (mutate: (d: typeof doc) => void): string => {
      const d = JSON.parse(JSON.stringify(doc)) as typeof doc;
      mutate(d);
      try {
        parseAclDocument(d);
      } catch (e) {
        if (e instanceof AclConfigError) return e.message;
        throw e;
      }
      return '';
    };
    const entryWithSet = (d: typeof doc) =>
      (d['openconfig-acl:acl']['acl-sets']['acl-set'] as any[]).flatMap((s) => s['acl-entries']['acl-entry']).find((e) => e.ipv4?.config?.['source-address-prefix-set']); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(entryWithSet(doc)).toBeDefined();
    expect(problems(() => {})).toBe('');
    expect(problems((d) => (entryWithSet(d).ipv4.config['source-address-prefix-set'] = 'nope'))).toMatch(/source-address-prefix-set: references unknown ipv4-prefix-set "nope"/);
    expect(problems((d) => (entryWithSet(d).ipv4.config['source-address'] = '10.0.0.0/8'))).toMatch(/source-address and source-address-prefix-set together/);
    expect(problems((d) => delete d['openconfig-defined-sets:defined-sets'])).toMatch(/references unknown ipv4-prefix-set/);
    expect(
      problems((d) => (d['openconfig-defined-sets:defined-sets']['ipv4-prefix-sets']['ipv4-prefix-set'][0].config['exclude-prefix'] = ['10.0.1.11/32'])),
    ).toMatch(/exclude-prefix is not supported/);
  });
});
