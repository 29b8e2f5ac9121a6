// Line and column lookup against a direct count, in document order and in
// random order (the cached line must never leak into a wrong answer), and
// the content digest's independence from format and layout.

import { describe, expect, it } from 'vitest';
import { makeRng } from '../testing/generate.ts';
import { contentDigest, LineIndex, scalar, type SourceNode } from './node.ts';

function direct(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const nl = before.lastIndexOf('\n');
  return { line: before.split('\n').length, col: offset - nl };
}

describe('LineIndex', () => {
  it('matches a direct count for offsets in order and out of order', () => {
    const rng = makeRng(3);
    let checked = 0;
    for (let k = 0; k < 50; k++) {
      const text = Array.from({ length: rng.int(1, 40) }, () => 'x'.repeat(rng.int(0, 12))).join(rng.pick(['\n', '\r\n']));
      const lines = new LineIndex(text);
      const offsets = Array.from({ length: 60 }, () => rng.int(0, text.length));
      const ordered = [...offsets].sort((a, b) => a - b);
      for (const o of [...ordered, ...offsets]) {
        expect(lines.span('f', o), `${JSON.stringify(text)} @${o}`).toEqual({ file: 'f', ...direct(text, o) });
        checked++;
      }
    }
    console.log(`LineIndex: ${checked} lookups equal to a direct count`);
  });
});

describe('contentDigest', () => {
  const map = (start: number, pairs: [string, SourceNode | null][]): SourceNode => ({ kind: 'map', start, items: pairs.map(([k, v]) => ({ key: scalar(start, k, k), value: v })) });
  it('ignores offsets and source spelling, and tells types and order apart', () => {
    const a = map(0, [['port', scalar(6, 22, '22')], ['app', scalar(9, 'web', 'web')]]);
    const b = map(40, [['port', scalar(90, 22, '0x16')], ['app', scalar(99, 'web', 'web')]]);
    expect(contentDigest(a)).toBe(contentDigest(b));
    expect(contentDigest(map(0, [['port', scalar(0, '22', '22')], ['app', scalar(0, 'web', 'web')]]))).not.toBe(contentDigest(a));
    expect(contentDigest(map(0, [['app', scalar(0, 'web', 'web')], ['port', scalar(0, 22, '22')]]))).not.toBe(contentDigest(a));
    expect(contentDigest(map(0, [['port', null]]))).not.toBe(contentDigest(map(0, [['port', scalar(0, null, '')]])));
  });
});
