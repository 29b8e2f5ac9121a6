// The offload gate between the checker and the bundle: a program that breaks
// its profile is an input error at the C line, a good one leaves its report
// in the bundle, and a compile of a fabric with an nfp SmartNIC carries
// offload-check.json for it.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { Device } from '../../inventory/model.ts';
import { compileBundle } from '../../orchestrator/compile/driver.ts';
import { InputError } from '../../orchestrator/diagnostics.ts';
import { gateOffload, OFFLOAD_CHECK_FILE } from './offload-gate.ts';
import { PROFILES } from './profiles.ts';
import { SMALL_POLICY_YAML } from './testing.ts';

const TESTDATA = fileURLToPath(new URL('./offload-check/testdata/', import.meta.url));
let clang = true;
try {
  execFileSync('clang', ['--version'], { stdio: 'pipe' });
} catch {
  clang = false;
}
if (!clang && process.env.CI === 'true') throw new Error('offload gate tests cannot run: clang is not installed (scripts/setup.sh installs it)');
if (!clang) console.warn('skipping offload gate tests: clang is not installed (scripts/setup.sh installs it)');

const work = mkdtempSync(join(tmpdir(), `weft-offload-gate-${process.pid}-`));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function compile(name: string): Uint8Array {
  const out = join(work, `${name}.o`);
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-I/usr/include/x86_64-linux-gnu', '-c', join(TESTDATA, `${name}.bpf.c`), '-o', out], { stdio: 'pipe' });
  return new Uint8Array(readFileSync(out));
}

const nic = { name: 'nic1', kind: 'smartnic', profile: 'nfp', attachedTo: 'host1', mgmt: {}, labels: {}, span: { file: 'fabric.yaml', line: 7, col: 7 } } as Device;

describe.skipIf(!clang)('offload gate', () => {
  it('refuses a program that breaks an nfp rule, at the C line that breaks it', () => {
    const lines = readFileSync(join(TESTDATA, 'lpm.bpf.c'), 'utf8').split('\n');
    const marked = lines.findIndex((l) => l.includes('offload: mapTypes')) + 1;
    let err: unknown;
    try {
      gateOffload(nic, PROFILES.nfp, compile('lpm'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    const d = (err as InputError).diagnostics;
    expect(d.map((x) => x.code)).toContain('offload-violation');
    const lpm = d.find((x) => x.message.includes('mapTypes'))!;
    expect(lpm.span?.file).toMatch(/lpm\.bpf\.c$/);
    expect(lpm.span?.line).toBe(marked);
    expect(lpm.message).toMatch(/^nic1: the nfp program breaks the profile rule mapTypes/);
  });

  it('passes a good program and returns its report for the bundle; generic has no limits to hold', () => {
    const file = gateOffload(nic, PROFILES.nfp, compile('good'))!;
    expect(file.path).toBe(OFFLOAD_CHECK_FILE);
    const report = JSON.parse(file.content as string) as { ok: boolean; profile: string; instructions: number; violations: unknown[] };
    expect(report).toMatchObject({ ok: true, profile: 'nfp', violations: [] });
    expect(report.instructions).toBeGreaterThan(0);
    expect(gateOffload({ ...nic, profile: 'generic' }, PROFILES.generic, compile('lpm'))).toBeUndefined();
  });

  it('puts offload-check.json beside an nfp SmartNIC\'s program in a compiled bundle', async () => {
    const policy = join(work, 'policy.yaml');
    const fabric = join(work, 'fabric.yaml');
    writeFileSync(policy, SMALL_POLICY_YAML);
    writeFileSync(
      fabric,
      `apiVersion: weft.dev/v1
kind: Fabric
metadata: {name: f}
spec:
  devices:
    - {name: host1, kind: host}
    - {name: nic1, kind: smartnic, profile: nfp, attachedTo: host1}
  links:
    - endpoints: ["host1:eth1", "nic1:eth1"]
  endpoints:
    - {name: web-1, host: host1, addresses: [10.0.1.11], labels: {app: web}}
`,
    );
    const out = join(work, 'bundle');
    await compileBundle({ policyPath: policy, inventoryPath: fabric, outDir: out });
    const path = join(out, 'devices', 'nic1', OFFLOAD_CHECK_FILE);
    expect(existsSync(path)).toBe(true);
    const report = JSON.parse(readFileSync(path, 'utf8')) as { ok: boolean; program: string; instructions: number };
    expect(report.ok).toBe(true);
    expect(report.instructions).toBeLessThanOrEqual(PROFILES.nfp.limits!.maxInstructions);
  }, 120_000);
});
