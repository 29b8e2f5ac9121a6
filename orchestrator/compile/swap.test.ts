// Replacing a directory: the new contents land at the target, the old ones
// are gone, and nothing is left beside them.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replaceDir } from './swap.ts';

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'weft-swap-test-'));
});
afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

function dirWith(name: string, files: Record<string, string>): string {
  const d = join(work, name);
  mkdirSync(d);
  for (const [f, c] of Object.entries(files)) writeFileSync(join(d, f), c);
  return d;
}

describe('replaceDir', () => {
  it('moves the new directory into place when the target does not exist', () => {
    replaceDir(dirWith('.out.tmp-1', { 'manifest.json': 'new' }), join(work, 'out'));
    expect(readdirSync(work)).toEqual(['out']);
    expect(readFileSync(join(work, 'out/manifest.json'), 'utf8')).toBe('new');
  });

  it('replaces an existing directory and removes the old contents', () => {
    dirWith('out', { 'manifest.json': 'old', 'stale.txt': 'x' });
    replaceDir(dirWith('.out.tmp-2', { 'manifest.json': 'new' }), join(work, 'out'));
    expect(readdirSync(work)).toEqual(['out']);
    expect(readdirSync(join(work, 'out'))).toEqual(['manifest.json']);
    expect(readFileSync(join(work, 'out/manifest.json'), 'utf8')).toBe('new');
  });

  it('fails without touching the target when the new directory is missing', () => {
    dirWith('out', { 'manifest.json': 'old' });
    expect(() => replaceDir(join(work, 'missing'), join(work, 'out'))).toThrow();
    expect(readFileSync(join(work, 'out/manifest.json'), 'utf8')).toBe('old');
    expect(readdirSync(work)).toEqual(['out']);
  });
});
