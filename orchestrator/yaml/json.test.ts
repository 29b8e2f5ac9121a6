// The JSON reader: values and offsets against JSON.parse on generated
// documents, errors with line:col and what was expected, and the JSON twin
// of examples/ compiling to exactly the bundle the YAML compiles to.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFabric } from '../../inventory/load.ts';
import { compileBundle } from '../compile/driver.ts';
import { DiagnosticBag } from '../diagnostics.ts';
import { parsePolicy } from '../policy/load.ts';
import { makeRng, type Rng } from '../testing/generate.ts';
import { readJson } from './json.ts';
import { LineIndex, type SourceNode } from './node.ts';

const REPO = join(import.meta.dirname, '../..');

function read(text: string): { root: SourceNode | undefined; bag: DiagnosticBag } {
  const bag = new DiagnosticBag();
  const lines = new LineIndex(text);
  const root = readJson(text, bag, { maxDepth: 64, spanAt: (o) => lines.span('doc.json', o) });
  return { root, bag };
}

/** The plain value a node tree stands for. */
function toValue(n: SourceNode | null): unknown {
  if (n === null) return null;
  if (n.kind === 'map') return Object.fromEntries(n.items.map((p) => [(p.key as { value: string }).value, toValue(p.value)]));
  if (n.kind === 'seq') return n.items.map(toValue);
  return n.value;
}

const STRING_TOKEN = /"(?:[^"\\]|\\.)*"/y;

/** Every node's start must be where its JSON text begins. */
function checkOffsets(text: string, n: SourceNode | null): number {
  if (n === null) return 0;
  let count = 1;
  const at = text.slice(n.start);
  if (n.kind === 'map') {
    expect(at[0]).toBe('{');
    for (const p of n.items) count += checkOffsets(text, p.key) + checkOffsets(text, p.value);
  } else if (n.kind === 'seq') {
    expect(at[0]).toBe('[');
    for (const i of n.items) count += checkOffsets(text, i);
  } else if (typeof n.value === 'string') {
    STRING_TOKEN.lastIndex = n.start;
    const token = STRING_TOKEN.exec(text)?.[0] ?? '';
    expect(JSON.parse(token)).toBe(n.value);
  } else {
    expect(at.startsWith(n.source)).toBe(true);
    expect(JSON.parse(n.source)).toBe(n.value);
  }
  return count;
}

function randomValue(rng: Rng, depth: number): unknown {
  const r = rng.next();
  if (depth > 4 || r < 0.5) {
    return rng.pick<unknown>([0, -1, 1.5, 1e21, -2.5e-7, 65535, true, false, null, '', 'web', 'a"b', 'tab\there', 'é日\u0001', '\\', '10.0.0.0/8', 'line\nbreak']);
  }
  if (r < 0.75) return Array.from({ length: rng.int(0, 4) }, () => randomValue(rng, depth + 1));
  return Object.fromEntries(Array.from({ length: rng.int(0, 4) }, (_, i) => [`${rng.pick(['k', 'name', 'x y', 'ü'])}${i}`, randomValue(rng, depth + 1)]));
}

