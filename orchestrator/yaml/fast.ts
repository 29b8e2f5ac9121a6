// A single-pass reader for the block-YAML subset Weft documents are written
// in: block mappings and lists, one-line flow mappings and lists, plain and
// quoted one-line scalars, comments. It produces the same values and node
// offsets as the `yaml` package (YAML 1.2 core schema, its defaults) at a
// fraction of the time and memory, because it keeps no tokens, no CST and no
// line table. Anything outside the subset (anchors, aliases, tags, block
// scalars, multi-line scalars or flow collections, complex keys, tabs,
// directives, several documents, duplicate keys, syntax errors) makes it
// give up, and the caller reads the text with the `yaml` package instead:
// the subset is an optimisation, never a different reading of a file.
// It builds either source nodes (with offsets, for the loaders'
// diagnostics) or plain values (objects, arrays, strings) for the loaders'
// fast path on large documents, which bails out wherever a plain value would
// lose something a node keeps.

import { scalar, SliceInterner, type PairNode, type PlainMap, type PlainValue, type ScalarNode, type ScalarValue, type SourceNode } from './node.ts';

/** Why the fast reader handed a text over to the full parser (and where). */
export interface Unsupported {
  offset: number;
  reason: string;
}

/** Thrown inside the reader; caught at its entry point. */
class Bail extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const HASH = 0x23;
const COLON = 0x3a;
const DASH = 0x2d;
const COMMA = 0x2c;
const SQUOTE = 0x27;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;

/** Maps with more keys than this check duplicates through a Set instead of a scan. */
const LINEAR_DUP_CHECK = 12;

/** The yaml package refuses implicit keys longer than this; so does the subset. */
const MAX_IMPLICIT_KEY = 1024;

/**
 * Reads `text` if it is inside the subset: the document's root (null for a
 * document without content is left to the full parser), or the reason it is
 * not. `maxDepth` bounds nesting; deeper documents go to the full parser,
 * which reports them.
 */
export function readFastYaml(text: string, maxDepth: number): { root: SourceNode } | Unsupported {
  try {
    return { root: new FastYamlReader(text, maxDepth, NODES).document() };
  } catch (e) {
    if (e instanceof Bail) return { offset: e.offset, reason: e.reason };
    throw e;
  }
}

/**
 * Reads `text` as plain values, with the offset of every mapping (`starts`),
 * if it is inside the subset and every value survives as a plain value: keys
 * are strings a JavaScript object keeps in order (none starts with a digit,
 * none is `__proto__`), numbers and booleans are written the way String()
 * spells them (so "as written" and the value agree). Otherwise the reason.
 */
export function readFastYamlPlain(text: string, maxDepth: number): { root: PlainValue; starts: Map<object, number> } | Unsupported {
  const plain = new PlainBuilder();
  try {
    return { root: new FastYamlReader(text, maxDepth, plain).document(), starts: plain.starts };
  } catch (e) {
    if (e instanceof Bail) return { offset: e.offset, reason: e.reason };
    throw e;
  }
}

/**
 * What the reader makes of what it read: `S` for a scalar (also a key), `N`
 * for any node. A mapping's keys and values, and a list's items, are handed
 * over as a range [base, top) of the reader's scratch stacks.
 */
interface TreeBuilder<S extends N, N> {
  scalar(start: number, value: ScalarValue, source: string): S;
  /** The value a key is compared by for duplicates. */
  keyValue(key: S): ScalarValue;
  map(start: number, keys: readonly S[], values: readonly N[], base: number, top: number): N;
  seq(start: number, items: readonly N[], base: number, top: number): N;
}

/** Source nodes, as every loader reads them. */
const NODES: TreeBuilder<ScalarNode, SourceNode> = {
  scalar,
  keyValue: (key) => key.value,
  map(start, keys, values, base, top) {
    // Exactly as long as the mapping: the tree lives until the loader is done.
    const items = new Array<PairNode>(top - base);
    for (let i = base; i < top; i++) items[i - base] = { key: keys[i], value: values[i] };
    return { kind: 'map', start, items };
  },
  seq: (start, items, base, top) => ({ kind: 'seq', start, items: items.slice(base, top) }),
};

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** Plain values; bails where a value would lose its spelling or its key order. */
class PlainBuilder implements TreeBuilder<PlainValue, PlainValue> {
  readonly starts = new Map<object, number>();

