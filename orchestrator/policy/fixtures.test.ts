// Walks test/fixtures/malformed/<case>/ (one input file + expected.json) and
// test/fixtures/valid/<case>/: adding a case is adding a folder. Inputs may be
// YAML or JSON (policy.json, fabric.json).

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../inventory/load.ts';
import { formatDiagnostic, InputError, type Diagnostic } from '../diagnostics.ts';
import { loadPolicy } from './load.ts';

const ROOT = join(import.meta.dirname, '../../test/fixtures');
const INPUTS = ['policy.yaml', 'policy.json', 'fabric.yaml', 'fabric.json', 'topology.clab.yml'];

interface Expected {
  code: string;
  line: number;
  col: number;
  message: string;
}

/** Loads either kind of input; returns its warnings (unknown keys). */
function load(file: string): Diagnostic[] {
  return (/policy\.(yaml|json)$/.test(file) ? loadPolicy(file) : loadInventory(file)).warnings ?? [];
}

const malformed = readdirSync(join(ROOT, 'malformed')).sort();

describe('malformed fixtures', () => {
  it('has at least 30 cases', () => {
    expect(malformed.length).toBeGreaterThanOrEqual(30);
  });
  for (const c of malformed) {
    it(c, () => {
      const dir = join(ROOT, 'malformed', c);
      const input = INPUTS.map((f) => join(dir, f)).find((f) => existsSync(f));
      expect(input, `${c}: no input file (${INPUTS.join(', ')})`).toBeDefined();
      const want = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;
      let err: unknown;
      try {
        load(input as string);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      const diags = (err as InputError).diagnostics;
      const hit = diags.find((d) => d.code === want.code && d.span?.line === want.line && d.span?.col === want.col);
      expect(hit, `${c}: expected ${want.code} at ${want.line}:${want.col}, got:\n${diags.map(formatDiagnostic).join('\n')}`).toBeDefined();
      expect(hit?.message).toContain(want.message);
      // Every diagnostic names where, what was found, and what is valid.
      for (const d of diags) {
        expect(d.span?.file).toBe(input);
        expect(d.hint ?? '').toMatch(/valid/);
      }
      expect((err as Error).message).toContain(`${input}:${want.line}:${want.col}`);
    });
  }
});

describe('valid fixtures', () => {
  for (const c of readdirSync(join(ROOT, 'valid')).sort()) {
    it(c, () => {
      const dir = join(ROOT, 'valid', c);
      const inputs = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f));
      expect(inputs.length).toBeGreaterThan(0);
      // A valid fixture uses only keys the parsers know.
      for (const f of inputs) expect(load(join(dir, f)).map(formatDiagnostic)).toEqual([]);
    });
  }
});