describe('JSON reader', () => {
  it('reads generated documents to the values JSON.parse gives, every node at its own offset', () => {
    const rng = makeRng(7);
    const N = 3000;
    let nodes = 0;
    for (let k = 0; k < N; k++) {
      const value = randomValue(rng, 0);
      const text = JSON.stringify(value, null, rng.pick([0, 1, 2, '\t']));
      const { root, bag } = read(text);
      expect(bag.items, text).toEqual([]);
      expect(toValue(root ?? null), text).toEqual(JSON.parse(text));
      nodes += checkOffsets(text, root ?? null);
    }
    console.log(`JSON reader: ${N} generated documents, ${nodes} nodes, all equal to JSON.parse`);
  });

  it('reports a syntax error at its line and column with what was expected', () => {
    const cases: [string, number, number, string][] = [
      ['{"a": 1,}', 1, 9, 'expected a double-quoted key, found "}"'],
      ['{\n  "a": 1\n  "b": 2\n}', 3, 3, 'expected "," or "}" after an object member, found """'],
      ['[1, 2', 1, 6, 'expected "," or "]" after an array element, found the end of the file'],
      ['{"a" 1}', 1, 6, 'expected ":" after the key, found "1"'],
      ["{'a': 1}", 1, 2, 'expected a double-quoted key'],
      ['{"a": tru}', 1, 7, 'expected a value'],
      ['{"a": "x\\q"}', 1, 9, 'expected a valid escape'],
      ['{"a": "open', 1, 12, "expected a closing '\"'"],
      ['{"a": 1} x', 1, 10, 'expected the end of the file after the top-level value'],
      ['{"a": 01}', 1, 8, 'expected "," or "}"'],
      ['// c\n{}', 1, 1, 'expected a value'],
    ];
    for (const [text, line, col, message] of cases) {
      const { root, bag } = read(text);
      expect(root, text).toBeUndefined();
      expect(bag.items.length, text).toBe(1);
      const d = bag.items[0];
      expect([d.code, d.span?.line, d.span?.col], text).toEqual(['json-syntax', line, col]);
      expect(d.message, text).toContain(message);
      expect(d.hint).toMatch(/^valid: /);
    }
  });

  it('refuses deep nesting and reports duplicate keys', () => {
    const deep = read(`${'['.repeat(100000)}${']'.repeat(100000)}`);
    expect(deep.bag.items.map((d) => d.code)).toEqual(['too-deep']);
    const dup = read('{\n  "a": 1,\n  "a": 2\n}');
    expect(dup.bag.items.map((d) => [d.code, d.span?.line, d.span?.col])).toEqual([['duplicate-key', 3, 3]]);
  });
});

describe('JSON policy and fabric files', () => {
  it('read to the same model as their YAML twins', () => {
    const policy = (f: string) => parsePolicy(readFileSync(join(REPO, 'examples', f), 'utf8'), f);
    const fabric = (f: string) => parseFabric(readFileSync(join(REPO, 'examples', f), 'utf8'), f);
    // Spans point into different texts; the meaning must not differ.
    const strip = (x: unknown): unknown => JSON.parse(JSON.stringify(x, (k, v) => (k === 'span' || k === 'file' || k === 'digest' ? undefined : typeof v === 'bigint' ? v.toString() : v instanceof Map ? [...v] : v)));
    expect(strip(policy('policy.json'))).toEqual(strip(policy('policy.yaml')));
    expect(strip(fabric('fabric.json'))).toEqual(strip(fabric('fabric.yaml')));
  });

  it('compile to the same bundle: every device generation digest and enforcing artefact', async () => {
    const work = mkdtempSync(join(tmpdir(), `weft-json-twin-${process.pid}-`));
    try {
      const ex = (f: string) => join(REPO, 'examples', f);
      const fromYaml = await compileBundle({ policyPath: ex('policy.yaml'), inventoryPath: ex('fabric.yaml'), outDir: join(work, 'yaml') });
      const fromJson = await compileBundle({ policyPath: ex('policy.json'), inventoryPath: ex('fabric.json'), outDir: join(work, 'json') });
      expect(fromJson.policy.source).toBe('source/policy.json');
      expect(fromJson.fabric.source).toBe('source/inventory.json');
      expect(fromJson.devices.length).toBeGreaterThan(0);
      // Only where each rule is written differs (rule-sources.json, which the
      // generation digest leaves out), and so the digest of each device's
      // inputs, which covers it.
      const enforced = (ds: typeof fromYaml.devices) => ds.map(({ inputs: _, ...d }) => ({ ...d, files: d.files.filter((f) => f.path !== 'rule-sources.json') }));
      expect(enforced(fromJson.devices)).toEqual(enforced(fromYaml.devices));
      expect(fromJson.devices.filter((d) => d.files.some((f) => f.path === 'rule-sources.json')).length).toBeGreaterThan(0);
      expect(fromJson.warnings).toEqual(fromYaml.warnings);
      expect(readFileSync(join(work, 'json', 'placement.json'), 'utf8')).toBe(readFileSync(join(work, 'yaml', 'placement.json'), 'utf8'));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
