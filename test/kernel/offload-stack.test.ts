// The offload checker's stack accounting against the kernel's own: each
// test program the verifier accepts is loaded for real (bpftool, not
// offloaded), and the per-function stack depths the verifier prints
// ("stack depth A+B", one per function in load order) must equal the
// checker's, rounded up to 8-byte slots as the verifier allocates them.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { analyze } from '../../targets/dpu/offload-check/analyze.ts';
import { parseElf } from '../../targets/dpu/offload-check/elf.ts';
import { linkProgram } from '../../targets/dpu/offload-check/program.ts';
import { roundUp, stackFrames } from '../../targets/dpu/offload-check/stack.ts';
import { ensureBpffs, kernelUnavailable, uniqueName } from './host-helpers.ts';

const TESTDATA = fileURLToPath(new URL('../../targets/dpu/offload-check/testdata/', import.meta.url));

function unavailable(): string | undefined {
  const why = kernelUnavailable();
  if (why) return why;
  for (const tool of ['clang', 'bpftool']) {
    if (spawnSync(tool, ['--version']).status !== 0) return `needs ${tool}`;
  }
  return undefined;
}
const why = unavailable();
if (why && process.env.CI === 'true') throw new Error(`offload stack kernel test cannot run: ${why}`);
if (why) console.warn(`skipping offload stack kernel test: ${why}`);

// Every single-program test object the kernel verifier loads as it is
// (bigstack is over the kernel's own 512 B, which is its point; libbpf 1.0
// no longer reads legacy map definitions; for loop, the verifier inlines
// bpf_loop and adds three 8-byte slots of its own to the caller's frame).
const PROGRAMS = ['good', 'lpm', 'lru', 'percpu', 'flags', 'bigentry', 'helper', 'tailcall', 'mapstore', 'varstack', 'long'];

const dir = mkdtempSync(join(tmpdir(), `weft-offload-stack-${process.pid}-`));
const pins: string[] = [];
afterAll(() => {
  for (const p of pins) rmSync(p, { force: true });
  rmSync(dir, { recursive: true, force: true });
});

function verifierDepths(object: string): number[] {
  const pin = join('/sys/fs/bpf', uniqueName('weft-offl'));
  pins.push(pin);
  const r = spawnSync('bpftool', ['-d', 'prog', 'load', object, pin], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bpftool could not load ${object}:\n${r.stderr.slice(-2000)}`);
  const m = /stack depth ([\d+]+)/.exec(r.stderr);
  if (!m) throw new Error(`no "stack depth" in the verifier log of ${object}`);
  return m[1].split('+').map(Number);
}

describe.skipIf(why !== undefined)('offload checker stack depths against the kernel verifier', () => {
  it(`per-function depths equal the verifier's for ${PROGRAMS.length} programs`, () => {
    ensureBpffs();
    for (const name of PROGRAMS) {
      const object = join(dir, `${name}.o`);
      execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-I/usr/include/x86_64-linux-gnu', '-c', join(TESTDATA, `${name}.bpf.c`), '-o', object]);
      const prog = linkProgram(parseElf(readFileSync(object)));
      const ours = stackFrames(prog, analyze(prog).before).map((f) => roundUp(f.depth, 8));
      expect(ours, name).toEqual(verifierDepths(object));
    }
  });
});
