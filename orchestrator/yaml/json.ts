// A JSON reader (RFC 8259) that keeps where every value starts, so policy
// and fabric files written as JSON get the same file:line:col diagnostics as
// YAML ones. It builds Weft's source nodes directly; a syntax error is
// reported once, at the offending character, with what was expected there.

import type { DiagnosticBag, SourceSpan } from '../diagnostics.ts';
import { scalar, SliceInterner, type MapNode, type PairNode, type ScalarNode, type SeqNode, type SourceNode } from './node.ts';

export interface JsonReadLimits {
  maxDepth: number;
  spanAt(offset: number): SourceSpan;
}

class JsonSyntax extends Error {
  constructor(
    readonly offset: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?/y;
/** A run of string characters that need no decoding. */
const PLAIN_STRING_RE = /[^"\\\u0000-\u001f]*/y;

/**
 * Parses `text` as one JSON value. Returns the root, or undefined after
 * reporting a syntax error (code json-syntax), nesting beyond maxDepth
 * (too-deep) or a duplicate key (duplicate-key, reading goes on).
 */
export function readJson(text: string, bag: DiagnosticBag, limits: JsonReadLimits): SourceNode | undefined {
  const reader = new JsonReader(text, bag, limits);
  try {
    return reader.document();
  } catch (e) {
    if (!(e instanceof JsonSyntax)) throw e;
    const valid = e.code === 'too-deep' ? `valid: at most ${limits.maxDepth} levels of nesting` : 'valid: well-formed JSON (RFC 8259): double-quoted keys and strings, no trailing commas or comments';
    bag.error(e.code, e.code === 'too-deep' ? e.message : `JSON syntax error: ${e.message}`, limits.spanAt(e.offset), valid);
    return undefined;
  }
}

function describeChar(text: string, at: number): string {
  if (at >= text.length) return 'the end of the file';
  const c = text[at];
  if (c === '\n' || c === '\r') return 'a line break';
  return `"${text.slice(at, at + 1)}"`;
}

class JsonReader {
  private pos = 0;
  private readonly strings: SliceInterner;

  constructor(
    private readonly s: string,
    private readonly bag: DiagnosticBag,
    private readonly limits: JsonReadLimits,
  ) {
    this.strings = new SliceInterner(s);
  }

  private fail(expected: string, at = this.pos): never {
    throw new JsonSyntax(at, 'json-syntax', `expected ${expected}, found ${describeChar(this.s, at)}`);
  }

  document(): SourceNode {
    this.skipWhitespace();
    const root = this.value(0);
    this.skipWhitespace();
    if (this.pos < this.s.length) this.fail('the end of the file after the top-level value');
    return root;
  }

  private skipWhitespace(): void {
    const s = this.s;
    for (;;) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else return;
    }
  }

  private value(depth: number): SourceNode {
    const s = this.s;
    const c = s.charCodeAt(this.pos);
    if (c === 0x7b || c === 0x5b) {
      if (depth >= this.limits.maxDepth) throw new JsonSyntax(this.pos, 'too-deep', `the document nests deeper than ${this.limits.maxDepth} levels`);
      return c === 0x7b ? this.object(depth) : this.array(depth);
    }
    if (c === 0x22) return this.string();
    const start = this.pos;
    if (s.startsWith('true', start)) return this.literal(start, true, 'true');
    if (s.startsWith('false', start)) return this.literal(start, false, 'false');
    if (s.startsWith('null', start)) return this.literal(start, null, 'null');
    NUMBER_RE.lastIndex = start;
    const m = NUMBER_RE.exec(s);
    if (m) {
      this.pos = start + m[0].length;
      return scalar(start, Number(m[0]), m[0]);
    }
    return this.fail('a value (an object, array, string, number, true, false or null)');
  }

  private literal(start: number, value: boolean | null, word: string): ScalarNode {
    this.pos = start + word.length;
    return scalar(start, value, word);
  }

  private object(depth: number): MapNode {
    const s = this.s;
    const start = this.pos++;
    const items: PairNode[] = [];
    const keys = new Set<string>();
    this.skipWhitespace();
    if (s.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return { kind: 'map', start, items };
    }
    for (;;) {
      if (s.charCodeAt(this.pos) !== 0x22) this.fail('a double-quoted key');
      const key = this.string();
      this.skipWhitespace();
      if (s.charCodeAt(this.pos) !== 0x3a) this.fail('":" after the key');
      this.pos++;
      this.skipWhitespace();
      const value = this.value(depth + 1);
      const k = key.value as string;
      if (keys.has(k)) {
        this.bag.error('duplicate-key', `duplicate key "${k.length > 60 ? `${k.slice(0, 60)}...` : k}" in the same object`, this.limits.spanAt(key.start), 'valid: each key once per object; rename or merge the second definition');
      } else {
        keys.add(k);
        items.push({ key, value });
      }
      this.skipWhitespace();
      const c = s.charCodeAt(this.pos);
      if (c === 0x7d) {
        this.pos++;
        return { kind: 'map', start, items };
      }
      if (c !== 0x2c) this.fail('"," or "}" after an object member');
      this.pos++;
      this.skipWhitespace();
    }
  }

  private array(depth: number): SeqNode {
    const s = this.s;
    const start = this.pos++;
    const items: SourceNode[] = [];
    this.skipWhitespace();
    if (s.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return { kind: 'seq', start, items };
    }
    for (;;) {
      items.push(this.value(depth + 1));
      this.skipWhitespace();
      const c = s.charCodeAt(this.pos);
      if (c === 0x5d) {
        this.pos++;
        return { kind: 'seq', start, items };
      }
      if (c !== 0x2c) this.fail('"," or "]" after an array element');
      this.pos++;
      this.skipWhitespace();
    }
  }

  private string(): ScalarNode {
    const s = this.s;
    const start = this.pos;
    PLAIN_STRING_RE.lastIndex = start + 1;
    PLAIN_STRING_RE.exec(s);
    let end = PLAIN_STRING_RE.lastIndex;
    if (s.charCodeAt(end) === 0x22) {
      const v = this.strings.slice(start + 1, end);
      this.pos = end + 1;
      return scalar(start, v, v);
    }
    // Escapes: find the closing quote, then let JSON.parse decode (it checks every escape).
    for (;;) {
      const c = s.charCodeAt(end);
      if (end >= s.length) this.fail('a closing \'"\'', end);
      if (c === 0x22) break;
      if (c < 0x20) this.fail('a closing \'"\' or an escaped control character (\\n, \\t, \\u0000...)', end);
      end += c === 0x5c ? 2 : 1;
    }
    let v: string;
    try {
      v = JSON.parse(s.slice(start, end + 1)) as string;
    } catch {
      const bad = s.slice(start, end).search(/\\(?:[^"\\/bfnrtu]|u(?![0-9a-fA-F]{4}))/);
      return this.fail('a valid escape (\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX)', bad < 0 ? start : start + bad);
    }
    this.pos = end + 1;
    return scalar(start, v, v);
  }
}
