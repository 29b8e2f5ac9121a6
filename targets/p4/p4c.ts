// The P4 consortium's tools, found and run: p4c (p4c-bm2-ss) compiles Weft's
// P4 source into the bmv2 JSON (bmv2's P4Runtime device config) and the
// P4Info; simple_switch_grpc is bmv2 with the PI P4Runtime server. They are
// looked up in $WEFT_P4TOOLS (a directory with bin/, as p4lang packages
// install them), then ../shared/p4tools beside the checkout, then PATH.

import { threadId } from 'node:worker_threads';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { packagePath } from '../../orchestrator/package-root.ts';
import { P4_SOURCE_PATH } from './p4info.ts';

const execFileP = promisify(execFile);

export type P4Tool = 'p4c-bm2-ss' | 'simple_switch_grpc';

/** Where the build step writes the compiled program. */
export const P4_BUILD_DIR = packagePath('.weft-build', 'p4');

/** Directories searched for a tool, in order, with what each is. */
export function p4ToolDirs(): { dir: string; from: string }[] {
  const out: { dir: string; from: string }[] = [];
  if (process.env.WEFT_P4TOOLS) out.push({ dir: join(process.env.WEFT_P4TOOLS, 'bin'), from: '$WEFT_P4TOOLS/bin' });
  else out.push({ dir: packagePath('..', 'shared', 'p4tools', 'bin'), from: '../shared/p4tools/bin' });
  for (const d of (process.env.PATH ?? '').split(delimiter)) if (d) out.push({ dir: d, from: 'PATH' });
  return out;
}

/** The tool's path, or undefined when none of p4ToolDirs() has it. */
export function findP4Tool(tool: P4Tool): string | undefined {
  for (const { dir } of p4ToolDirs()) {
    const p = join(dir, tool);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Why a tool is missing, for skip messages and errors. */
export function p4ToolMissing(tool: P4Tool): string {
  const where = [...new Set(p4ToolDirs().map((d) => d.from))].join(', ');
  return `${tool} not found (looked in ${where}); set WEFT_P4TOOLS to a directory with bin/${tool}, or install p4lang-p4c / p4lang-bmv2`;
}

export interface CompiledP4 {
  /** The bmv2 JSON: the device config SetForwardingPipelineConfig sends. */
  bmv2JsonPath: string;
  p4infoPath: string;
  bmv2Json: Buffer;
  p4infoText: string;
}

/**
 * Compiles `source` for bmv2's v1model into `outDir` (weft.json,
 * weft.p4info.txtpb). Files appear only when p4c succeeded: it writes into a
 * temporary directory that replaces the output at once.
 */
export async function compileP4(opts: { source?: string; outDir?: string; p4c?: string } = {}): Promise<CompiledP4> {
  const p4c = opts.p4c ?? findP4Tool('p4c-bm2-ss');
  if (!p4c) throw new Error(p4ToolMissing('p4c-bm2-ss'));
  const source = opts.source ?? P4_SOURCE_PATH;
  const outDir = opts.outDir ?? P4_BUILD_DIR;
  const tmp = `${outDir}.tmp-${process.pid}-${threadId}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    // -I: a variant of the program written elsewhere still finds the files p4/weft.p4 includes (weft_acl.p4).
    const args = ['--arch', 'v1model', '-I', dirname(P4_SOURCE_PATH), '-o', join(tmp, 'weft.json'), '--p4runtime-files', join(tmp, 'weft.p4info.txtpb'), source];
    await execFileP(p4c, args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    const err = e as { stderr?: string; message: string };
    throw new Error(`p4c: ${source}: ${(err.stderr ?? '').trim() || err.message}`);
  }
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir);
  const bmv2JsonPath = join(outDir, 'weft.json');
  const p4infoPath = join(outDir, 'weft.p4info.txtpb');
  return { bmv2JsonPath, p4infoPath, bmv2Json: readFileSync(bmv2JsonPath), p4infoText: readFileSync(p4infoPath, 'utf8') };
}
