// The by-hand entry of the offload checker, run as a process: its output and
// its exit codes (0 fits, 1 breaks a rule, 2 bad input).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TESTDATA = join(ROOT, 'targets/dpu/offload-check/testdata');
const dir = mkdtempSync(join(tmpdir(), `weft-offload-main-${process.pid}-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const clang = spawnSync('clang', ['--version']).status === 0;
if (!clang && process.env.CI === 'true') throw new Error('offload checker entry test cannot run: clang is not installed');
if (!clang) console.warn('skipping offload checker entry tests: clang is not installed');

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/run-ts.js'), join(ROOT, 'targets/dpu/offload-check/main.ts'), ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function build(name: string): string {
  const out = join(dir, `${name}.o`);
  const r = spawnSync('clang', ['-O2', '-g', '-target', 'bpf', '-I/usr/include/x86_64-linux-gnu', '-c', join(TESTDATA, `${name}.bpf.c`), '-o', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`clang failed on ${name}.bpf.c: ${r.stderr}`);
  return out;
}

describe.skipIf(!clang)('offload checker entry', () => {
  it('exits 0 on a program that fits, 1 with file:line:col lines on one that does not', () => {
    const good = run(build('good'));
    expect(good.code).toBe(0);
    expect(good.out).toMatch(/^xdp: \d+ instructions, 128 B stack, 2 maps, 1 helpers: fits the profile\n$/);
    const lru = run(build('lru'), '--json');
    expect(lru.code).toBe(1);
    const report = JSON.parse(lru.out);
    expect(report.violations.map((v: { rule: string }) => v.rule)).toEqual(['mapTypes']);
  });

  it('exits 2 with a reason on bad input, printing nothing on stdout', () => {
    const junk = join(dir, 'junk.o');
    writeFileSync(junk, 'this is not an ELF object, only some text long enough to read');
    for (const [args, reason] of [
      [[junk], /not a BPF object: no ELF magic at offset 0/],
      [[join(dir, 'missing.o')], /missing\.o: ENOENT/],
      [[junk, '--profile', 'bluefield'], /profile bluefield runs a full kernel and has no offload limits; profiles with limits: nfp/],
      [[junk, '--profile', 'tofino'], /unknown profile "tofino"; valid: nfp, generic, bluefield/],
      [[], /usage: main\.ts OBJECT/],
    ] as const) {
      const r = run(...args);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(reason);
      expect(r.out).toBe('');
    }
  });
});
