// The fabric fast path against the positional loader: on the examples, the
// valid fixtures and generated fabrics (YAML and JSON), the same Fabric,
// field by field and in the same key order, spans and digest included; on
// every malformed fabric fixture and on valid files the loader warns about
// or reads differently, no reading at all, so the positional loader reports.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fabricJson, fabricYaml } from '../bench/parse.ts';
import { benchScenario } from '../bench/compile.ts';
import { DiagnosticBag } from '../orchestrator/diagnostics.ts';
import { YamlSource } from '../orchestrator/yaml/source.ts';
import { readFabricDocument } from './fabric.ts';
import { readFabricPlain } from './fabric-plain.ts';
import { parseFabric } from './load.ts';
import type { Fabric } from './model.ts';

const REPO = join(import.meta.dirname, '..');

function positional(text: string, file: string): { fabric: Fabric | undefined; bag: DiagnosticBag } {
  const bag = new DiagnosticBag();
  const src = YamlSource.parse(text, file, bag);
  return { fabric: src && readFabricDocument(src), bag };
}

/** Key order of every object, recursively: what JSON output of the model follows. */
function keyOrder(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(keyOrder);
  if (typeof v === 'object' && v !== null) return Object.entries(v).map(([k, x]) => [k, keyOrder(x)]);
  return typeof v;
}

function expectSameReading(text: string, file: string): void {
  const fast = readFabricPlain(text, file);
  const { fabric, bag } = positional(text, file);
  expect(bag.items).toEqual([]);
  expect(fast, file).toBeDefined();
  expect(fast).toStrictEqual(fabric);
  expect(keyOrder(fast)).toEqual(keyOrder(fabric));
}

describe('fabric fast path', () => {
  it('reads the examples and valid fixtures as the positional loader does', () => {
    for (const f of ['examples/fabric.yaml', 'examples/fabric.json', 'test/fixtures/valid/design/fabric.yaml']) {
      expectSameReading(readFileSync(join(REPO, f), 'utf8'), f);
    }
  });

  it('reads generated fabrics, YAML and JSON, as the positional loader does', () => {
    for (const seed of [1, 2]) {
      const f = benchScenario({ rules: 10, endpoints: 3_000, devices: 60, apps: 40, seed, anyToAny: false }).fabric;
      expectSameReading(fabricYaml(f), 'gen/fabric.yaml');
      expectSameReading(fabricJson(f), 'gen/fabric.json');
      // The twins digest alike, whichever reader ran.
      expect(readFabricPlain(fabricJson(f), 'gen/fabric.json')?.digest).toBe(readFabricPlain(fabricYaml(f), 'gen/fabric.yaml')?.digest);
    }
  });

  it('reads no malformed fabric fixture, so the positional loader reports it', () => {
    const dir = join(REPO, 'test/fixtures/malformed');
    let cases = 0;
    for (const c of readdirSync(dir)) {
      for (const f of ['fabric.yaml', 'fabric.json']) {
        let text: string;
        try {
          text = readFileSync(join(dir, c, f), 'utf8');
        } catch {
          continue;
        }
        expect(readFabricPlain(text, f), c).toBeUndefined();
        cases++;
      }
    }
    expect(cases).toBeGreaterThanOrEqual(20);
  });

  it('leaves warnings and values written otherwise than they print to the positional loader', () => {
    const base = readFileSync(join(REPO, 'examples/fabric.yaml'), 'utf8');
    const withLabel = base.replace(/labels: \{/, 'labels: {rack: 01, ');
    expect(withLabel).not.toBe(base);
    expect(readFabricPlain(withLabel, 'fabric.yaml')).toBeUndefined();
    expect(parseFabric(withLabel, 'fabric.yaml').endpoints.some((e) => e.labels.rack === '01')).toBe(true);
    const misspelt = base.replace(/^( +)addresses:/m, '$1adresses: [10.9.9.9]\n$1addresses:');
    expect(misspelt).not.toBe(base);
    expect(readFabricPlain(misspelt, 'fabric.yaml')).toBeUndefined();
    expect(parseFabric(misspelt, 'fabric.yaml').warnings?.map((w) => w.code)).toEqual(['unknown-key']);
  });
});