  scalar(start: number, value: ScalarValue, source: string): PlainValue {
    if (typeof value === 'string' || value === null || (typeof value !== 'bigint' && String(value) === source)) return value as PlainValue;
    throw new Bail(start, 'a number or boolean spelled otherwise than its value prints');
  }

  keyValue(key: PlainValue): ScalarValue {
    return key as ScalarValue;
  }

  map(start: number, keys: readonly PlainValue[], values: readonly PlainValue[], base: number, top: number): PlainValue {
    const out: PlainMap = {};
    for (let i = base; i < top; i++) {
      const k = keys[i];
      // An object puts integer-like keys first and treats __proto__ apart: neither keeps the document's reading.
      if (typeof k !== 'string' || k === '__proto__' || (k.charCodeAt(0) >= DIGIT_0 && k.charCodeAt(0) <= DIGIT_9)) throw new Bail(start, 'a key a plain object does not keep in order');
      out[k] = values[i];
    }
    this.starts.set(out, start);
    return out;
  }

  seq(_start: number, items: readonly PlainValue[], base: number, top: number): PlainValue {
    return items.slice(base, top);
  }
}

/** True where a character ends a plain scalar's indicator check: space, line end, end of text. */
function isBlankAt(s: string, i: number): boolean {
  if (i >= s.length) return true;
  const c = s.charCodeAt(i);
  return c === SPACE || c === LF || c === CR;
}

function isFlowIndicator(c: number): boolean {
  return c === COMMA || c === LBRACKET || c === RBRACKET || c === LBRACE || c === RBRACE;
}

/** Characters that cannot start a plain scalar (YAML 1.2 c-indicator), apart from - ? : handled by the caller. */
function isIndicator(c: number): boolean {
  switch (c) {
    case COMMA:
    case LBRACKET:
    case RBRACKET:
    case LBRACE:
    case RBRACE:
    case HASH:
    case 0x26: // & anchor
    case 0x2a: // * alias
    case 0x21: // ! tag
    case 0x7c: // | literal block scalar
    case 0x3e: // > folded block scalar
    case SQUOTE:
    case DQUOTE:
    case 0x25: // % directive
    case 0x40: // @ reserved
    case 0x60: // ` reserved
      return true;
    default:
      return false;
  }
}

/** Characters the subset leaves to the full parser wherever they appear in a scalar. */
function isAwkward(c: number): boolean {
  return (c < SPACE && c !== TAB) || c === 0x7f || c === 0x85 || c === 0xfeff || c === 0x2028 || c === 0x2029;
}

const NULL_RE = /^(?:~|[Nn]ull|NULL)$/;
const BOOL_RE = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const OCT_RE = /^0o[0-7]+$/;
const INT_RE = /^[-+]?[0-9]+$/;
const HEX_RE = /^0x[0-9a-fA-F]+$/;
const NAN_INF_RE = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const EXP_RE = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT_RE = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

/**
 * The value of a plain scalar under the YAML 1.2 core schema, tried in the
 * `yaml` package's order (null, bool, octal, decimal, hex, nan/inf,
 * exponent, float), each with the same conversion it uses. Null matches
 * only text starting n, N or ~, bool only t, T, f or F, numbers only a
 * digit, sign or dot, so each family is tried only where it can match.
 */
export function resolvePlain(str: string): ScalarValue {
  const c = str.charCodeAt(0);
  // The first character decides which tags can match at all: most scalars
  // are names, and "name" must not pay for eight regular expressions.
  // Likewise the length: null is 1 or 4 characters, a bool 4 or 5 ("name" is a key of every endpoint).
  const len = str.length;
  if (c === 0x6e || c === 0x4e || c === 0x7e) return (len === 4 || len === 1) && NULL_RE.test(str) ? null : str; // n N ~
  if (c === 0x74 || c === 0x54 || c === 0x66 || c === 0x46) return (len === 4 || len === 5) && BOOL_RE.test(str) ? c === 0x74 || c === 0x54 : str; // t T f F
  const numeric = (c >= 0x30 && c <= 0x39) || c === 0x2b || c === DASH || c === 0x2e;
  // No number has two dots: an IPv4 address (every endpoint has one) is a string without trying each form.
  if (!numeric || str.indexOf('.') !== str.lastIndexOf('.')) return str;
  if (OCT_RE.test(str)) return parseInt(str.substring(2), 8);
  if (INT_RE.test(str)) return parseInt(str, 10);
  if (HEX_RE.test(str)) return parseInt(str.substring(2), 16);
  if (NAN_INF_RE.test(str)) return str.slice(-3).toLowerCase() === 'nan' ? NaN : str[0] === '-' ? -Infinity : Infinity;
  if (EXP_RE.test(str) || FLOAT_RE.test(str)) return parseFloat(str);
  return str;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '0': '\0',
  a: '\x07',
  b: '\b',
  t: '\t',
  n: '\n',
  v: '\v',
  f: '\f',
  r: '\r',
  e: '\x1b',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
  N: '\u0085',
  _: '\u00a0',
  L: '\u2028',
  P: '\u2029',
};

