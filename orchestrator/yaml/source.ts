// A policy or inventory document read with its source positions: YAML
// through the fast subset reader (falling back to the `yaml` package for
// anything else), JSON (.json files) through the offset-keeping JSON reader.
// Either way the loaders get the same node tree (node.ts), spans computed
// from offsets only when a diagnostic is made, and typed readers that report
// a diagnostic (what was found, what is valid) instead of throwing, so a
// loader can collect every problem. A multi-document stream (Kubernetes
// manifests) reads as one source per document.

import { DiagnosticBag, type SourceSpan } from '../diagnostics.ts';
import { readFileSync, statSync } from 'node:fs';
import { readFastYaml } from './fast.ts';
import { readFullYaml, readFullYamlStream } from './full.ts';
import { readJson } from './json.ts';
import { isMap, isScalar, isSeq, LineIndex, type MapNode, type SeqNode, type SourceNode } from './node.ts';

/** apiVersion of every Weft document (policy.yaml, fabric.yaml). */
export const WEFT_API_VERSION = 'weft.dev/v1';

/**
 * Largest input Weft reads. A fabric in JSON or fast-subset YAML loads
 * through plain values (plain.ts) at about 2 s of CPU per 16 MiB; at
 * 64 MiB (520,000 endpoints, five times the 100,000 Weft is built for) the
 * load takes 7 to 10 s and about 0.9 GB (bench/parse.ts), and it grows a
 * little faster than the file. Anything larger is refused before it is
 * read: such an inventory is better split.
 */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

/**
 * Largest YAML text handed to the `yaml` package when it leaves the fast
 * subset (anchors, block scalars, multi-line values, syntax errors). That
 * parser keeps node objects with ranges for every scalar (around 110 bytes of
 * heap per input byte at its peak) and reads 1 to 1.5 MiB/s, so above this
 * the file is refused with where it left the subset, instead of a stalled or
 * crashed process.
 */
export const MAX_FULL_YAML_BYTES = 16 * 1024 * 1024;

/** Nesting beyond this is refused before any recursive walk. */
export const MAX_DEPTH = 64;

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
 * Reads an input file, refusing a missing, unreadable or oversized one, or a
 * directory, as bad input before its text is loaded. `what` names the file
 * for humans ("policy", "inventory").
 */
export function readInputFile(path: string, what: string, valid: string): string {
  const bag = new DiagnosticBag();
  const span = { file: path, line: 1, col: 1 };
  let text = '';
  try {
    const st = statSync(path);
    if (st.isDirectory()) bag.error('not-a-file', `the ${what} file is a directory`, span, `valid: ${valid}, not a directory`);
    else if (!checkInputSize(st.size, path, bag)) text = readFileSync(path, 'utf8');
  } catch (e) {
    bag.error('unreadable-file', `cannot read the ${what} file: ${(e as Error).message}`, span, `valid: ${valid}`);
  }
  bag.throwIfErrors();
  return text;
}

export type YNode = SourceNode;

export interface YPair {
  key: string;
  keyNode: YNode;
  /** null when the key has no value. */
  value: YNode | null;
}

/** Mappings with more pairs than this find repeated keys through a Set. */
const LINEAR_KEY_SCAN = 8;

function hasKey(pairs: readonly YPair[], key: string): boolean {
  for (const p of pairs) if (p.key === key) return true;
  return false;
}

/** JSON files are read as JSON; everything else as YAML. */
const JSON_NAME_RE = /\.json$/i;

export function isJsonFile(file: string): boolean {
  return JSON_NAME_RE.test(file);
}

export class YamlSource {
  private readonly lines: LineIndex;

  private constructor(
    readonly file: string,
    readonly text: string,
    readonly root: YNode | null,
    lines: LineIndex,
    readonly bag: DiagnosticBag,
  ) {
    this.lines = lines;
  }

  /**
   * Parses `text` (JSON when `file` ends in .json, else YAML); syntax errors
   * (with their position) and duplicate keys go to `bag`. Returns undefined
   * when nothing sensible can be read (too large, unparseable, too deep, or a
   * runaway alias expansion).
   */
  static parse(text: string, file: string, bag: DiagnosticBag): YamlSource | undefined {
    const read = readDocuments(text, file, bag, false);
    return read && new YamlSource(file, text, read.roots[0], read.lines, bag);
  }

