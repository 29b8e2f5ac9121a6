// Compiles bpf/weft.bpf.c with clang -target bpf. The object does not depend
// on the policy (maps are sized at load time), so it is built once per source
// digest and cached under .weft-build/.

import { threadId } from 'node:worker_threads';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { packagePath } from '../../orchestrator/package-root.ts';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const BPF_DIR = packagePath('bpf');
const CACHE_DIR = packagePath('.weft-build', 'host');
export const CLANG_FLAGS = ['-O2', '-g', '-target', 'bpf', '-Wall', '-Werror', '-I/usr/include/x86_64-linux-gnu'];

function sourceDigest(): string {
  const h = createHash('sha256');
  const files = ['weft.bpf.c', ...readdirSync(join(BPF_DIR, 'lib')).sort().map((f) => join('lib', f))];
  for (const f of files) {
    h.update(f);
    h.update(readFileSync(join(BPF_DIR, f)));
  }
  h.update(CLANG_FLAGS.join(' '));
  return h.digest('hex').slice(0, 16);
}

/** Path of the compiled object for the current sources (built if needed). */
export async function buildObject(): Promise<string> {
  const out = join(CACHE_DIR, `weft-${sourceDigest()}.bpf.o`);
  if (existsSync(out)) return out;
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${out}.${process.pid}-${threadId}.tmp`;
  try {
    await run('clang', [...CLANG_FLAGS, '-c', join(BPF_DIR, 'weft.bpf.c'), '-o', tmp]);
  } catch (e) {
    const err = e as { stderr?: string; code?: string; message: string };
    if (err.code === 'ENOENT') throw new Error('building the host datapath needs clang (apt-get install clang llvm libbpf-dev)');
    throw new Error(`clang failed on bpf/weft.bpf.c:\n${err.stderr ?? err.message}`);
  }
  renameSync(tmp, out);
  return out;
}
