// Documents read as plain values (objects, arrays, strings, numbers), the
// fast path of the loaders for large inputs: JSON through the engine's own
// JSON.parse, YAML through the fast reader's plain mode. JSON.parse keeps no
// positions and silently keeps the last of two equal keys, so one scan of
// the text afterwards finds where each object starts and how many members it
// has (a count JSON.parse's object disagrees with means a duplicate key).
// Nothing here reports: a document that is not read (a syntax error, a
// duplicate key, a number spelled otherwise than it prints, anything plain
// values do not keep) is read again by source.ts, with positions, and its
// problems are reported from there.

import { readFastYamlPlain } from './fast.ts';
import { scalar, type PairNode, type PlainMap, type PlainValue, type SourceNode } from './node.ts';
import { isJsonFile, MAX_DEPTH, MAX_INPUT_BYTES } from './source.ts';

export interface PlainDocument {
  root: PlainValue;
  /** Offset in the text where each mapping (object) starts, for spans. */
  starts: Map<object, number>;
}

/**
 * Reads `text` (JSON when `file` ends in .json, else YAML) as plain values.
 * Every number and boolean in the result is written in the text exactly as
 * String() prints it, and every key is a string an object keeps in document
 * order; a document where that does not hold is not read (undefined).
 */
export function readPlainDocument(text: string, file: string): PlainDocument | undefined {
  if (Buffer.byteLength(text, 'utf8') > MAX_INPUT_BYTES) return undefined;
  if (!isJsonFile(file)) {
    const read = readFastYamlPlain(text, MAX_DEPTH);
    return 'root' in read ? read : undefined;
  }
  let root: PlainValue;
  try {
    root = JSON.parse(text) as PlainValue;
  } catch {
    return undefined;
  }
  const objects = scanJsonObjects(text);
  const starts = objects && matchObjects(root, objects);
  return starts && { root, starts };
}

export function isPlainMap(v: PlainValue | undefined): v is PlainMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Source nodes for a plain value found in a mapping that starts at `at`:
 * every node is placed at the start of its nearest mapping, which is where
 * a loader's span of that mapping points (a diagnostic about one of its
 * values is not made from these nodes: the caller reads the file again).
 */
export function plainToNode(v: PlainValue, at: number, starts: Map<object, number>): SourceNode {
  if (v === null || typeof v !== 'object') return scalar(at, v, typeof v === 'string' ? v : String(v));
  if (Array.isArray(v)) return { kind: 'seq', start: at, items: v.map((i) => plainToNode(i, at, starts)) };
  const start = starts.get(v) ?? at;
  const items: PairNode[] = [];
  for (const k in v) items.push({ key: scalar(start, k, k), value: plainToNode(v[k], start, starts) });
  return { kind: 'map', start, items };
}

interface JsonObjects {
  count: number;
  offsets: Int32Array;
  members: Int32Array;
}

const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const MINUS = 0x2d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** A JSON integer short enough that Number() and String() give its text back. */
const PRINTED_AS_WRITTEN = /^(?:0|-?[1-9][0-9]{0,14})$/;

/**
 * Where each object of a well-formed JSON text starts and how many members
 * it has, in document order; undefined for nesting beyond MAX_DEPTH or a
 * number String() would print otherwise (1.0, 1e3, -0, 20 digits).
 */
function scanJsonObjects(s: string): JsonObjects | undefined {
  let offsets: Int32Array = new Int32Array(1024);
  let members: Int32Array = new Int32Array(1024);
  let count = 0;
  // The object index of each open container, -1 for an array.
  const open = new Int32Array(MAX_DEPTH + 1);
  let depth = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === DQUOTE) {
      i = closingQuote(s, i);
    } else if (c === LBRACE || c === LBRACKET) {
      if (depth >= MAX_DEPTH) return undefined;
      if (c === LBRACE) {
        if (count === offsets.length) {
          offsets = grown(offsets);
          members = grown(members);
        }
        offsets[count] = i;
        open[depth] = count++;
      } else {
        open[depth] = -1;
      }
      depth++;
    } else if (c === RBRACE || c === RBRACKET) {
      depth--;
    } else if (c === COLON) {
      members[open[depth - 1]]++;
    } else if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) {
      let end = i + 1;
      for (; end < n; end++) {
        const d = s.charCodeAt(end);
        if (!((d >= DIGIT_0 && d <= DIGIT_9) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === MINUS)) break;
      }
      if (!PRINTED_AS_WRITTEN.test(s.slice(i, end))) return undefined;
      i = end - 1;
    }
  }
  return { count, offsets, members };
}

/** The closing quote of the string opening at `i` (the text is well-formed JSON). */
function closingQuote(s: string, i: number): number {
  let j = s.indexOf('"', i + 1);
  for (;;) {
    let k = j - 1;
    while (s.charCodeAt(k) === BACKSLASH) k--;
    // An even run of backslashes escapes itself, not the quote.
    if ((j - 1 - k) % 2 === 0) return j;
    j = s.indexOf('"', j + 1);
  }
}

function grown(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/**
 * Pairs JSON.parse's objects with the scanned ones (both in document order)
 * into the offset map; undefined when an object has fewer keys than members
 * (a duplicate key) or a key an object does not keep in order.
 */
function matchObjects(root: PlainValue, objects: JsonObjects): Map<object, number> | undefined {
  const starts = new Map<object, number>();
  let next = 0;
  const walk = (v: PlainValue): boolean => {
    if (v === null || typeof v !== 'object') return true;
    if (Array.isArray(v)) {
      for (const item of v) if (!walk(item)) return false;
      return true;
    }
    const index = next++;
    if (index >= objects.count) return false;
    starts.set(v, objects.offsets[index]);
    let keys = 0;
    for (const k in v) {
      const c = k.charCodeAt(0);
      // An object puts integer-like keys first and treats __proto__ apart: neither keeps the document's order.
      if ((c >= DIGIT_0 && c <= DIGIT_9) || k === '__proto__') return false;
      keys++;
      if (!walk(v[k])) return false;
    }
    return keys === objects.members[index];
  };
  return walk(root) && next === objects.count ? starts : undefined;
}