  /**
   * Parses a stream of documents: YAML with `---` between them (Kubernetes
   * manifests), or a .json file as its one document. Returns one source per
   * non-empty document, positions counted in the whole file, or undefined
   * when some document cannot be read (every problem goes to `bag`).
   */
  static parseAll(text: string, file: string, bag: DiagnosticBag): YamlSource[] | undefined {
    const read = readDocuments(text, file, bag, true);
    if (read === undefined) return undefined;
    // An empty document (a stray or trailing `---`) holds no object: kubectl skips it, and so does Weft.
    return read.roots.filter((root) => root !== null && !(isScalar(root) && root.value === null)).map((root) => new YamlSource(file, text, root, read.lines, bag));
  }

  /**
   * A source for nodes made elsewhere (from plain values) whose offsets
   * point into `text`: its readers and spans work on them as on parsed ones.
   */
  static forNodes(text: string, file: string, bag: DiagnosticBag): YamlSource {
    return new YamlSource(file, text, null, new LineIndex(text), bag);
  }

  spanAt(offset: number): SourceSpan {
    return this.lines.span(this.file, offset);
  }

  span(node: YNode | null | undefined): SourceSpan {
    return this.spanAt(node?.start ?? 0);
  }

  /** A short description of what a node is, for "found ..." messages. */
  describe(n: YNode | null): string {
    if (n === null) return 'nothing';
    if (isMap(n)) return 'a mapping';
    if (isSeq(n)) return 'a list';
    const v = n.value;
    if (v === null) return 'an empty value';
    if (typeof v === 'number' || typeof v === 'bigint') return `the number ${this.scalarText(n)}`;
    if (typeof v === 'boolean') return `the boolean ${String(v)}`;
    return `the string "${clip(v)}"`;
  }

  private wrongType(node: YNode | null, what: string, expected: string, hint?: string): void {
    this.bag.error('wrong-type', `${what} must be ${expected}, found ${this.describe(node)}`, this.span(node), hint ?? `valid: ${expected}`);
  }

  map(n: YNode | null, what: string, hint?: string): MapNode | undefined {
    if (isMap(n)) return n;
    this.wrongType(n, what, 'a mapping', hint);
    return undefined;
  }

  seq(n: YNode | null, what: string, hint?: string): SeqNode | undefined {
    if (isSeq(n)) return n;
    this.wrongType(n, what, 'a list', hint);
    return undefined;
  }

  /** Items of a list. */
  items(seq: SeqNode): (YNode | null)[] {
    return seq.items;
  }

  string(n: YNode | null, what: string, hint?: string): string | undefined {
    if (isScalar(n) && typeof n.value === 'string' && n.value !== '') return n.value;
    this.wrongType(n, what, 'a non-empty string', hint);
    return undefined;
  }

  /**
   * A label-like value: strings as they are; numbers and booleans as written
   * in the source ("01" stays "01"), since labels are text.
   */
  textValue(n: YNode | null, what: string, hint?: string): string | undefined {
    if (isScalar(n) && n.value !== null) {
      const t = typeof n.value === 'string' ? n.value : this.scalarText(n);
      if (t !== '') return t;
    }
    this.wrongType(n, what, 'a non-empty string', hint);
    return undefined;
  }

  /** An integer in lo..hi; reports out-of-range with `rangeCode`. */
  int(n: YNode | null, what: string, lo: number, hi: number, rangeCode = 'out-of-range'): number | undefined {
    if (!(isScalar(n) && typeof n.value === 'number' && Number.isInteger(n.value))) {
      this.wrongType(n, what, `an integer ${lo}-${hi}`);
      return undefined;
    }
    if (n.value < lo || n.value > hi) {
      this.bag.error(rangeCode, `${what} ${this.scalarText(n)} is out of range`, this.span(n), `valid: ${lo}-${hi}`);
      return undefined;
    }
    return n.value;
  }

  bool(n: YNode | null, what: string): boolean | undefined {
    if (isScalar(n) && typeof n.value === 'boolean') return n.value;
    this.wrongType(n, what, 'true or false');
    return undefined;
  }

  /** The scalar as written (without quotes), for messages and label text. */
  scalarText(node: YNode): string {
    if (!isScalar(node)) return '';
    return node.source !== '' ? node.source : String(node.value);
  }

  /** A key's text, or undefined for a key that is not a scalar or is empty (null). */
  private keyText(k: YNode | null): string | undefined {
    if (!isScalar(k) || k.value === null) return undefined;
    return typeof k.value === 'string' ? k.value : this.scalarText(k);
  }

