// Which reader a document goes to, and the bounds that keep big or hostile
// input from crashing or hanging: the input limit, the full parser's own
// limit, nesting, alias bombs and recursive aliases.

import { describe, expect, it } from 'vitest';
import { DiagnosticBag } from '../diagnostics.ts';
import { MAX_FULL_YAML_BYTES, MAX_INPUT_BYTES, YamlSource } from './source.ts';

function parse(text: string, file = 'doc.yaml'): { src: YamlSource | undefined; bag: DiagnosticBag } {
  const bag = new DiagnosticBag();
  return { src: YamlSource.parse(text, file, bag), bag };
}

const codes = (bag: DiagnosticBag): string[] => bag.items.map((d) => d.code);

describe('YamlSource', () => {
  it('reads .json files as JSON and everything else as YAML, to the same tree', () => {
    const json = parse('{\n  "a": [1, "x", true, null],\n  "b": {"c": 1.5}\n}\n', 'doc.json');
    const yaml = parse('a: [1, x, true, null]\nb:\n  c: 1.5\n');
    const values = (s: YamlSource | undefined) => JSON.stringify(s?.root, (k, v) => (k === 'start' ? undefined : v));
    expect(values(json.src)).toBe(values(yaml.src));
    // A YAML comment is a JSON syntax error: the name decides the reader.
    expect(codes(parse('# c\n{"a": 1}\n', 'doc.json').bag)).toEqual(['json-syntax']);
    expect(parse('# c\n{"a": 1}\n', 'doc.yaml').src).toBeDefined();
  });

  it('gives every diagnostic its line and column from the node offset', () => {
    const { src } = parse('a: 1\r\nb:\r\n  c: [x, y]\r\n');
    const b = src!.get(src!.map(src!.root, 'doc')!, 'b')!;
    const c = src!.get(src!.map(b, 'b')!, 'c')!;
    expect(src!.span(c)).toEqual({ file: 'doc.yaml', line: 3, col: 6 });
  });

  it('refuses YAML outside the fast subset above the full parser limit, at the construct, without running it', () => {
    const filler = `${'x: 1\n'.repeat(Math.ceil(MAX_FULL_YAML_BYTES / 5))}`;
    const t0 = Date.now();
    const { src, bag } = parse(`a: 1\nb: &anchor {c: 1}\n${filler.replace(/^x: 1\n/, '')}`);
    expect(src).toBeUndefined();
    expect(codes(bag)).toEqual(['input-too-large']);
    expect(bag.items[0].span).toMatchObject({ line: 2, col: 4 });
    expect(bag.items[0].hint).toMatch(/^valid: /);
    console.log(`${(MAX_FULL_YAML_BYTES / 2 ** 20).toFixed(0)} MiB of YAML with an anchor: refused in ${Date.now() - t0} ms`);
  });

  it('refuses input over the input limit before parsing', () => {
    const { src, bag } = parse(`a: "${'x'.repeat(MAX_INPUT_BYTES)}"\n`, 'doc.json');
    expect(src).toBeUndefined();
    expect(codes(bag)).toEqual(['input-too-large']);
  });

  it('reads a huge scalar inside the limits', () => {
    const { src, bag } = parse(`{"a": "${'x'.repeat(8 * 2 ** 20)}"}`, 'doc.json');
    expect(codes(bag)).toEqual([]);
    expect(src).toBeDefined();
  });

  it('refuses deep nesting, alias bombs and recursive aliases with clear errors', () => {
    expect(codes(parse(`a: ${'['.repeat(200)}${']'.repeat(200)}\n`).bag)).toEqual(['too-deep']);
    expect(codes(parse(`${'- '.repeat(100)}x\n`).bag)).toEqual(['too-deep']);
    expect(codes(parse(`${'['.repeat(200)}${']'.repeat(200)}`, 'doc.json').bag)).toEqual(['too-deep']);
    const bomb = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) bomb.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
    expect(codes(parse(`${bomb.join('\n')}\n`).bag)).toEqual(['alias-expansion']);
    const cycle = parse('a: &x [1, *x, *x]\n');
    expect(codes(cycle.bag)).toEqual(['alias-cycle']);
    expect(cycle.bag.items[0].span).toMatchObject({ line: 1, col: 11 });
  });

  it('reports a duplicate key and still reads the document', () => {
    const { src, bag } = parse('a: 1\nb: 2\na: 3\n');
    expect(codes(bag)).toEqual(['duplicate-key']);
    expect(bag.items[0].span).toMatchObject({ line: 3, col: 1 });
    expect(src).toBeDefined();
  });

  it('reads a stream of documents, one source per non-empty document, with positions in the whole file', () => {
    const bag = new DiagnosticBag();
    const docs = YamlSource.parseAll('# head\n---\na: 1\n---\n---\nb: &x [1]\nc: *x\n', 'm.yaml', bag);
    expect(codes(bag)).toEqual([]);
    expect(docs?.length).toBe(2);
    const [first, second] = docs!;
    expect(first.span(first.get(first.map(first.root, 'doc')!, 'a'))).toEqual({ file: 'm.yaml', line: 3, col: 4 });
    const m = second.map(second.root, 'doc')!;
    expect(second.span(second.get(m, 'b'))).toEqual({ file: 'm.yaml', line: 6, col: 7 });
    // The alias reads as the anchored list itself.
    expect(second.get(m, 'c')).toBe(second.get(m, 'b'));
    // A plain single document takes the fast reader and is still one source.
    expect(YamlSource.parseAll('a: 1\n', 'm.yaml', bag)?.length).toBe(1);
    expect(YamlSource.parseAll('# nothing\n', 'm.yaml', bag)).toEqual([]);
  });

  it('bounds and reports every document of a stream as a single document is', () => {
    const bag = new DiagnosticBag();
    expect(YamlSource.parseAll(`a: 1\n---\nb: [1\n---\nc: ${'['.repeat(100)}${']'.repeat(100)}\n`, 'm.yaml', bag)).toBeUndefined();
    expect(codes(bag)).toContain('too-deep');
    expect(bag.items.find((d) => d.code === 'yaml-syntax')?.span?.line).toBeGreaterThanOrEqual(3);
    const dup = new DiagnosticBag();
    expect(YamlSource.parseAll('a: 1\n---\nb: 1\nb: 2\n', 'm.yaml', dup)?.length).toBe(2);
    expect(codes(dup)).toEqual(['duplicate-key']);
    expect(dup.items[0].span).toMatchObject({ line: 4, col: 1 });
  });

  it('reads a .json stream as its one document', () => {
    const bag = new DiagnosticBag();
    const docs = YamlSource.parseAll('{"kind": "List", "items": []}', 'm.json', bag);
    expect(codes(bag)).toEqual([]);
    expect(docs?.length).toBe(1);
    expect(codes((() => { const b = new DiagnosticBag(); YamlSource.parseAll('{"a": 1}\n---\n{"b": 2}', 'm.json', b); return b; })())).toEqual(['json-syntax']);
  });
});
