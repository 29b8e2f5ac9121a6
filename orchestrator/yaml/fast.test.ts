// The fast YAML reader against the `yaml` package: on every repository
// document and thousands of generated ones (tricky scalars, comments, CRLF,
// tabs, duplicate keys, bad indentation, constructs outside the subset),
// whatever the fast reader accepts must equal the yaml package's reading:
// same kinds, values, source text and start offset of every node. What it
// does not accept it must hand over, never misread.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiagnosticBag } from '../diagnostics.ts';
import { makeRng, type Rng } from '../testing/generate.ts';
import { repoYamlFiles } from '../testing/repo-yaml.ts';
import { readFastYaml } from './fast.ts';
import { readFullYaml } from './full.ts';
import { LineIndex, type SourceNode } from './node.ts';


/** The yaml package's reading, or undefined when it reports any error. */
function fullReading(text: string): SourceNode | null | undefined {
  const bag = new DiagnosticBag();
  const lines = new LineIndex(text);
  const root = readFullYaml(text, 'doc.yaml', bag, { maxDepth: 64, spanAt: (o) => lines.span('doc.yaml', o) });
  return bag.items.length ? undefined : root;
}

/** A plain structure carrying everything compared: kind, start, value, source. */
function shape(n: SourceNode | null): unknown {
  if (n === null) return null;
  if (n.kind === 'map') return { map: n.start, pairs: n.items.map((p) => [shape(p.key), shape(p.value)]) };
  if (n.kind === 'seq') return { seq: n.start, items: n.items.map(shape) };
  const v = n.value;
  // toEqual treats NaN as NaN but -0 as 0: spell numbers out.
  const value = typeof v === 'number' ? `number:${Object.is(v, -0) ? '-0' : String(v)}` : v;
  return { scalar: n.start, value, source: n.source };
}

/** Compares one text; returns whether the fast reader accepted it. */
function compare(text: string, label: string): boolean {
  const fast = readFastYaml(text, 64);
  if (!('root' in fast)) return false;
  const full = fullReading(text);
  expect(full, `${label}: the fast reader accepted a document the yaml package refuses:\n${text}`).not.toBeUndefined();
  expect(shape(fast.root), `${label}:\n${text}`).toEqual(shape(full ?? null));
  return true;
}

const TRICKY_SCALARS = [
  'yes', 'no', 'on', 'off', 'Yes', 'NO', 'y', 'n', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE', 'tRue',
  'null', 'Null', 'NULL', 'nULL', '~', '0', '-0', '+0', '007', '08', '12', '-12', '+12', '0x1F', '0X1F', '0xg', '0o17', '0o8', '0b101',
  '1.5', '1.', '.5', '-.5', '+1.5e3', '1e3', '1E-3', '.inf', '-.inf', '+.Inf', '.INF', '.nan', '.NaN', '.NAN', 'nan', 'inf',
  '1_000', '12:30', '2026-11-30', '10.0.0.0/8', 'fd00::1', 'a:b', 'http://x.y/z', 'a#b', 'a #b', 'café', '日本', 'x y  z',
  '-x', '?x', ':x', '--', '---x', '...x', '9007199254740993', '1e400', 'e3', '0x', '1.2.3', '+', '-', '.', '..',
];
const QUOTED = ["'it''s'", "'#not a comment'", "''", '""', '"tab\\there"', '"\\u00e9\\x41\\U0001F600"', '"a\\"b"', '"\\\\"', '"\\N\\_\\L\\P\\e\\a\\0\\/"', '"bad\\q"', '"\\uD800"', '"yes"', "'123'", '"a: b # c"', '"x\\\n y"'];
const KEYS = ['name', 'kind', 'host', 'labels', 'app', 'a', 'b', '"quoted key"', "'single'", '1', 'true', 'null', '~', 'x y', 'a-b', '<<', '? complex', '&anc k', '[k]', '"dup"', 'dup'];

function scalarText(rng: Rng): string {
  const r = rng.next();
  if (r < 0.45) return rng.pick(TRICKY_SCALARS);
  if (r < 0.65) return rng.pick(QUOTED);
  if (r < 0.75) return rng.pick(['&a x', '*a', '!!str 1', '!tag x', '|\n  text', '>\n  text', '"multi\n  line"', "'multi\n  line'", '@x', '`x', '%x']);
  return `${rng.pick(['web', 'db', 'e', 'host'])}${rng.int(0, 99)}`;
}

