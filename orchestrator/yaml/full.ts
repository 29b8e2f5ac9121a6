// The full YAML reader: the `yaml` package, for every document outside the
// fast reader's subset (anchors and aliases, block scalars, tags, multi-line
// scalars, and every malformed document, whose errors it words). Its syntax
// errors go to the diagnostics; its tree is bounded (depth, alias expansion)
// and then turned into Weft's source nodes, aliases becoming shared nodes.
// A stream of documents is read document by document the same way.

import { isAlias, isMap, isScalar, isSeq, parseAllDocuments, parseDocument, type Document, type Node } from 'yaml';
import type { DiagnosticBag, SourceSpan } from '../diagnostics.ts';
import { scalar, type PairNode, type SourceNode } from './node.ts';

/**
 * Aliases may not expand a document beyond this many nodes plus the nodes
 * it actually contains ("billion laughs" protection).
 */
const MAX_ALIAS_EXPANSION = 100_000;

export interface FullReadLimits {
  maxDepth: number;
  /** Turns an offset into file:line:col for a diagnostic. */
  spanAt(offset: number): SourceSpan;
}

/** Duplicate keys are errors in Weft input, reported with the key's position. */
const PARSE_OPTIONS = { prettyErrors: false, uniqueKeys: true } as const;

/**
 * Parses `text` with the `yaml` package. Returns the root (null for an empty
 * document), or undefined after reporting why nothing can be read.
 */
export function readFullYaml(text: string, file: string, bag: DiagnosticBag, limits: FullReadLimits): SourceNode | null | undefined {
  const doc = guardedParse(() => parseDocument(text, PARSE_OPTIONS), file, bag);
  return doc && convertDocument(doc, text, file, bag, limits);
}

/**
 * Parses `text` as a stream of YAML documents (`---` between them, as
 * Kubernetes manifests are written). Returns the roots in order (null for an
 * empty document), offsets in the whole text, or undefined after reporting
 * why some document cannot be read; every document's problems are reported.
 */
export function readFullYamlStream(text: string, file: string, bag: DiagnosticBag, limits: FullReadLimits): (SourceNode | null)[] | undefined {
  const parsed = guardedParse(() => parseAllDocuments(text, PARSE_OPTIONS), file, bag);
  if (parsed === undefined) return undefined;
  // A stream of nothing but comments and directives parses to an EmptyStream, not an array.
  const docs = Array.isArray(parsed) ? parsed : [];
  const roots: (SourceNode | null)[] = [];
  let readable = true;
  for (const doc of docs) {
    const root = convertDocument(doc, text, file, bag, limits);
    if (root === undefined) readable = false;
    else roots.push(root);
  }
  return readable ? roots : undefined;
}

/** Runs the parser; absurd nesting makes it recurse until a RangeError, reported as such. */
function guardedParse<T>(parse: () => T, file: string, bag: DiagnosticBag): T | undefined {
  try {
    return parse();
  } catch (e) {
    bag.error('yaml-syntax', `the YAML parser gave up: ${(e as Error).message}`, { file, line: 1, col: 1 }, 'valid: a YAML document of reasonable nesting');
    return undefined;
  }
}

/**
 * One parsed document: its errors reported, its tree bounded (depth, alias
 * expansion) and converted. Returns the root (null when empty), or
 * undefined after reporting why it cannot be read.
 */
