// Test set-up (and the start-up benchmark's): many tests run the real `weft`
// command (bin/weft.js), which runs the compiled dist/, and the lab ships the
// host agent file built into dist/agent/. Rebuild both first when a source is
// newer than them, so tests never exercise stale JavaScript.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { packagePath } from '../orchestrator/package-root.ts';

const SOURCE_DIRS = ['orchestrator', 'inventory', 'targets', 'lab'];
const BUILD_INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package.json'];
const STAMP = packagePath('dist', 'orchestrator', 'cli', 'main.js');
const AGENT_STAMP = packagePath('dist', 'agent', 'agent.json');

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function current(stamp: string, newest: number): boolean {
  return existsSync(stamp) && statSync(stamp).mtimeMs >= newest;
}

const distCurrent = (newest: number): boolean => current(STAMP, newest);

export function ensureDistCurrent(): void {
  const newest = Math.max(...SOURCE_DIRS.map((d) => newestSource(packagePath(d))), ...BUILD_INPUTS.map((f) => statSync(packagePath(f)).mtimeMs));
  if (!distCurrent(newest)) buildDist(newest);
  if (!current(AGENT_STAMP, newest)) buildAgent();
}

function buildDist(newest: number): void {
  process.stderr.write('test setup: dist/ is older than the sources; running npm run build\n');
  const r = spawnSync(process.execPath, [packagePath('node_modules', 'typescript', 'bin', 'tsc'), '-p', packagePath('tsconfig.build.json')], { stdio: 'inherit' });
  // A type error still emits JavaScript: the type-check reports it, and one
  // error must not stop every test that runs the command.
  if (r.status !== 0 && !distCurrent(newest)) throw new Error(`npm run build failed (exit ${r.status}) and emitted nothing`);
  if (r.status !== 0) process.stderr.write('test setup: the build reported type errors (above); tests run the JavaScript it emitted\n');
}

function buildAgent(): void {
  process.stderr.write('test setup: dist/agent/ is older than the sources; building the host agent\n');
  const r = spawnSync(process.execPath, [packagePath('bin', 'run-ts.js'), packagePath('scripts', 'build-agent.ts')], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`building the host agent (scripts/build-agent.ts) failed with exit ${r.status}`);
}

export default ensureDistCurrent;
