// Documents read as plain values against the positional readers: the same
// values, the same digest, every mapping at the offset its node has; and
// every document plain values would misread (a duplicate key JSON.parse
// hides, a number spelled otherwise than it prints, an integer-like key an
// object reorders) is left unread for the positional readers.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DiagnosticBag } from '../diagnostics.ts';
import { makeRng, type Rng } from '../testing/generate.ts';
import { repoYamlFiles } from '../testing/repo-yaml.ts';
import { readFastYaml, readFastYamlPlain } from './fast.ts';
import { readJson } from './json.ts';
import { contentDigest, LineIndex, plainDigest, type PlainValue, type SourceNode } from './node.ts';
import { readPlainDocument } from './plain.ts';


function jsonNodes(text: string): SourceNode {
  const lines = new LineIndex(text);
  const bag = new DiagnosticBag();
  const root = readJson(text, bag, { maxDepth: 64, spanAt: (o) => lines.span('doc.json', o) });
  expect(bag.items).toEqual([]);
  return root as SourceNode;
}

/** Walks the plain value and its node tree together: same values, every mapping at its node's offset. */
function checkAgainstNodes(v: PlainValue, n: SourceNode, starts: Map<object, number>): number {
  if (n.kind === 'map') {
    expect(starts.get(v as object)).toBe(n.start);
    const entries = Object.entries(v as object);
    expect(entries.map(([k]) => k)).toEqual(n.items.map((p) => (p.key as { value: string }).value));
    return 1 + n.items.reduce((sum, p, i) => sum + checkAgainstNodes(entries[i][1] as PlainValue, p.value as SourceNode, starts), 0);
  }
  if (n.kind === 'seq') {
    expect(Array.isArray(v)).toBe(true);
    return n.items.reduce((sum, item, i) => sum + checkAgainstNodes((v as PlainValue[])[i], item as SourceNode, starts), 0);
  }
  expect(v).toBe(n.value);
  return 0;
}

function randomValue(rng: Rng, depth: number): unknown {
  const r = rng.next();
  if (depth > 4 || r < 0.5) return rng.pick<unknown>([0, -1, 65535, 123456789012, true, false, null, '', 'web', 'a"b', 'q\\"', '\\', 'é日\u0001', '10.0.0.0/8', 'a:b', '{[', 'line\nbreak']);
  if (r < 0.75) return Array.from({ length: rng.int(0, 4) }, () => randomValue(rng, depth + 1));
  return Object.fromEntries(Array.from({ length: rng.int(0, 4) }, (_, i) => [`${rng.pick(['k', 'name', 'x y', 'ü', 'a"{', '-'])}${i}`, randomValue(rng, depth + 1)]));
}

describe('plain JSON documents', () => {
  it('read generated documents to JSON.parse values, with the offset of every object and the digest of the node reading', () => {
    const rng = makeRng(11);
    let objects = 0;
    for (let k = 0; k < 2000; k++) {
      const text = JSON.stringify(randomValue(rng, 0), null, rng.pick([0, 1, 2, '\t']));
      const doc = readPlainDocument(text, 'doc.json');
      expect(doc, text).toBeDefined();
      const nodes = jsonNodes(text);
      expect(doc?.root).toEqual(JSON.parse(text));
      objects += checkAgainstNodes(doc!.root, nodes, doc!.starts);
      expect(plainDigest(doc!.root)).toBe(contentDigest(nodes));
    }
    console.log(`plain JSON: 2000 generated documents, ${objects} objects at their offsets`);
  });

  it('leaves what JSON.parse would misread to the positional reader', () => {
    for (const text of [
      '{"a": 1, "a": 2}',
      '{"a": {"b": 1}, "c": {"a": {}, "a": {"d": 2}}}',
      '{"tier": 1.0}',
      '{"n": 1e3}',
      '{"n": -0}',
      '{"n": 12345678901234567890}',
      '{"b": 1, "2": 1}',
      '{"__proto__": {}}',
      '{"a": ',
    ]) {
      expect(readPlainDocument(text, 'doc.json'), text).toBeUndefined();
    }
    let deep = '1';
    for (let i = 0; i < 70; i++) deep = `[${deep}]`;
    expect(readPlainDocument(deep, 'doc.json')).toBeUndefined();
    expect(readPlainDocument('{"n": -12, "s": "1.0", "t": true}', 'doc.json')?.root).toEqual({ n: -12, s: '1.0', t: true });
  });
});

describe('plain YAML documents', () => {
  it('read every repository document the fast reader reads to the same values, offsets and digest', () => {
    let read = 0;
    for (const file of repoYamlFiles()) {
      const text = readFileSync(file, 'utf8');
      const nodes = readFastYaml(text, 64);
      const plain = readFastYamlPlain(text, 64);
      if (!('root' in plain)) continue;
      expect('root' in nodes, file).toBe(true);
      if (!('root' in nodes)) continue;
      checkAgainstNodes(plain.root, nodes.root, plain.starts);
      expect(plainDigest(plain.root), file).toBe(contentDigest(nodes.root));
      read++;
    }
    expect(read).toBeGreaterThan(20);
  });

  it('leaves values plain values would change to the node reader', () => {
    for (const text of ['rack: 01\n', 'on: True\n', 'n: 1.50\n', 'x: .nan\n', 'x: 0x1f\n', '1: a\n', 'true: a\n', '"2": a\n', 'a: {__proto__: b}\n', 'a: 1\na: 2\n']) {
      expect('root' in readFastYamlPlain(text, 64), text).toBe(false);
    }
    expect(readFastYamlPlain('rack: 12\non: true\nn: 1.5\ne: ~\nq: "01"\n', 64)).toMatchObject({ root: { rack: 12, on: true, n: 1.5, e: null, q: '01' } });
  });
});