function flowText(rng: Rng, depth: number): string {
  const n = rng.int(0, 3);
  const item = (): string => (depth < 3 && rng.chance(0.2) ? flowText(rng, depth + 1) : scalarText(rng).replace(/\n.*/s, ''));
  if (rng.chance(0.5)) return `[${Array.from({ length: n }, item).join(rng.pick([', ', ',', ' , ']))}${rng.chance(0.05) ? ',' : ''}]`;
  const pairs = Array.from({ length: n }, () => `${rng.pick(KEYS)}${rng.pick([': ', ':', ' : '])}${item()}`);
  return `{${pairs.join(', ')}${rng.chance(0.05) ? ', ' : ''}}`;
}

function comment(rng: Rng): string {
  return rng.chance(0.15) ? rng.pick([' # note', '  #x', ' #', '#glued']) : '';
}

/** A block node at indentation `ind`, as lines (the first without its indentation). */
function blockText(rng: Rng, ind: number, depth: number): string {
  const pad = ' '.repeat(ind);
  const r = rng.next();
  if (depth > 4 || r < 0.2) return `${scalarText(rng)}${comment(rng)}`;
  if (r < 0.3) return `${flowText(rng, 0)}${comment(rng)}`;
  const lines: string[] = [];
  const n = rng.int(1, 4);
  if (r < 0.6) {
    for (let i = 0; i < n; i++) {
      const key = rng.pick(KEYS);
      const child = rng.next();
      if (child < 0.5) lines.push(`${key}:${rng.pick([' ', '  '])}${rng.chance(0.1) ? '' : (depth > 3 ? scalarText(rng) : rng.chance(0.5) ? scalarText(rng) : flowText(rng, 0))}${comment(rng)}`);
      else if (child < 0.6) lines.push(`${key}:${comment(rng)}\n${pad}- ${blockText(rng, ind + 2, depth + 1)}`);
      else {
        const inner = ind + rng.pick([1, 2, 2, 4]);
        lines.push(`${key}:${comment(rng)}\n${' '.repeat(inner)}${blockText(rng, inner, depth + 1)}`);
      }
    }
  } else {
    for (let i = 0; i < n; i++) {
      if (rng.chance(0.1)) lines.push(`-${comment(rng)}`);
      else if (rng.chance(0.2)) lines.push(`-\n${pad}  ${blockText(rng, ind + 2, depth + 1)}`);
      else lines.push(`- ${blockText(rng, ind + 2, depth + 1)}`);
    }
  }
  return lines.join(`\n${pad}`);
}

/** Random damage: what hand-edited files get wrong. */
function mutate(rng: Rng, text: string): string {
  const lines = text.split('\n');
  const i = rng.int(0, lines.length - 1);
  switch (rng.int(0, 9)) {
    case 0:
      lines[i] = ` ${lines[i]}`;
      break;
    case 1:
      lines[i] = lines[i].replace(/^ /, '');
      break;
    case 2:
      lines[i] = lines[i].replace(/^( *)/, '$1\t');
      break;
    case 3:
      lines[i] = `${lines[i]}   `;
      break;
    case 4:
      lines.splice(i, 0, rng.pick(['# comment', '', '   ', '  # indented comment', '---', '...']));
      break;
    case 5:
      lines.splice(i, 0, lines[i]);
      break;
    default:
      break;
  }
  const out = lines.join('\n');
  return rng.chance(0.1) ? out.replace(/\n/g, '\r\n') : out;
}