function convertDocument(doc: Document.Parsed, text: string, file: string, bag: DiagnosticBag, limits: FullReadLimits): SourceNode | null | undefined {
  for (const err of doc.errors) {
    const span = limits.spanAt(err.pos[0]);
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
  if (!checkShape(doc, text, file, bag, limits)) return undefined;
  try {
    return toSourceNodes(doc);
  } catch (e) {
    if (!(e instanceof AliasCycle)) throw e;
    bag.error('alias-cycle', 'an alias refers to a node that contains it', limits.spanAt(e.offset), 'valid: aliases of nodes defined elsewhere, never of an enclosing node');
    return undefined;
  }
}

/** A recursive alias (`&a [*a]`): legal YAML, but a tree with no end. */
class AliasCycle extends Error {
  constructor(readonly offset: number) {
    super('alias cycle');
  }
}

function deref(doc: Document.Parsed, node: Node | null | undefined): Node | null {
  if (node && isAlias(node)) return (node.resolve(doc) as Node | undefined) ?? null;
  return node ?? null;
}

/**
 * Refuses nesting deeper than maxDepth and alias expansions larger than
 * MAX_ALIAS_EXPANSION, so the conversion and later recursive walks are bounded.
 */
function checkShape(doc: Document.Parsed, text: string, file: string, bag: DiagnosticBag, limits: FullReadLimits): boolean {
  const hasAliases = text.includes('*');
  const size = new Map<Node, number>();
  let tooDeep: Node | undefined;
  let real = 0;
  const visit = (node: Node | null, depth: number): number => {
    if (node === null || tooDeep) return 0;
    if (depth > limits.maxDepth) {
      tooDeep = node;
      return 0;
    }
    if (isAlias(node)) {
      if (!hasAliases) return 0;
      const target = deref(doc, node);
      return target ? (size.get(target) ?? 1) : 0;
    }
    real++;
    let total = 1;
    if (isMap(node)) {
      for (const p of node.items) total += visit(p.key as Node | null, depth + 1) + visit(p.value as Node | null, depth + 1);
    } else if (isSeq(node)) {
      for (const i of node.items) total += visit(i as Node | null, depth + 1);
    }
    total = Math.min(total, Number.MAX_SAFE_INTEGER);
    if (hasAliases) size.set(node, total);
    return total;
  };
  const total = visit(doc.contents, 0);
  if (tooDeep) {
    bag.error('too-deep', `the document nests deeper than ${limits.maxDepth} levels`, limits.spanAt(tooDeep.range?.[0] ?? 0), `valid: at most ${limits.maxDepth} levels of nesting`);
    return false;
  }
  if (total - real > MAX_ALIAS_EXPANSION) {
    bag.error('alias-expansion', `aliases expand the document to ${total} nodes`, { file, line: 1, col: 1 }, `valid: aliases adding at most ${MAX_ALIAS_EXPANSION} nodes`);
    return false;
  }
  return true;
}

/** Converts once per anchored node: every alias of it shares the result. */
function toSourceNodes(doc: Document.Parsed): SourceNode | null {
  const done = new Map<Node, SourceNode>();
  const open = new Set<Node>();
  const convert = (raw: Node | null | undefined): SourceNode | null => {
    const node = deref(doc, raw);
    if (node === null) return null;
    if (open.has(node)) throw new AliasCycle(raw?.range?.[0] ?? 0);
    const seen = done.get(node);
    if (seen) return seen;
    const start = node.range?.[0] ?? 0;
    if (isMap(node)) {
      const items: PairNode[] = [];
      const out: SourceNode = { kind: 'map', start, items };
      open.add(node);
      for (const p of node.items) items.push({ key: convert(p.key as Node | null), value: convert(p.value as Node | null) });
      open.delete(node);
      done.set(node, out);
      return out;
    }
    if (isSeq(node)) {
      const items: (SourceNode | null)[] = [];
      const out: SourceNode = { kind: 'seq', start, items };
      open.add(node);
      for (const i of node.items) items.push(convert(i as Node | null));
      open.delete(node);
      done.set(node, out);
      return out;
    }
    if (isScalar(node)) {
      const v = node.value;
      // Other tagged values (!!binary, dates under other schemas) are not core-schema values: keep their text.
      const value = v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? v : String(v);
      const out = scalar(start, value, typeof node.source === 'string' ? node.source : String(v));
      done.set(node, out);
      return out;
    }
    return null;
  };
  return convert(doc.contents);
}
