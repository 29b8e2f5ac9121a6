// A YAML document read with its source positions: parses once with the
// `yaml` package (which keeps node ranges), turns offsets into file:line:col
// spans, and offers typed readers that report a diagnostic (what was found,
// what is valid) instead of throwing, so a loader can collect every problem.

import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  parseDocument,
  type Document,
  type Node,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { DiagnosticBag, type SourceSpan } from '../diagnostics.ts';
import { readFileSync, statSync } from 'node:fs';

/** apiVersion of every Weft document (policy.yaml, fabric.yaml). */
export const WEFT_API_VERSION = 'weft.dev/v1';

/**
 * Largest input Weft reads. The YAML parser keeps node objects with ranges
 * for every scalar (around 110 bytes of heap per input byte at its peak) and
 * reads 1 to 1.5 MiB/s: a fabric of 100,000 endpoints (9.4 MiB) parses in
 * about 8 s with 1.1 GB peak memory on 2 cores. At this bound the peak stays
 * well inside Node's default heap; anything larger gets a clear error
 * instead of a stalled or crashed process.
 */
export const MAX_INPUT_BYTES = 16 * 1024 * 1024;

/**
 * Aliases may not expand a document beyond this many nodes plus the nodes
 * it actually contains ("billion laughs" protection).
 */
const MAX_ALIAS_EXPANSION = 100_000;

/** Nesting beyond this is refused before any recursive walk. */
const MAX_DEPTH = 64;

