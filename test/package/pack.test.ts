// The published package: `npm pack`, installed into an empty directory
// outside the checkout, runs `weft --version` and `weft validate` on the
// example it ships, and carries compiled JavaScript only (no TypeScript
// sources, no tests, no tsx at run time).

import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPacked, type PackedInstall } from './install-packed.ts';

const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

describe('npm pack', () => {
  let inst: PackedInstall;
  beforeAll(() => {
    inst = installPacked('weft-pack');
  }, 900_000);
  afterAll(() => inst?.remove());

  function weft(...args: string[]): { code: number | null; stdout: string; stderr: string } {
    // Run from the install's own directory, so nothing resolves through the checkout.
    const r = spawnSync(process.execPath, [inst.bin, ...args], { cwd: inst.dir, encoding: 'utf8', timeout: 120_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('installs a weft that prints its version', () => {
    const r = weft('--version');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`weft ${version}`);
  });

  it('validates the example it ships, and refuses bad input with exit 2', () => {
    const ex = join(inst.packageDir, 'examples');
    const r = weft('validate', '--policy', join(ex, 'policy.yaml'), '--inventory', join(ex, 'fabric.yaml'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok: policy dc1-segmentation \(23 rules/m);
    const bad = weft('validate', '--policy', ex, '--inventory', join(ex, 'fabric.yaml'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('[not-a-file]');
  });

  it('holds compiled JavaScript and the files read at run time, and no sources or tests', () => {
    const files = execFileSync('tar', ['tzf', inst.tarball], { encoding: 'utf8' }).trim().split('\n');
    for (const f of ['package/bin/weft.js', 'package/dist/orchestrator/cli/main.js', 'package/p4/weft.p4', 'package/p4/weft.p4info.txtpb', 'package/bpf/weft.bpf.c', 'package/targets/p4/proto/p4/v1/p4runtime.proto', 'package/targets/openconfig/proto/gnmi/gnmi.proto', 'package/examples/policy.yaml', 'package/dist/agent/weft-agent.mjs', 'package/dist/agent/koffi.node', 'package/dist/agent/agent.json']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => f.endsWith('.ts') || f.includes('.test.') || f.startsWith('package/test/'))).toEqual([]);
    const installed = JSON.parse(readFileSync(join(inst.packageDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(installed.dependencies)).not.toContain('tsx');
    expect(Object.keys(installed.dependencies)).not.toContain('typescript');
  });
});