  /**
   * Key/value pairs of a mapping. Non-string keys are reported; a duplicate
   * key (already reported by the parser) keeps its first definition.
   */
  pairs(map: MapNode, what: string): YPair[] {
    const out: YPair[] = [];
    // Label maps of every endpoint are small: a scan of the pairs so far beats a Set each.
    const seen = map.items.length > LINEAR_KEY_SCAN ? new Set<string>() : undefined;
    for (const p of map.items) {
      const key = this.keyText(p.key);
      if (key === undefined || p.key === null) {
        this.bag.error('wrong-type', `${what}: keys must be strings, found ${this.describe(p.key)}`, this.span(p.key ?? map), 'valid: a plain string key');
        continue;
      }
      if (seen === undefined ? hasKey(out, key) : seen.has(key)) continue;
      seen?.add(key);
      out.push({ key, keyNode: p.key, value: p.value });
    }
    return out;
  }

  /**
   * Warns about every key of `map` outside `known`. More keys stay legal (the
   * formats allow them), but a misspelt key is otherwise silently ignored: a
   * rule with `prots:` would match every port.
   */
  checkKeys(map: MapNode, known: readonly string[], where: string): void {
    for (const p of map.items) {
      const key = this.keyText(p.key);
      // Non-string keys are reported where the mapping's pairs are read.
      if (key === undefined || known.includes(key)) continue;
      const near = nearestKey(key, known);
      this.bag.warning(
        'unknown-key',
        `${where}: unknown key "${clip(key)}"`,
        this.span(p.key),
        `valid keys here: ${listChoices(known)}${near ? `; did you mean "${near}"?` : ''}`,
      );
    }
  }

  /** The value of `key`, or undefined when absent or empty (`key:` / `key: ~`). */
  get(map: MapNode, key: string): YNode | undefined {
    for (const p of map.items) {
      if (isScalar(p.key) && p.key.value === key) {
        const v = p.value;
        if (v === null || (isScalar(v) && v.value === null)) return undefined;
        return v;
      }
    }
    return undefined;
  }

  /** The key node of `key` (for spans), if present. */
  keyNode(map: MapNode, key: string): YNode | undefined {
    for (const p of map.items) {
      if (isScalar(p.key) && p.key.value === key) return p.key;
    }
    return undefined;
  }

  /** Like get, but reports a missing key at the mapping. */
  require(map: MapNode, key: string, what: string, hint: string): YNode | undefined {
    const v = this.get(map, key);
    if (v === undefined) {
      const k = this.keyNode(map, key);
      this.bag.error('missing-key', `${what}: "${key}" is ${k ? 'empty' : 'missing'}`, this.span(k ?? map), hint);
    }
    return v;
  }
}

/**
 * Reads the document (or, with `stream`, every document) of `text` through
 * the reader its name and content call for. Duplicate keys (reported) still
 * leave a readable document: the loader reports the rest. Undefined when
 * nothing sensible can be read.
 */
function readDocuments(text: string, file: string, bag: DiagnosticBag, stream: boolean): { roots: (YNode | null)[]; lines: LineIndex } | undefined {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (checkInputSize(bytes, file, bag)) return undefined;
  const lines = new LineIndex(text);
  const limits = { maxDepth: MAX_DEPTH, spanAt: (offset: number): SourceSpan => lines.span(file, offset) };
  const one = (root: YNode | null | undefined): (YNode | null)[] | undefined => (root === undefined ? undefined : [root]);
  let roots: (YNode | null)[] | undefined;
  if (isJsonFile(file)) {
    roots = one(readJson(text, bag, limits));
  } else {
    const fast = readFastYaml(text, MAX_DEPTH);
    if ('root' in fast) {
      roots = [fast.root];
    } else if (bytes > MAX_FULL_YAML_BYTES) {
      bag.error(
        'input-too-large',
        `${formatBytes(bytes)} of YAML that uses ${fast.reason}, which Weft reads only in files up to ${formatBytes(MAX_FULL_YAML_BYTES)}`,
        limits.spanAt(fast.offset),
        `valid: above ${formatBytes(MAX_FULL_YAML_BYTES)}, JSON, or YAML without anchors, aliases, tags, block scalars and multi-line values`,
      );
      return undefined;
    } else {
      roots = stream ? readFullYamlStream(text, file, bag, limits) : one(readFullYaml(text, file, bag, limits));
    }
  }
  return roots && { roots, lines };
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
export function checkWeftHeader(src: YamlSource, top: MapNode, kind: string): void {
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