describe('fast YAML reader', () => {
  it('reads every repository document exactly as the yaml package does', () => {
    const docs = repoYamlFiles();
    // Imported manifests (Kubernetes, Cilium) are multi-document streams, which only the full parser reads.
    const imported = join('test', 'fixtures', 'import');
    let weft = 0;
    let accepted = 0;
    for (const f of docs) {
      const inSubset = compare(readFileSync(f, 'utf8'), f);
      if (f.includes(imported)) continue;
      weft++;
      if (inSubset) accepted++;
    }
    console.log(`repository documents: ${docs.length} compared, ${accepted} of ${weft} Weft documents read by the fast reader, the rest handed over`);
    expect(docs.length).toBeGreaterThan(50);
    // The subset exists for Weft's own files: nearly all of them must be in it.
    expect(accepted).toBeGreaterThan(weft * 0.9);
  });

  it('agrees with the yaml package on generated documents, or hands them over', () => {
    const rng = makeRng(20261130);
    const N = 6000;
    let accepted = 0;
    for (let k = 0; k < N; k++) {
      let text = blockText(rng, 0, 0);
      if (rng.chance(0.5)) text = mutate(rng, text);
      if (rng.chance(0.3)) text = `${rng.pick(['---\n', '# head\n', '\n', '--- # c\n'])}${text}`;
      if (rng.chance(0.5)) text += '\n';
      if (compare(text, `generated #${k}`)) accepted++;
    }
    console.log(`generated documents: ${N} compared, ${accepted} read by the fast reader, ${N - accepted} handed over`);
    expect(accepted).toBeGreaterThan(N * 0.25);
    expect(accepted).toBeLessThan(N);
  });

  it('agrees on every tricky scalar, as a value, a key and a flow item', () => {
    let accepted = 0;
    for (const s of [...TRICKY_SCALARS, ...QUOTED]) {
      for (const text of [`k: ${s}\n`, `${s}: v\n`, `- ${s}\n`, `k: [${s}, x]\n`, `k: {a: ${s}}\n`, `k: ${s} # c\n`, `k: ${s}   \r\n`]) {
        if (compare(text, JSON.stringify(text))) accepted++;
      }
    }
    console.log(`tricky scalars: ${accepted} documents read by the fast reader and equal`);
    expect(accepted).toBeGreaterThan(300);
  });

  it('agrees on hand-picked layouts: compact lists, lists at their key\'s indentation, spaced colons, comments', () => {
    const docs = [
      'a : 1\n', '"a" : 1\n', "a: 'x' \n", 'a: x  # c\n', '- - a\n  - b\n- c\n', 'a:\n  - x\n  - y\nb: 1\n', '- a: 1\n  b:\n  - x\n- c\n',
      'a: -1\nb: -x\nc: :x\nd: ?x\n', 'a: 1\n\n\n', 'a: 1   ', 'a:    \n  b: 1\n', 'a: # c\n  b: 1\n', 'ü: 1\n', 'a: [a, [b, c], {d: e}]\n',
      'a: {"b": 1}\n', "a: {'b': 1}\n", 'a: [ ]\nb: { }\nc: []  # c\n', '-1: a\n1.5: b\ntrue: x\n~: y\n', 'a: b #c\n#d\ne: f\n', '--- # c\na: 1\n',
      '- [a, b]\n- {c: d}\n', '- -\n', '-\n-\n', 'a: 1 #\n', 'a: x #y #z\n', 'x:\n  -   a\n  -    b: 1\n       c: 2\n', 'a: [1e3, .5e-2, +.inf, -0.0]\n',
    ];
    for (const d of docs) expect(compare(d, JSON.stringify(d)), JSON.stringify(d)).toBe(true);
  });

  it('hands over what lies outside the subset', () => {
    for (const text of ['a: &x 1\nb: *x\n', 'a: |\n  x\n', 'a: !!str 1\n', 'a: b\n  c\n', 'a: "x\n  y"\n', '? a\n: b\n', 'a:\tb\n', 'a: 1\na: 2\n', 'a: 1\n---\nb: 2\n', '%YAML 1.2\n---\na: 1\n', 'a: [1,\n  2]\n', '', '# only\n', 'a: [x, y,]\n', '\ufeffa: 1\n', 'b: x::\n', 'k: [x]y\n', 'a: [a: b]\n', 'a: {a}\n', 'a:\n  b: 1\n c: 2\n']) {
      expect('root' in readFastYaml(text, 64), JSON.stringify(text)).toBe(false);
    }
  });

  it('hands over nesting deeper than the bound instead of recursing', () => {
    const deep = `${'- '.repeat(70)}x\n`;
    expect('root' in readFastYaml(deep, 64)).toBe(false);
    const flow = `k: ${'['.repeat(100000)}${']'.repeat(100000)}\n`;
    expect('root' in readFastYaml(flow, 64)).toBe(false);
  });
});
