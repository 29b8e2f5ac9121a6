// Compiles bpf/dpu/offload.bpf.c for one device's share. The prefix lengths
// the share uses and its default verdict are -D constants (the NIC has no
// loops and no .rodata), so the object is built per distinct setting and
// cached under .weft-build/dpu/ by the digest of source and flags.

import { threadId } from 'node:worker_threads';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packagePath } from '../../orchestrator/package-root.ts';
import { BPF_DIR, CLANG_FLAGS } from '../host/build.ts';
import { VERDICT } from '../host/abi.ts';

const run = promisify(execFile);
const CACHE_DIR = packagePath('.weft-build', 'dpu');
export const OFFLOAD_SOURCE = join('dpu', 'offload.bpf.c');

/** What the program is specialised for. */
export interface PrefilterBuild {
  /** Identity prefix lengths, longest first. */
  idLengths: number[];
  /** Port-key prefix lengths, longest first. */
  portLengths: number[];
  defaultAction: 'allow' | 'deny';
}

/** The -D flags of one build; an empty list compiles to one lookup that always misses. */
export function buildFlags(b: PrefilterBuild): string[] {
  const list = (name: string, lens: number[]) => {
    const l = lens.length ? lens : [0];
    return [`-D${name}={${l.join(',')}}`, `-D${name.replace(/LENS$/, 'NLENS')}=${l.length}`];
  };
  return [...list('WEFT_DPU_ID4_LENS', b.idLengths), ...list('WEFT_DPU_PORT_LENS', b.portLengths), `-DWEFT_DPU_DEFAULT_VERDICT=${VERDICT[b.defaultAction]}`];
}

function digest(flags: string[]): string {
  const h = createHash('sha256');
  const headers = readdirSync(join(BPF_DIR, 'lib')).sort().map((f) => join('lib', f));
  for (const f of [OFFLOAD_SOURCE, ...headers]) {
    h.update(f);
    h.update(readFileSync(join(BPF_DIR, f)));
  }
  h.update([...CLANG_FLAGS, ...flags].join(' '));
  return h.digest('hex').slice(0, 16);
}

/** Path of the compiled prefilter for these settings (built if needed). */
export async function buildPrefilter(b: PrefilterBuild): Promise<string> {
  const flags = buildFlags(b);
  const out = join(CACHE_DIR, `offload-${digest(flags)}.bpf.o`);
  if (existsSync(out)) return out;
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${out}.${process.pid}-${threadId}.tmp`;
  try {
    await run('clang', [...CLANG_FLAGS, ...flags, '-c', join(BPF_DIR, OFFLOAD_SOURCE), '-o', tmp]);
  } catch (e) {
    const err = e as { stderr?: string; code?: string; message: string };
    if (err.code === 'ENOENT') throw new Error('building the DPU prefilter needs clang (apt-get install clang llvm libbpf-dev)');
    throw new Error(`clang failed on bpf/${OFFLOAD_SOURCE}:\n${err.stderr ?? err.message}`);
  }
  renameSync(tmp, out);
  return out;
}