const HEX_ESCAPE_LENGTH: Record<string, number> = { x: 2, u: 4, U: 8 };

class FastYamlReader<S extends N, N> {
  private pos = 0;
  /** Offset where the current line starts. */
  private lineStart = 0;
  /** Indentation of the content line the reader stands on; -1 at the end of the text. */
  private indent = -1;
  private readonly strings: SliceInterner;
  /**
   * Scratch stacks every mapping's pairs and every list's items are
   * gathered on, then copied into an array of their exact length: the tree
   * lives until the loader is done, and growable arrays (room for 16 on the
   * first push) would make the garbage collector copy mostly empty slots.
   * A collection's entries start at the stack top it found (its base);
   * nested collections push above and take theirs off before it goes on.
   */
  private readonly keyStack: S[] = [];
  private readonly valueStack: N[] = [];
  private pairTop = 0;
  private readonly itemStack: N[] = [];
  private itemTop = 0;

  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
    private readonly tree: TreeBuilder<S, N>,
  ) {
    this.strings = new SliceInterner(s);
  }

  private bail(reason: string, offset = this.pos): never {
    throw new Bail(offset, reason);
  }

  /**
   * Adds a pair to the mapping whose pairs start at `base`, refusing a key
   * equal to an earlier one by the `yaml` package's rule (equal scalar
   * values; NaN equals nothing). Small mappings scan; large ones index their
   * keys in `index` (returned, made here when needed), so a 100,000-key
   * mapping stays linear.
   */
  private addPair(base: number, key: S, keyStart: number, value: N, index: Set<ScalarValue> | undefined): Set<ScalarValue> | undefined {
    const keys = this.keyStack;
    const tree = this.tree;
    const top = this.pairTop;
    const v = tree.keyValue(key);
    if (index === undefined && top - base >= LINEAR_DUP_CHECK) {
      index = new Set<ScalarValue>();
      for (let i = base; i < top; i++) index.add(tree.keyValue(keys[i]));
    }
    if (index !== undefined) {
      if (index.has(v) && !Number.isNaN(v)) this.bail('a duplicate key', keyStart);
      index.add(v);
    } else {
      for (let i = base; i < top; i++) if (tree.keyValue(keys[i]) === v) this.bail('a duplicate key', keyStart);
    }
    keys[top] = key;
    this.valueStack[top] = value;
    this.pairTop = top + 1;
    return index;
  }

  /** The mapping of the pairs pushed since `base`, taking them off the stacks. */
  private takeMap(start: number, base: number): N {
    const map = this.tree.map(start, this.keyStack, this.valueStack, base, this.pairTop);
    this.pairTop = base;
    return map;
  }

  private pushItem(item: N): void {
    this.itemStack[this.itemTop++] = item;
  }

  private takeSeq(start: number, base: number): N {
    const seq = this.tree.seq(start, this.itemStack, base, this.itemTop);
    this.itemTop = base;
    return seq;
  }

  document(): N {
    this.nextContentLine(true);
    if (this.indent < 0) this.bail('a document without content', 0);
    const root = this.blockNode(0);
    if (this.indent >= 0) this.bail('content after the document root');
    return root;
  }

  /**
   * Moves from a line start to the next line with content, skipping blank
   * and comment lines, and records its indentation (-1 at the end).
   */
  private nextContentLine(first = false): void {
    const s = this.s;
    const n = s.length;
    for (;;) {
      let p = this.pos;
      if (p >= n) {
        this.indent = -1;
        return;
      }
      const ls = p;
      while (p < n && s.charCodeAt(p) === SPACE) p++;
      const c = p < n ? s.charCodeAt(p) : LF;
      if (c === TAB) this.bail('a tab in indentation', p);
      if (c === LF) {
        this.pos = p + 1;
        continue;
      }
      if (c === CR) {
        if (s.charCodeAt(p + 1) !== LF) this.bail('a carriage return without a line feed', p);
        this.pos = p + 2;
        continue;
      }
      if (c === HASH) {
        const eol = s.indexOf('\n', p);
        this.pos = eol < 0 ? n : eol + 1;
        continue;
      }
      if (p === ls && (s.startsWith('---', p) || s.startsWith('...', p)) && isBlankAt(s, p + 3)) {
        if (!(first && s.charCodeAt(p) === DASH)) this.bail('a document marker', p);
        this.pos = p + 3;
        this.endLine();
        first = false;
        continue;
      }
      this.pos = p;
      this.lineStart = ls;
      this.indent = p - ls;
      return;
    }
  }

  /** After a value: only spaces and a comment may follow on its line. */
  private endLine(): void {
    const s = this.s;
    let p = this.pos;
    while (p < s.length && s.charCodeAt(p) === SPACE) p++;
    if (p >= s.length) {
      this.pos = p;
      return;
    }
    const c = s.charCodeAt(p);
    if (c === LF) {
      this.pos = p + 1;
    } else if (c === CR && s.charCodeAt(p + 1) === LF) {
      this.pos = p + 2;
    } else if (c === HASH && p > 0 && s.charCodeAt(p - 1) === SPACE) {
      const eol = s.indexOf('\n', p);
      this.pos = eol < 0 ? s.length : eol + 1;
    } else {
      this.bail('unexpected text after a value', p);
    }
  }

  private skipSpaces(): void {
    const s = this.s;
    while (this.pos < s.length && s.charCodeAt(this.pos) === SPACE) this.pos++;
    if (s.charCodeAt(this.pos) === TAB) this.bail('a tab');
  }

  private atLineEnd(): boolean {
    const p = this.pos;
    if (p >= this.s.length) return true;
    const c = this.s.charCodeAt(p);
    return c === LF || c === CR || (c === HASH && this.s.charCodeAt(p - 1) === SPACE);
  }

  /** The block node at the reader's position (a content line, or after "- " on one). */
  private blockNode(depth: number): N {
    if (depth > this.maxDepth) this.bail('deep nesting');
    const s = this.s;
    const c = s.charCodeAt(this.pos);
    if (c === DASH && isBlankAt(s, this.pos + 1)) return this.blockSeq(depth);
    if (c === LBRACKET || c === LBRACE) {
      const node = this.flowCollection(depth);
      this.skipSpaces();
      if (s.charCodeAt(this.pos) === COLON) this.bail('a flow collection as a key');
      this.endLine();
      this.nextContentLine();
      return node;
    }
    const start = this.pos;
    const first = this.scalarToken(false);
    if (this.isKeyColon()) return this.blockMap(start, first, depth);
    this.endLine();
    this.nextContentLine();
    return first;
  }

  /** Skips spaces after a scalar; true when a mapping's ": " follows. */
  private isKeyColon(): boolean {
    const s = this.s;
    this.skipSpaces();
    if (s.charCodeAt(this.pos) !== COLON) return false;
    if (!isBlankAt(s, this.pos + 1)) this.bail('":" without a space after a key');
    return true;
  }

  private blockMap(start: number, firstKey: S, depth: number): N {
    const col = start - this.lineStart;
    const base = this.pairTop;
    let index: Set<ScalarValue> | undefined;
    let key = firstKey;
    let keyStart = start;
    for (;;) {
      if (this.pos - keyStart > MAX_IMPLICIT_KEY) this.bail('a very long key', keyStart);
      this.pos++; // the ":"
      this.skipSpaces();
      let value: N;
      if (this.atLineEnd()) {
        const emptyAt = this.pos;
        this.endLine();
        this.nextContentLine();
        if (this.indent > col) value = this.blockNode(depth + 1);
        else if (this.indent === col && this.s.charCodeAt(this.pos) === DASH && isBlankAt(this.s, this.pos + 1)) value = this.blockSeq(depth + 1);
        else value = this.tree.scalar(emptyAt, null, '');
      } else {
        value = this.inlineValue(depth + 1);
      }
      index = this.addPair(base, key, keyStart, value, index);
      if (this.indent < col) return this.takeMap(start, base);
      if (this.indent > col) this.bail('unexpected indentation');
      const c = this.s.charCodeAt(this.pos);
      if (c === DASH && isBlankAt(this.s, this.pos + 1)) this.bail('a list item where a key was expected');
      if (c === LBRACKET || c === LBRACE) this.bail('a flow collection as a key');
      keyStart = this.pos;
      key = this.scalarToken(false);
      if (!this.isKeyColon()) this.bail('a line without ":" in a mapping', keyStart);
    }
  }

  /** A value on the same line as its key: a scalar or a flow collection, then the line's end. */
  private inlineValue(depth: number): N {
    const s = this.s;
    const c = s.charCodeAt(this.pos);
    let node: N;
    if (c === LBRACKET || c === LBRACE) {
      if (depth > this.maxDepth) this.bail('deep nesting');
      node = this.flowCollection(depth);
    } else {
      node = this.scalarToken(false);
    }
    this.endLine();
    this.nextContentLine();
    return node;
  }

  private blockSeq(depth: number): N {
    const s = this.s;
    const start = this.pos;
    const col = start - this.lineStart;
    const base = this.itemTop;
    for (;;) {
      this.pos++; // the "-"
      this.skipSpaces();
      if (this.atLineEnd()) {
        const emptyAt = this.pos;
        this.endLine();
        this.nextContentLine();
        this.pushItem(this.indent > col ? this.blockNode(depth + 1) : this.tree.scalar(emptyAt, null, ''));
      } else {
        this.pushItem(this.blockNode(depth + 1));
      }
      if (this.indent > col) this.bail('unexpected indentation');
      if (this.indent < col || !(s.charCodeAt(this.pos) === DASH && isBlankAt(s, this.pos + 1))) return this.takeSeq(start, base);
    }
  }

  /** A quoted or plain scalar on the current line. */
  private scalarToken(flow: boolean): S {
    const c = this.s.charCodeAt(this.pos);
    if (c === SQUOTE) return this.singleQuoted();
    if (c === DQUOTE) return this.doubleQuoted();
    return this.plain(flow);
  }

  private plain(flow: boolean): S {
    const s = this.s;
    const n = s.length;
    const start = this.pos;
    const c0 = s.charCodeAt(start);
    if (isIndicator(c0)) this.bail('a YAML indicator the fast reader leaves to the full parser');
    if (c0 === DASH || c0 === 0x3f || c0 === COLON) {
      const next = start + 1 < n ? s.charCodeAt(start + 1) : LF;
      if (next === SPACE || next === LF || next === CR || next === TAB || (flow && isFlowIndicator(next))) this.bail('an indicator in value position');
    }
    let p = start;
    let end = start;
    for (; p < n; p++) {
      const c = s.charCodeAt(p);
      if (c === LF || c === CR) break;
      if (c === SPACE) {
        if (p + 1 < n && s.charCodeAt(p + 1) === HASH) break;
        continue;
      }
      if (c === COLON) {
        const next = p + 1 < n ? s.charCodeAt(p + 1) : LF;
        if (next === SPACE || next === LF || next === CR || (flow && isFlowIndicator(next))) break;
        if (next === TAB) this.bail('a tab', p + 1);
      } else if (flow && isFlowIndicator(c)) {
        break;
      } else if (isAwkward(c) || c === TAB) {
        this.bail('a tab or control character in a scalar', p);
      }
      end = p + 1;
    }
    if (end === start) this.bail('an empty plain scalar');
    this.pos = end;
    const str = this.strings.slice(start, end);
    return this.tree.scalar(start, resolvePlain(str), str);
  }

  private singleQuoted(): S {
    const s = this.s;
    const start = this.pos;
    let out = '';
    let from = start + 1;
    for (let p = from; ; p++) {
      if (p >= s.length) this.bail('an unterminated quoted scalar', start);
      const c = s.charCodeAt(p);
      if (c === SQUOTE) {
        out = from === start + 1 ? this.strings.slice(from, p) : out + s.slice(from, p);
        if (s.charCodeAt(p + 1) === SQUOTE) {
          out += "'";
          from = p + 2;
          p++;
          continue;
        }
        this.pos = p + 1;
        return this.tree.scalar(start, out, out);
      }
      if (c === LF || c === CR || isAwkward(c)) this.bail('a multi-line quoted scalar or a control character', p);
    }
  }

  private doubleQuoted(): S {
    const s = this.s;
    const start = this.pos;
    let out = '';
    let from = start + 1;
    for (let p = from; ; p++) {
      if (p >= s.length) this.bail('an unterminated quoted scalar', start);
      const c = s.charCodeAt(p);
      if (c === DQUOTE) {
        out = from === start + 1 ? this.strings.slice(from, p) : out + s.slice(from, p);
        this.pos = p + 1;
        return this.tree.scalar(start, out, out);
      }
      if (c === BACKSLASH) {
        out += s.slice(from, p);
        const e = s[p + 1] ?? '';
        const simple = SIMPLE_ESCAPES[e];
        if (simple !== undefined) {
          out += simple;
          p++;
        } else {
          const len = HEX_ESCAPE_LENGTH[e];
          const hex = len === undefined ? '' : s.substr(p + 2, len);
          if (len === undefined || hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex)) this.bail('an escape the fast reader leaves to the full parser', p);
          const code = parseInt(hex, 16);
          if (code > 0x10ffff) this.bail('an escape beyond Unicode', p);
          out += String.fromCodePoint(code);
          p += 1 + len;
        }
        from = p + 1;
        continue;
      }
      if (c === LF || c === CR || isAwkward(c)) this.bail('a multi-line quoted scalar or a control character', p);
    }
  }

  private flowSpaces(): void {
    const s = this.s;
    while (this.pos < s.length && s.charCodeAt(this.pos) === SPACE) this.pos++;
    const c = this.pos < s.length ? s.charCodeAt(this.pos) : LF;
    if (c === LF || c === CR || c === TAB || c === HASH) this.bail('a flow collection over several lines, a tab or a comment inside one');
  }

  private flowCollection(depth: number): N {
    return this.s.charCodeAt(this.pos) === LBRACKET ? this.flowSeq(depth) : this.flowMap(depth);
  }

  private flowItem(depth: number): N {
    if (depth > this.maxDepth) this.bail('deep nesting');
    const c = this.s.charCodeAt(this.pos);
    if (c === LBRACKET || c === LBRACE) return this.flowCollection(depth);
    return this.scalarToken(true);
  }

  private flowSeq(depth: number): N {
    const s = this.s;
    const start = this.pos++;
    const base = this.itemTop;
    this.flowSpaces();
    if (s.charCodeAt(this.pos) === RBRACKET) {
      this.pos++;
      return this.takeSeq(start, base);
    }
    for (;;) {
      this.pushItem(this.flowItem(depth + 1));
      this.flowSpaces();
      const c = s.charCodeAt(this.pos);
      if (c === RBRACKET) {
        this.pos++;
        return this.takeSeq(start, base);
      }
      if (c !== COMMA) this.bail('a flow list entry the fast reader does not read');
      this.pos++;
      this.flowSpaces();
      if (s.charCodeAt(this.pos) === RBRACKET) this.bail('a trailing comma');
    }
  }

  private flowMap(depth: number): N {
    const s = this.s;
    const start = this.pos++;
    const base = this.pairTop;
    this.flowSpaces();
    if (s.charCodeAt(this.pos) === RBRACE) {
      this.pos++;
      return this.takeMap(start, base);
    }
    let index: Set<ScalarValue> | undefined;
    for (;;) {
      const c0 = s.charCodeAt(this.pos);
      if (c0 === LBRACKET || c0 === LBRACE) this.bail('a flow collection as a key');
      const keyStart = this.pos;
      const key = this.scalarToken(true);
      this.flowSpaces();
      if (s.charCodeAt(this.pos) !== COLON || s.charCodeAt(this.pos + 1) !== SPACE) this.bail('a flow mapping entry without ": "');
      this.pos++;
      this.flowSpaces();
      const c = s.charCodeAt(this.pos);
      if (c === COMMA || c === RBRACE) this.bail('an empty flow mapping value');
      index = this.addPair(base, key, keyStart, this.flowItem(depth + 1), index);
      this.flowSpaces();
      const e = s.charCodeAt(this.pos);
      if (e === RBRACE) {
        this.pos++;
        return this.takeMap(start, base);
      }
      if (e !== COMMA) this.bail('a flow mapping entry the fast reader does not read');
      this.pos++;
      this.flowSpaces();
      if (s.charCodeAt(this.pos) === RBRACE) this.bail('a trailing comma');
    }
  }
}
