// The document tree every Weft loader reads: mappings, lists and scalars,
// each with the offset where it starts in the source text. The fast YAML
// reader, the `yaml`-package reader and the JSON reader all produce it, so
// the loaders never see which parser ran. Line and column are computed from
// `start` only when a diagnostic needs them.

import { createHash } from 'node:crypto';

/** What a scalar resolves to (YAML 1.2 core schema; JSON values). */
export type ScalarValue = string | number | boolean | bigint | null;

export interface ScalarNode {
  readonly kind: 'scalar';
  /** Offset of the scalar's first character (its opening quote, if quoted). */
  readonly start: number;
  readonly value: ScalarValue;
  /** The scalar's text before type resolution, quotes removed ("01" for 01). */
  readonly source: string;
}

export interface PairNode {
  /** null only for YAML's empty key (`: value`), which the fallback reader keeps. */
  readonly key: SourceNode | null;
  readonly value: SourceNode | null;
}

export interface MapNode {
  readonly kind: 'map';
  readonly start: number;
  readonly items: PairNode[];
}

export interface SeqNode {
  readonly kind: 'seq';
  readonly start: number;
  readonly items: (SourceNode | null)[];
}

export type SourceNode = ScalarNode | MapNode | SeqNode;

export function isMap(n: SourceNode | null | undefined): n is MapNode {
  return n?.kind === 'map';
}

export function isSeq(n: SourceNode | null | undefined): n is SeqNode {
  return n?.kind === 'seq';
}

export function isScalar(n: SourceNode | null | undefined): n is ScalarNode {
  return n?.kind === 'scalar';
}

export function scalar(start: number, value: ScalarValue, source: string): ScalarNode {
  return { kind: 'scalar', start, value, source };
}

/** Slices up to this long are looked up in the table before a new string is made. */
const INTERN_MAX = 24;
const INTERN_SLOTS = 4096;

/**
 * Hands out one string per distinct short slice of a text. Keys and label
 * values repeat on every endpoint of a large inventory ("name", "host",
 * "prod"): reusing the string saves an allocation per scalar, which is most
 * of a large document's garbage-collection work. A slot holds the last
 * string that hashed to it; a miss only costs the slice it would have made.
 */
export class SliceInterner {
  private readonly table: (string | undefined)[] = new Array<string | undefined>(INTERN_SLOTS);

  constructor(private readonly text: string) {}

  slice(start: number, end: number): string {
    const len = end - start;
    const text = this.text;
    if (len > INTERN_MAX) return text.slice(start, end);
    let h = len;
    for (let i = start; i < end; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
    const slot = h & (INTERN_SLOTS - 1);
    const known = this.table[slot];
    if (known !== undefined && known.length === len && text.startsWith(known, start)) return known;
    const str = text.slice(start, end);
    this.table[slot] = str;
    return str;
  }
}

/**
 * Offsets of line starts, built on the first diagnostic: a 64 MiB input
 * pays for it only when something is reported.
 */
export class LineIndex {
  private starts: Int32Array | undefined;
  /** The line of the previous lookup: loaders ask in document order, so most lookups are this line or a near one. */
  private last = 0;

  constructor(private readonly text: string) {}

  /** 0-based line of `offset`. */
  private lineOf(offset: number): number {
    const starts = (this.starts ??= lineStarts(this.text));
    let line = this.last;
    if (starts[line] <= offset) {
      for (let k = 0; k < 4 && line + 1 < starts.length && starts[line + 1] <= offset; k++) line++;
      if (line + 1 >= starts.length || offset < starts[line + 1]) return (this.last = line);
    }
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return (this.last = lo);
  }

  /** file:line:col of `offset`, 1-based, columns in UTF-16 units as the `yaml` package counts them. */
  span(file: string, offset: number): { file: string; line: number; col: number } {
    const line = this.lineOf(offset);
    return { file, line: line + 1, col: offset - this.starts![line] + 1 };
  }
}

function lineStarts(text: string): Int32Array {
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  const starts = new Int32Array(n);
  let k = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts[k++] = i + 1;
  return starts;
}

/**
 * A document as plain JavaScript values, without positions: what the
 * loaders' fast path for large inputs reads (plain.ts). Mappings are objects
 * whose keys keep the document's order, lists are arrays.
 */
export type PlainValue = string | number | boolean | null | PlainValue[] | PlainMap;
export interface PlainMap {
  [key: string]: PlainValue;
}

/** Pieces of canonical text gathered before they are joined and hashed. */
const DIGEST_BATCH = 8192;
/** Distinct keys remembered with their quotes: a document repeats a few keys on every item. */
const QUOTED_KEYS = 1024;
/** What JSON.stringify escapes in a string (a lone surrogate too); other strings are quoted as they are. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function quote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/**
 * Feeds a document's canonical text to a hash in batches of pieces, joined
 * once per batch: a 64 MiB document is never one string, and its millions
 * of scalars make no string per concatenation.
 */
class DigestWriter {
  private readonly hash = createHash('sha256');
  private parts: string[] = [];
  private readonly keys = new Map<string, string>();

  put(s: string): void {
    this.parts.push(s);
    if (this.parts.length >= DIGEST_BATCH) {
      this.hash.update(this.parts.join(''));
      this.parts = [];
    }
  }

  scalar(v: ScalarValue): void {
    this.put(typeof v === 'string' ? quote(v) : typeof v === 'bigint' ? `${v}n` : String(v));
  }

  /** A string key and the colon after it. */
  key(k: string): void {
    let q = this.keys.get(k);
    if (q === undefined) {
      q = `${quote(k)}:`;
      if (this.keys.size < QUOTED_KEYS) this.keys.set(k, q);
    }
    this.put(q);
  }

  end(): string {
    this.hash.update(this.parts.join(''));
    return this.hash.digest('hex');
  }
}

/**
 * A digest of what a document says, not how it is written: YAML and JSON
 * spellings of one document, or a copy with other comments and layout,
 * digest alike, so a JSON twin compiles to the same artefacts. Keys keep
 * their order (rule order is meaning); scalars are told apart by type.
 */
export function contentDigest(root: SourceNode | null): string {
  const out = new DigestWriter();
  const walk = (n: SourceNode | null): void => {
    if (n === null) return out.put('~');
    if (n.kind === 'map') {
      out.put('{');
      for (const p of n.items) {
        const k = p.key;
        if (k !== null && k.kind === 'scalar' && typeof k.value === 'string') {
          out.key(k.value);
        } else {
          walk(k);
          out.put(':');
        }
        walk(p.value);
        out.put(',');
      }
      return out.put('}');
    }
    if (n.kind === 'seq') {
      out.put('[');
      for (const i of n.items) {
        walk(i);
        out.put(',');
      }
      return out.put(']');
    }
    out.scalar(n.value);
  };
  walk(root);
  return out.end();
}

/**
 * contentDigest of the same document read as plain values (whose keys are
 * all strings; a null is a scalar null, never a missing node): the same
 * text is hashed, so both readings digest alike.
 */
export function plainDigest(root: PlainValue): string {
  const out = new DigestWriter();
  const walk = (v: PlainValue): void => {
    if (v === null || typeof v !== 'object') return out.scalar(v);
    if (Array.isArray(v)) {
      out.put('[');
      for (const i of v) {
        walk(i);
        out.put(',');
      }
      return out.put(']');
    }
    out.put('{');
    for (const k in v) {
      out.key(k);
      walk(v[k]);
      out.put(',');
    }
    out.put('}');
  };
  walk(root);
  return out.end();
}
