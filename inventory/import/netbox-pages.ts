// Reads NetBox REST API list responses with their positions: for each
// resource (devices, interfaces, cables, ip-addresses) either one
// `<resource>.json` page or a directory `<resource>/` of pages, each page a
// `{"count", "next", "previous", "results": [...]}` document as
// /api/dcim/devices/?limit=...&offset=... returns it. Pages missing from a
// directory are reported (the results fall short of `count`).

import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, type MapNode } from '../../orchestrator/yaml/node.ts';
import { InputError, type DiagnosticBag, type SourceSpan } from '../../orchestrator/diagnostics.ts';
import { readInputFile, YamlSource, type YNode } from '../../orchestrator/yaml/source.ts';

export const RESOURCES = ['devices', 'interfaces', 'cables', 'ip-addresses'] as const;
export type Resource = (typeof RESOURCES)[number];

/** One object of a results list, with the source to report positions in. */
export interface NbObject {
  src: YamlSource;
  map: MapNode;
  span: SourceSpan;
}

/** The page files of a resource, in name order; [] when the resource is absent. */
function pageFiles(dir: string, r: Resource): string[] {
  const file = join(dir, `${r}.json`);
  if (existsSync(file)) return [file];
  const sub = join(dir, r);
  if (existsSync(sub) && statSync(sub).isDirectory()) {
    return readdirSync(sub).filter((f) => f.endsWith('.json')).sort().map((f) => join(sub, f));
  }
  return [];
}

export function readResource(dir: string, r: Resource, bag: DiagnosticBag, required: boolean): NbObject[] {
  const files = pageFiles(dir, r);
  if (files.length === 0) {
    if (required) bag.error('missing-resource', `${dir} holds neither ${r}.json nor a ${r}/ directory of pages`, { file: dir, line: 1, col: 1 }, `valid: the output of GET /api/${r === 'ip-addresses' ? 'ipam' : 'dcim'}/${r}/ saved as ${r}.json or as pages in ${r}/`);
    return [];
  }
  const out: NbObject[] = [];
  let count: { n: number; span: SourceSpan } | undefined;
  for (const file of files) {
    let text: string;
    try {
      text = readInputFile(file, `NetBox ${r}`, 'a readable JSON page of the NetBox REST API');
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      bag.items.push(...e.diagnostics);
      continue;
    }
    const src = YamlSource.parse(text, file, bag);
    if (!src) continue;
    const valid = 'valid: a NetBox list response {"count": N, "next": ..., "previous": ..., "results": [...]}';
    const top = src.map(src.root, `NetBox ${r} page`, valid);
    if (!top) continue;
    const resNode = src.require(top, 'results', `NetBox ${r} page`, valid);
    const seq = resNode === undefined ? undefined : src.seq(resNode, `${r} results`, valid);
    const c = src.get(top, 'count');
    if (c !== undefined) {
      const n = src.int(c, `${r} count`, 0, Number.MAX_SAFE_INTEGER);
      if (n !== undefined) count ??= { n, span: src.span(c) };
    }
    for (const item of seq ? src.items(seq) : []) {
      const m = src.map(item, `${r} result`, `valid: a NetBox ${r.replace(/s$/, '')} object`);
      if (m) out.push({ src, map: m, span: src.span(m) });
    }
  }
  if (count && count.n !== out.length) {
    bag.error('missing-pages', `NetBox reports ${count.n} ${r} but the pages hold ${out.length}`, count.span, `valid: every page of /api/.../${r}/ (follow "next" until it is null), or one page fetched with ?limit=0`);
  }
  return out;
}

/** The node at a path of keys (`device.name`), or undefined. */
export function at(o: NbObject, ...path: string[]): YNode | undefined {
  let node: YNode | undefined = o.map;
  for (const k of path) {
    if (!node || !isMap(node)) return undefined;
    node = o.src.get(node, k);
  }
  return node;
}

/** A scalar at a path as text (numbers as written), or undefined when absent or null. */
export function text(o: NbObject, ...path: string[]): string | undefined {
  const n = at(o, ...path);
  if (!n || !isScalar(n) || n.value === null) return undefined;
  return typeof n.value === 'string' ? n.value : String(n.value);
}

export function num(o: NbObject, ...path: string[]): number | undefined {
  const n = at(o, ...path);
  return isScalar(n) && typeof n.value === 'number' ? n.value : undefined;
}

export function bool(o: NbObject, ...path: string[]): boolean | undefined {
  const n = at(o, ...path);
  return isScalar(n) && typeof n.value === 'boolean' ? n.value : undefined;
}

/** A list at a path, as sub-objects sharing the source. */
export function list(o: NbObject, ...path: string[]): NbObject[] {
  const n = at(o, ...path);
  if (!n || !isSeq(n)) return [];
  return o.src.items(n).filter(isMap).map((m) => ({ src: o.src, map: m, span: o.src.span(m) }));
}

/** `choice` fields are {value, label} objects in NetBox 3+, plain strings before. */
export function choice(o: NbObject, key: string): string | undefined {
  return text(o, key, 'value') ?? text(o, key);
}
