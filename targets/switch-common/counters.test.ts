// Switch counters back to rules: the origin texts both switch targets write,
// read back; and, over the example fabric compiled for real, every P4 entry
// and OpenConfig acl-entry names a rule of the policy, its replies, the
// default or an entry of Weft's own, never a rule the policy lacks.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readBundle } from '../../orchestrator/compile/bundle.ts';
import { compileBundle } from '../../orchestrator/compile/driver.ts';
import { openconfigCounterHits } from '../openconfig/counters.ts';
import { readAclConfig } from '../openconfig/verify.ts';
import { p4CounterHits } from '../p4/counters.ts';
import type { EntriesDocument } from '../p4/entries.ts';
import { entryOrigin, sumByOrigin } from './counters.ts';

const repo = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), `weft-counters-${process.pid}-`));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('switch entries back to rules', () => {
  it('reads each kind of origin', () => {
    expect(entryOrigin('rule web-to-db')).toEqual({ kind: 'rule', label: 'web-to-db' });
    expect(entryOrigin('rule 3 web-to-db')).toEqual({ kind: 'rule', label: 'web-to-db' });
    expect(entryOrigin('rule 3 web-to-db (reply)')).toEqual({ kind: 'reply', label: 'web-to-db' });
    expect(entryOrigin('reply of web-to-db')).toEqual({ kind: 'reply', label: 'web-to-db' });
    expect(entryOrigin('reply of a, b and 2 more')).toEqual({ kind: 'other', label: 'reply of a, b and 2 more' });
    expect(entryOrigin('default deny')).toEqual({ kind: 'default', label: 'default' });
    expect(entryOrigin('neighbour discovery')).toEqual({ kind: 'other', label: 'neighbour discovery' });
  });

  it('sums a rule over its entries, bytes only where counted', () => {
    const hits = sumByOrigin([
      { origin: 'rule a', packets: 2n, bytes: 100n },
      { origin: 'default deny', packets: 1n },
      { origin: 'rule a', packets: 3n, bytes: 50n },
    ]);
    expect(hits).toEqual([
      { kind: 'rule', label: 'a', packets: 5n, bytes: 150n },
      { kind: 'default', label: 'default', packets: 1n },
    ]);
  });

  it('counts a P4 exact block closing as the default unless the block permits by default', () => {
    const e = (origin: string, packets: bigint) => ({ entry: { origin }, packets, bytes: packets * 60n });
    expect(p4CounterHits([e('eth1 exact: rule 0 a', 1n), e('eth1 exact: other sources', 4n), e('prefilter: rule 0 a', 2n)])).toEqual([
      { kind: 'rule', label: 'a', packets: 3n, bytes: 180n },
      { kind: 'default', label: 'default', packets: 4n, bytes: 240n },
    ]);
    expect(p4CounterHits([e('eth1 exact: default permit', 1n), e('eth1 exact: other sources', 4n)])).toEqual([
      { kind: 'default', label: 'default', packets: 1n, bytes: 60n },
      { kind: 'other', label: 'other sources', packets: 4n, bytes: 240n },
    ]);
  });

  it('names every entry of the compiled example after a rule of its policy, the default or Weft itself', async () => {
    const out = join(work, 'out');
    await compileBundle({ policyPath: join(repo, 'examples/policy.yaml'), inventoryPath: join(repo, 'examples/fabric.yaml'), outDir: out });
    const bundle = await readBundle(out);
    const names = new Set(bundle.ir.rules.map((r) => r.name));
    let checked = 0;
    let ruleHits = 0;
    for (const md of bundle.manifest.devices) {
      const dir = bundle.deviceDir(md.name);
      let hits;
      if (md.target === 'p4') {
        const doc = JSON.parse(readFileSync(join(dir, 'entries.json'), 'utf8')) as EntriesDocument;
        hits = p4CounterHits(doc.updates.map((u) => ({ entry: { origin: Buffer.from(u.entity.tableEntry.metadata ?? '', 'base64').toString('utf8') }, packets: 1n, bytes: 0n })));
      } else if (md.target === 'openconfig') {
        const acl = readAclConfig(readFileSync(join(dir, 'acl.json'), 'utf8'));
        const counted = new Map(acl.interfaces.flatMap((i) => i.ingress.flatMap((r) => (acl.sets.find((s) => s.name === r.setName && s.type === r.type)?.entries ?? []).map((x) => [`${i.id}/${r.setName}/${r.type}/${x.seq}`, 1n] as const))));
        hits = openconfigCounterHits(acl, counted);
      } else continue;
      checked++;
      ruleHits += hits.filter((h) => h.kind === 'rule').length;
      for (const h of hits) {
        if (h.kind === 'rule' || h.kind === 'reply') expect(names.has(h.label), `${md.name}: ${h.kind} ${h.label}`).toBe(true);
        else if (h.kind === 'other') expect(h.label, md.name).not.toMatch(/^rule /);
      }
    }
    expect(checked).toBeGreaterThan(0);
    expect(ruleHits).toBeGreaterThan(checked);
    console.log(`counters: checked the entry origins of ${checked} switches of the example fabric (${ruleHits} rules counted)`);
  });
});
