// The P4 target through the compile driver: `weft compile` writes
// p4info.txtpb and entries.json per P4 switch, p4Target.verify (what
// `weft verify --target p4` runs) reads them back from the bundle alone and
// checks 200,000 flows against the reference; a table over capacity fails
// the compile, naming the count, and writes nothing.

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileBundle } from '../../orchestrator/compile/driver.ts';
import { inputFor, readBundle } from '../../orchestrator/compile/bundle.ts';
import { InputError } from '../../orchestrator/diagnostics.ts';
import { p4Target } from './index.ts';

const FIXTURE = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'p4');
const work = mkdtempSync(join(tmpdir(), 'weft-p4-bundle-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('p4 target in a compiled bundle', () => {
  it('compiles, and verifies from the bundle alone with 0 mismatches', async () => {
    const out = join(work, 'out');
    await compileBundle({ policyPath: join(FIXTURE, 'policy.yaml'), inventoryPath: join(FIXTURE, 'fabric.yaml'), outDir: out });
    const bundle = await readBundle(out);
    for (const name of ['leaf1', 'spine1']) {
      const dir = bundle.deviceDir(name);
      expect(readFileSync(join(dir, 'p4info.txtpb'), 'utf8')).toContain('WeftIngress.weft_acl');
      const doc = JSON.parse(readFileSync(join(dir, 'entries.json'), 'utf8')) as { updates: { type: string }[] };
      expect(doc.updates.length).toBeGreaterThan(0);
      expect(doc.updates.every((u) => u.type === 'INSERT')).toBe(true);
      const input = inputFor(bundle, name);
      const report = await p4Target.verify(dir, input, { packets: 200_000, seed: 5 });
      console.log(`p4 verify bundle ${name} (${report.mode}): ${report.flows} flows, ${report.mismatches} mismatches, ${doc.updates.length} entries`);
      expect(report.examples).toEqual([]);
      expect(report.mismatches).toBe(0);
      expect(report.flows).toBe(200_000);
    }
    expect(bundle.placement.devices.find((d) => d.device === 'leaf1')?.mode).toBe('exact');

    // A tampered artefact is caught: flip one deny to permit.
    const dir = bundle.deviceDir('leaf1');
    const path = join(dir, 'entries.json');
    const doc = JSON.parse(readFileSync(path, 'utf8')) as { updates: { entity: { tableEntry: { action: { action: { actionId: number } } } } }[] };
    const deny = doc.updates.filter((u) => u.entity.tableEntry.action.action.actionId === 16777218);
    for (const u of deny) u.entity.tableEntry.action.action.actionId = 16777217;
    writeFileSync(path, JSON.stringify(doc));
    const bad = await p4Target.verify(dir, inputFor(bundle, 'leaf1'), { packets: 20_000, seed: 5 });
    expect(bad.mismatches).toBeGreaterThan(0);
    expect(bad.examples.length).toBeGreaterThan(0);
  });

  it('refuses a switch whose table would overflow, and writes nothing', async () => {
    const fabric = readFileSync(join(FIXTURE, 'fabric.yaml'), 'utf8').replace('aclEntries: 1024', 'aclEntries: 16');
    const inv = join(work, 'fabric-small.yaml');
    writeFileSync(inv, fabric);
    const out = join(work, 'out-small');
    let err: unknown;
    try {
      await compileBundle({ policyPath: join(FIXTURE, 'policy.yaml'), inventoryPath: inv, outDir: out });
    } catch (e) {
      err = e;
    }
    // The driver may wrap the target's error with its context; the InputError is kept as the cause.
    const input = err instanceof InputError ? err : (err as Error).cause;
    expect(input).toBeInstanceOf(InputError);
    expect((input as InputError).diagnostics[0].code).toBe('capacity-exceeded');
    expect((err as Error).message).toMatch(/leaf1: the policy needs \d+ p4 table entries, more than 16 \(capacity\.aclEntries of leaf1\)/);
    expect((err as Error).message).toContain('fabric-small.yaml:');
    expect(existsSync(out)).toBe(false);
  });
});