export function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MiB` : `${n} bytes`;
}

/** Reports an oversized input; true when the caller must stop. */
export function checkInputSize(bytes: number, file: string, bag: DiagnosticBag): boolean {
  if (bytes <= MAX_INPUT_BYTES) return false;
  bag.error(
    'input-too-large',
    `input is ${formatBytes(bytes)}, larger than the ${formatBytes(MAX_INPUT_BYTES)} Weft reads`,
    { file, line: 1, col: 1 },
    `valid: at most ${formatBytes(MAX_INPUT_BYTES)}; split the file or generate it with fewer, wider groups`,
  );
  return true;
}

/**
 * Reads an input file, refusing an unreadable or oversized one before its
 * text is loaded. `what` names the file for humans ("policy", "inventory").
 */
export function readInputFile(path: string, what: string, valid: string): string {
  const bag = new DiagnosticBag();
  let size = 0;
  try {
    size = statSync(path).size;
  } catch (e) {
    bag.error('unreadable-file', `cannot read the ${what} file: ${(e as Error).message}`, { file: path, line: 1, col: 1 }, `valid: ${valid}`);
  }
  if (!bag.hasErrors) checkInputSize(size, path, bag);
  bag.throwIfErrors();
  return readFileSync(path, 'utf8');
}

export type YNode = Node;

export interface YPair {
  key: string;
  keyNode: YNode;
  /** The value after alias resolution; null when the key has no value. */
  value: YNode | null;
}

export class YamlSource {
  private readonly lines: LineCounter;

  private constructor(
    readonly file: string,
    readonly text: string,
    readonly doc: Document.Parsed,
    lines: LineCounter,
    readonly bag: DiagnosticBag,
  ) {
    this.lines = lines;
  }

  /**
   * Parses `text`; YAML syntax errors (with the parser's position) and
   * duplicate keys go to `bag`. Returns undefined when nothing sensible can be
   * read (too large, unparseable, or a runaway alias expansion).
   */
  static parse(text: string, file: string, bag: DiagnosticBag): YamlSource | undefined {
    if (checkInputSize(Buffer.byteLength(text, 'utf8'), file, bag)) return undefined;
    const lines = new LineCounter();
    let doc: Document.Parsed;
    try {
      doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    } catch (e) {
      // The parser recurses on nesting; absurd nesting surfaces as a RangeError.
      bag.error('yaml-syntax', `the YAML parser gave up: ${(e as Error).message}`, { file, line: 1, col: 1 }, 'valid: a YAML document of reasonable nesting');
      return undefined;
    }
    const src = new YamlSource(file, text, doc, lines, bag);
    for (const err of doc.errors) {
      const span = src.spanAt(err.pos[0]);
      if (err.code === 'DUPLICATE_KEY') {
        const key = /^("[^"\n]*"|'[^'\n]*'|[^:\n]*)/.exec(text.slice(err.pos[0], err.pos[0] + 200))?.[1].trim().replace(/^["']|["']$/g, '') ?? '';
        bag.error('duplicate-key', `duplicate key "${key}" in the same mapping`, span, 'valid: each key once per mapping; rename or merge the second definition');
      } else if (err.code === 'MULTIPLE_DOCS') {
        bag.error('yaml-syntax', 'the file holds more than one YAML document', span, 'valid: a single document (no second "---")');
      } else {
        bag.error('yaml-syntax', `YAML syntax error: ${err.message.split('\n')[0]}`, span, 'valid: well-formed YAML (check indentation, quotes and brackets)');
      }
    }
    if (doc.errors.some((e) => e.code !== 'DUPLICATE_KEY')) return undefined;
    if (!src.checkShape()) return undefined;
    return src;
  }

  /**
   * Parses a stream of YAML documents (Kubernetes manifests separated by
   * "---"), one YamlSource each, sharing the file's positions. Empty
   * documents are skipped. Returns undefined when the stream is unreadable.
   */
  static parseAll(text: string, file: string, bag: DiagnosticBag): YamlSource[] | undefined {
    if (checkInputSize(Buffer.byteLength(text, 'utf8'), file, bag)) return undefined;
    const lines = new LineCounter();
    let docs: Document.Parsed[];
    try {
      const parsed = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
      docs = Array.isArray(parsed) ? parsed : [];
    } catch (e) {
      bag.error('yaml-syntax', `the YAML parser gave up: ${(e as Error).message}`, { file, line: 1, col: 1 }, 'valid: YAML documents of reasonable nesting');
      return undefined;
    }
    const out: YamlSource[] = [];
    let bad = false;
    for (const doc of docs) {
      const src = new YamlSource(file, text, doc, lines, bag);
      for (const err of doc.errors) {
        bad = true;
        bag.error('yaml-syntax', `YAML syntax error: ${err.message.split('\n')[0]}`, src.spanAt(err.pos[0]), 'valid: well-formed YAML or JSON (check indentation, quotes and brackets)');
      }
      if (doc.contents === null) continue;
      if (!src.checkShape()) return undefined;
      out.push(src);
    }
    return bad ? undefined : out;
  }

  spanAt(offset: number): SourceSpan {
    const pos = this.lines.linePos(offset);
    return { file: this.file, line: Math.max(pos.line, 1), col: Math.max(pos.col, 1) };
  }

  span(node: YNode | null | undefined): SourceSpan {
    return this.spanAt(node?.range?.[0] ?? 0);
  }

  get root(): YNode | null {
    return this.doc.contents;
  }

  /** Follows an alias to its anchored node. */
  deref(node: YNode | null | undefined): YNode | null {
    if (node && isAlias(node)) return (node.resolve(this.doc) as YNode | undefined) ?? null;
    return node ?? null;
  }

  /** A short description of what a node is, for "found ..." messages. */
  describe(node: YNode | null): string {
    const n = this.deref(node);
    if (n === null) return 'nothing';
    if (isMap(n)) return 'a mapping';
    if (isSeq(n)) return 'a list';
    if (isScalar(n)) {
      const v = n.value;
      if (v === null) return 'an empty value';
      if (typeof v === 'number' || typeof v === 'bigint') return `the number ${this.scalarText(n)}`;
      if (typeof v === 'boolean') return `the boolean ${String(v)}`;
      if (typeof v === 'string') return `the string "${clip(v)}"`;
    }
    return 'an unsupported YAML value';
  }

  private wrongType(node: YNode | null, what: string, expected: string, hint?: string): void {
    this.bag.error('wrong-type', `${what} must be ${expected}, found ${this.describe(node)}`, this.span(node), hint ?? `valid: ${expected}`);
  }

  map(node: YNode | null, what: string, hint?: string): YAMLMap | undefined {
    const n = this.deref(node);
    if (n && isMap(n)) return n;
    this.wrongType(n, what, 'a mapping', hint);
    return undefined;
  }

  seq(node: YNode | null, what: string, hint?: string): YAMLSeq | undefined {
    const n = this.deref(node);
    if (n && isSeq(n)) return n;
    this.wrongType(n, what, 'a list', hint);
    return undefined;
  }

  /** Items of a list, aliases resolved. */
  items(seq: YAMLSeq): (YNode | null)[] {
    return seq.items.map((i) => this.deref(i as YNode | null));
  }

  string(node: YNode | null, what: string, hint?: string): string | undefined {
    const n = this.deref(node);
    if (n && isScalar(n) && typeof n.value === 'string' && n.value !== '') return n.value;
    this.wrongType(n, what, 'a non-empty string', hint);
    return undefined;
  }

  /**
   * A label-like value: strings as they are; numbers and booleans as written
   * in the source ("01" stays "01"), since labels are text.
   */
  textValue(node: YNode | null, what: string, hint?: string): string | undefined {
    const n = this.deref(node);
    if (n && isScalar(n) && n.value !== null && ['string', 'number', 'boolean', 'bigint'].includes(typeof n.value)) {
      const t = typeof n.value === 'string' ? n.value : this.scalarText(n);
      if (t !== '') return t;
    }
    this.wrongType(n, what, 'a non-empty string', hint);
    return undefined;
  }

  /** An integer in lo..hi; reports out-of-range with `rangeCode`. */
  int(node: YNode | null, what: string, lo: number, hi: number, rangeCode = 'out-of-range'): number | undefined {
    const n = this.deref(node);
    if (!(n && isScalar(n) && typeof n.value === 'number' && Number.isInteger(n.value))) {
      this.wrongType(n, what, `an integer ${lo}-${hi}`);
      return undefined;
    }
    if (n.value < lo || n.value > hi) {
      this.bag.error(rangeCode, `${what} ${this.scalarText(n)} is out of range`, this.span(n), `valid: ${lo}-${hi}`);
      return undefined;
    }
    return n.value;
  }

  bool(node: YNode | null, what: string): boolean | undefined {
    const n = this.deref(node);
    if (n && isScalar(n) && typeof n.value === 'boolean') return n.value;
    this.wrongType(n, what, 'true or false');
    return undefined;
  }

  /** The scalar as written (without quotes), for messages and label text. */
  scalarText(node: YNode): string {
    if (isScalar(node) && typeof node.source === 'string' && node.source !== '') return node.source;
    if (isScalar(node)) return String(node.value);
    return '';
  }

  /**
   * Key/value pairs of a mapping. Non-string keys are reported; a duplicate
   * key (already reported by the parser) keeps its first definition.
   */
  pairs(map: YAMLMap, what: string): YPair[] {
    const out: YPair[] = [];
    const seen = new Set<string>();
    for (const p of map.items) {
      const keyNode = this.deref(p.key as YNode | null);
      if (!keyNode || !isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') {
        this.bag.error('wrong-type', `${what}: keys must be strings, found ${this.describe(keyNode)}`, this.span(keyNode ?? map), 'valid: a plain string key');
        continue;
      }
      const key = typeof keyNode.value === 'string' ? keyNode.value : this.scalarText(keyNode);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ key, keyNode, value: this.deref(p.value as YNode | null) });
    }
    return out;
  }

  /**
   * Warns about every key of `map` outside `known`. More keys stay legal (the
   * formats allow them), but a misspelt key is otherwise silently ignored: a
   * rule with `prots:` would match every port.
   */
  checkKeys(map: YAMLMap, known: readonly string[], where: string): void {
    for (const p of map.items) {
      const k = this.deref(p.key as YNode | null);
      // Non-string keys are reported where the mapping's pairs are read.
      if (!k || !isScalar(k) || k.value === null || typeof k.value === 'object') continue;
      const key = typeof k.value === 'string' ? k.value : this.scalarText(k);
      if (known.includes(key)) continue;
      const near = nearestKey(key, known);
      this.bag.warning(
        'unknown-key',
        `${where}: unknown key "${clip(key)}"`,
        this.span(k),
        `valid keys here: ${listChoices(known)}${near ? `; did you mean "${near}"?` : ''}`,
      );
    }
  }

  /** The value of `key`, or undefined when absent or empty (`key:` / `key: ~`). */
  get(map: YAMLMap, key: string): YNode | undefined {
    for (const p of map.items) {
      const k = this.deref(p.key as YNode | null);
      if (k && isScalar(k) && k.value === key) {
        const v = this.deref(p.value as YNode | null);
        if (v === null || (isScalar(v) && v.value === null)) return undefined;
        return v;
      }
    }
    return undefined;
  }

  /** The key node of `key` (for spans), if present. */
  keyNode(map: YAMLMap, key: string): YNode | undefined {
    for (const p of map.items) {
      const k = this.deref(p.key as YNode | null);
      if (k && isScalar(k) && k.value === key) return k;
    }
    return undefined;
  }

  /** Like get, but reports a missing key at the mapping. */
  require(map: YAMLMap, key: string, what: string, hint: string): YNode | undefined {
    const v = this.get(map, key);
    if (v === undefined) {
      const k = this.keyNode(map, key);
      this.bag.error('missing-key', `${what}: "${key}" is ${k ? 'empty' : 'missing'}`, this.span(k ?? map), hint);
    }
    return v;
  }

  /**
   * Refuses nesting deeper than MAX_DEPTH and alias expansions larger than
   * MAX_ALIAS_EXPANSION, so later recursive walks are bounded.
   */
  private checkShape(): boolean {
    const hasAliases = this.text.includes('*');
    const size = new Map<YNode, number>();
    let tooDeep: YNode | undefined;
    let real = 0;
    const visit = (node: YNode | null, depth: number): number => {
      if (node === null || tooDeep) return 0;
      if (depth > MAX_DEPTH) {
        tooDeep = node;
        return 0;
      }
      if (isAlias(node)) {
        if (!hasAliases) return 0;
        const target = this.deref(node);
        return target ? (size.get(target) ?? 1) : 0;
      }
      real++;
      let total = 1;
      if (isMap(node)) {
        for (const p of node.items) total += visit(p.key as YNode | null, depth + 1) + visit(p.value as YNode | null, depth + 1);
      } else if (isSeq(node)) {
        for (const i of node.items) total += visit(i as YNode | null, depth + 1);
      }
      total = Math.min(total, Number.MAX_SAFE_INTEGER);
      if (hasAliases) size.set(node, total);
      return total;
    };
    const total = visit(this.root, 0);
    if (tooDeep) {
      this.bag.error('too-deep', `the document nests deeper than ${MAX_DEPTH} levels`, this.span(tooDeep), `valid: at most ${MAX_DEPTH} levels of nesting`);
      return false;
    }
    if (total - real > MAX_ALIAS_EXPANSION) {
      this.bag.error(
        'alias-expansion',
        `aliases expand the document to ${total} nodes`,
        { file: this.file, line: 1, col: 1 },
        `valid: aliases adding at most ${MAX_ALIAS_EXPANSION} nodes`,
      );
      return false;
    }
    return true;
  }
}

export function clip(s: string, n = 60): string {
  return s.length > n ? `${s.slice(0, n)}...` : s;
}

/** Edit distance (insertions, deletions, substitutions) between two short strings. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/**
 * The known key `key` was most likely meant to be: a case-insensitive match,
 * else the closest within edit distance 2 (first in `known` on a tie).
 */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const same = known.find((k) => k.toLowerCase() === lower);
  if (same !== undefined) return same;
  let best: string | undefined;
  let bestDist = 3;
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase());
    if (d < bestDist) {
      best = k;
      bestDist = d;
    }
  }
  return best;
}

/** "a", "a or b", "a, b or c": for hints listing the valid choices. */
export function listChoices(items: readonly string[]): string {
  if (items.length === 0) return '(none)';
  if (items.length === 1) return items[0];
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** apiVersion and kind of a Weft document. */
export function checkWeftHeader(src: YamlSource, top: YAMLMap, kind: string): void {
  const av = src.require(top, 'apiVersion', `${kind.toLowerCase()} document`, `valid: apiVersion: ${WEFT_API_VERSION}`);
  if (av !== undefined) {
    const v = isScalar(av) ? av.value : undefined;
    if (v !== WEFT_API_VERSION) {
      src.bag.error('bad-api-version', `apiVersion is ${src.describe(av)}`, src.span(av), `valid: ${WEFT_API_VERSION}`);
    }
  }
  const k = src.require(top, 'kind', `${kind.toLowerCase()} document`, `valid: kind: ${kind}`);
  if (k !== undefined) {
    const v = isScalar(k) ? k.value : undefined;
    if (v !== kind) src.bag.error('bad-kind', `kind is ${src.describe(k)}`, src.span(k), `valid: ${kind}`);
  }
}
