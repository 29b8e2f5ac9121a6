// The P4 target through the compile driver: `weft compile` writes
// p4info.txtpb and entries.json per P4 switch, p4Target.verify (what
// `weft verify --target p4` runs) reads them back from the bundle alone and
// checks 200,000 flows against the reference; a table over capacity fails
// the compile with an input error naming the count (`weft compile` exits 2)
// and writes nothing.

import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileBundle } from '../../orchestrator/compile/driver.ts';
import { inputFor, readBundle } from '../../orchestrator/compile/bundle.ts';
import { InputError } from '../../orchestrator/diagnostics.ts';
import { p4Target } from './index.ts';

const REPO = join(import.meta.dirname, '..', '..');
const FIXTURE = join(REPO, 'test', 'fixtures', 'p4');
const work = mkdtempSync(join(tmpdir(), 'weft-p4-bundle-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Compiles the fixture with leaf1's `aclEntries: 1024` replaced by `capacity`
 * and returns the InputError it must fail with (the driver passes the
 * target's InputError through unchanged; the CLI exits 2 on it).
 */
async function compileWithCapacity(capacity: string, name: string): Promise<{ inv: string; out: string; input: InputError }> {
  const inv = join(work, `fabric-${name}.yaml`);
  writeFileSync(inv, readFileSync(join(FIXTURE, 'fabric.yaml'), 'utf8').replace('aclEntries: 1024', capacity));
  const out = join(work, `out-${name}`);
  let err: unknown;
  try {
    await compileBundle({ policyPath: join(FIXTURE, 'policy.yaml'), inventoryPath: inv, outDir: out });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InputError);
  return { inv, out, input: err as InputError };
}

describe('p4 target in a compiled bundle', () => {
  it('compiles, and verifies from the bundle alone with 0 mismatches', async () => {
    const out = join(work, 'out');
    await compileBundle({ policyPath: join(FIXTURE, 'policy.yaml'), inventoryPath: join(FIXTURE, 'fabric.yaml'), outDir: out });
    const bundle = await readBundle(out);
    for (const name of ['leaf1', 'spine1']) {
      const dir = bundle.deviceDir(name);
      expect(readFileSync(join(dir, 'p4info.txtpb'), 'utf8')).toContain('WeftIngress.acl.weft_acl');
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
    // leaf1 takes 30 entries and 2 closing ones; its rules alone need 27 (aclFloor).
    const { inv, out, input } = await compileWithCapacity('aclEntries: 28', 'small');
    expect(input.diagnostics.map((d) => d.code)).toEqual(['capacity-exceeded']);
    expect(input.message).toMatch(/leaf1: the policy needs \d+ entries in p4 table weft_acl \(\d+ for the policy, 2 to drop all IP while a change too big for two generations is made in place\), more than 28 \(capacity\.aclEntries of leaf1\)/);
    expect(input.message).toMatch(/fabric-small\.yaml:\d+:\d+: error: /);
    expect(existsSync(out)).toBe(false);

    // The CLI reports it as an input error: exit 2, the diagnostic on stderr, nothing written.
    const cli = spawnSync(process.execPath, ['bin/weft.js', 'compile', '--policy', join(FIXTURE, 'policy.yaml'), '--inventory', inv, '--out', out], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, WEFT_LOG_LEVEL: 'warn' },
    });
    expect(cli.status).toBe(2);
    expect(cli.stderr).toMatch(/fabric-small\.yaml:\d+:\d+: error: leaf1: the policy needs \d+ entries in p4 table weft_acl \(\d+ for the policy, 2 .*\), more than 28 \(capacity\.aclEntries of leaf1\); costliest: rule '[\w-]+' \(\S*policy\.yaml:\d+:\d+\): \d+ entries.*\[capacity-exceeded\]/);
    expect(existsSync(out)).toBe(false);

    // Far too small: refused on its rules alone, before its addresses are classified.
    const tiny = await compileWithCapacity('aclEntries: 16', 'tiny');
    expect(tiny.input.diagnostics.map((d) => d.code)).toEqual(['capacity-exceeded']);
    expect(tiny.input.message).toMatch(/leaf1: the policy needs at least 27 entries in p4 table weft_acl \(one per service and port of each rule, before its addresses are classified\), more than 16 \(capacity\.aclEntries of leaf1\); costliest: rule '[\w-]+' \(\S*policy\.yaml:\d+:\d+\): \d+ entries at least/);
    expect(existsSync(tiny.out)).toBe(false);
  });

  it('refuses a switch whose classifier tables would overflow, naming each table', async () => {
    const { out, input } = await compileWithCapacity('aclEntries: 1024, lpmEntries: 1', 'lpm');
    expect(input.diagnostics.length).toBeGreaterThan(0);
    for (const d of input.diagnostics) {
      expect(d.code).toBe('capacity-exceeded');
      // The rules whose address sets on that side have the most prefixes, with where they are written.
      expect(d.message).toMatch(/^leaf1: the policy needs \d+ entries in p4 table weft_(src|dst)_class_v[46], more than 1 \(capacity\.lpmEntries of leaf1\); costliest: rule '[\w-]+' \(\S*policy\.yaml:\d+:\d+\): \d+ IPv[46] prefixes in its (source|destination) set/);
    }
    expect(existsSync(out)).toBe(false);
  });

  it("fits the example policy on the example's P4 leaves with a 1,024-entry ACL", async () => {
    const inv = join(work, 'example-1024.yaml');
    const text = readFileSync(join(REPO, 'examples', 'fabric.yaml'), 'utf8');
    expect(text.match(/aclEntries: 4096/g)).toHaveLength(2);
    writeFileSync(inv, text.replaceAll('aclEntries: 4096', 'aclEntries: 1024'));
    const out = join(work, 'out-example');
    await compileBundle({ policyPath: join(REPO, 'examples', 'policy.yaml'), inventoryPath: inv, outDir: out });
    const bundle = await readBundle(out);
    const leaves = bundle.placement.devices.filter((d) => d.target === 'p4');
    expect(leaves.map((d) => d.device).sort()).toEqual(['leaf1', 'leaf2']);
    for (const { device } of leaves) {
      const doc = JSON.parse(readFileSync(join(bundle.deviceDir(device), 'entries.json'), 'utf8')) as { updates: { entity: { tableEntry: { priority?: number } } }[] };
      const acl = doc.updates.filter((u) => u.entity.tableEntry.priority).length;
      console.log(`example ${device}: ${acl} ACL entries, ${doc.updates.length - acl} classifier entries`);
      // Room for the policy and the 2 entries of an in-place change; README: 27 and 38.
      expect(acl).toBeGreaterThan(0);
      expect(acl + 2).toBeLessThanOrEqual(1024);
    }
  });
});
