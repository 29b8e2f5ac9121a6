// `weft import` through the CLI entry point: the written policy and fabric
// pass `weft validate` together, warnings carry file:line:col on stderr,
// --json is one parseable document, bad input exits 2 and writes nothing.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from './main.ts';

const K8S = 'test/fixtures/import/k8s-basic/networkpolicy.yaml';
const K8S_LOSSY = 'test/fixtures/import/k8s-list/policies.json';
const CILIUM = 'test/fixtures/import/cilium-basic/policies.yaml';
const NETBOX = 'test/fixtures/import/netbox-dc1';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'weft-import-test-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('weft import', () => {
  it('writes a policy and a fabric that weft validate accepts together', async () => {
    const fabric = join(work, 'fabric.yaml');
    const nb = await run('import', 'netbox', NETBOX, '--out', fabric);
    expect(nb.code).toBe(0);
    expect(nb.err).toContain('devices.json:203:17: warning: device spine1 is planned');
    for (const [source, input] of [['k8s', K8S], ['cilium', CILIUM]]) {
      const policy = join(work, `${source}.yaml`);
      const r = await run('import', source, input, '--out', policy, '--name', `${source}-import`);
      expect(r.code).toBe(0);
      expect(r.out).toBe('');
      expect(readFileSync(policy, 'utf8')).toContain(`# from ${input}:`);
      // Through the real binary, as a user runs it.
      const v = spawnSync(process.execPath, ['bin/weft.js', 'validate', '--policy', policy, '--inventory', fabric, '--json'], { encoding: 'utf8', timeout: 120_000 });
      expect(v.status).toBe(0);
      expect(JSON.parse(v.stdout).summary.policy).toBe(`${source}-import`);
    }
  });

  it('prints the document on stdout without --out, and the warnings with their positions on stderr', async () => {
    const r = await run('import', 'k8s', K8S_LOSSY);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^# Imported from Kubernetes NetworkPolicy/);
    expect(r.err).toContain(`${K8S_LOSSY}:10:46: warning:`);
    expect(r.err).toContain('[named-port]');
  });

  it('--json: one document with counts, warnings and the policy', async () => {
    const r = await run('import', 'k8s', K8S_LOSSY, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ ok: true, source: 'k8s', out: null, rules: 4, groups: 4 });
    expect(j.warnings).toHaveLength(6);
    expect(j.warnings[0].span).toEqual({ file: K8S_LOSSY, line: 10, col: 46 });
    expect(j.document).toContain('kind: Policy');
    expect(r.err).toBe('');
  });

  it.each([
    ['k8s', 'test/fixtures/import/bad-k8s/wrong-kind.yaml', 'wrong-kind.yaml:2:7: error: kind Service'],
    ['k8s', 'test/fixtures/import/netbox-dc1/netbox-import.yaml', 'netbox-import.yaml:3:1: error: manifest object: "kind" is missing'],
    ['cilium', 'test/fixtures/import/bad-cilium/policies.yaml', 'policies.yaml:9:11: error: CiliumNetworkPolicy prod/bad: spec.ingress[0]: unknown entity'],
    ['netbox', 'test/fixtures/import/bad-netbox/missing-page', 'page-1.json:2:12: error: NetBox reports 9 devices but the pages hold 4'],
    ['k8s', 'test/fixtures/import/bad-k8s/not-yaml.yaml', 'not-yaml.yaml:4:1: error: YAML syntax error'],
    ['k8s', 'test/fixtures/import/no-such-file.yaml', 'no-such-file.yaml:1:1: error: cannot read'],
  ])('%s %s: exits 2 with file:line:col and writes nothing', async (source, input, message) => {
    const out = join(work, `bad-${source}.yaml`);
    const r = await run('import', source, input, '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(existsSync(out)).toBe(false);
    const j = await run('import', source, input, '--json');
    expect(j.code).toBe(2);
    expect(JSON.parse(j.out).ok).toBe(false);
  });

  it('--cluster names the cluster label every pod selector carries', async () => {
    const r = await run('import', 'cilium', CILIUM, '--cluster', 'eu-west');
    expect(r.code).toBe(0);
    expect(r.out).toContain('selector: { io.cilium.k8s.policy.cluster: eu-west }');
    expect(r.out).not.toContain('io.cilium.k8s.policy.cluster: default');
  });

  it('--help, and usage errors exit 2', async () => {
    const h = await run('import', '--help');
    expect(h.code).toBe(0);
    expect(h.out).toContain('usage: weft import k8s|cilium FILE|DIR...');
    expect((await run('import', 'calico', K8S)).code).toBe(2);
    expect((await run('import', 'k8s')).code).toBe(2);
    expect((await run('import', 'k8s', K8S, '--options', 'x.yaml')).code).toBe(2);
    expect((await run('import', 'netbox', NETBOX, NETBOX)).code).toBe(2);
  });
});
