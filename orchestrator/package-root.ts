// Where Weft's own files are at run time. The same modules run as TypeScript
// from the source tree (tests, benchmarks), as JavaScript from dist/ (the
// `weft` command) and from an installed package, so files read at run time
// (P4 source and P4Info, .proto files, bpf/*.c, package.json) are found from
// the package root, never relative to the module that reads them.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}: Weft's files are incomplete`);
  }
}

/** The directory holding Weft's package.json (the checkout, or node_modules/weft). */
export const PACKAGE_ROOT = findPackageRoot(import.meta.dirname);

/** True when this module is compiled JavaScript under dist/, false under tsx. */
const COMPILED = import.meta.url.endsWith('.js');

/** A path inside the package, e.g. packagePath('p4', 'weft.p4'). */
export function packagePath(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}

/** The `weft` command's entry point, for spawning the CLI (locally or over SSH on a lab node). */
export const WEFT_BIN = packagePath('bin', 'weft.js');

let version: string | undefined;
/** The package version from package.json, read once. */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;
  return version;
}

/**
 * The arguments after `node` that run one of Weft's entry scripts, given by
 * its source path (e.g. 'lab/probe-agent.ts'): its compiled JavaScript when
 * Weft runs from dist/, or the TypeScript through bin/run-ts.js when it runs
 * from sources, so a spawned process runs the same code as its parent.
 */
export function nodeEntry(sourcePath: string): string[] {
  if (COMPILED) return [packagePath('dist', sourcePath.replace(/\.ts$/, '.js'))];
  return [packagePath('bin', 'run-ts.js'), packagePath(sourcePath)];
}
