// Reads Kubernetes-style manifests with their positions: files or
// directories of multi-document YAML or JSON, where a `kind: List` (or any
// `...List`) document holds its objects under `items`. Each object comes
// back with its kind, name and namespace; an object of a kind the importer
// does not translate is an error naming the kinds it does.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { MapNode } from '../yaml/node.ts';
import { formatSpan, InputError, type DiagnosticBag, type SourceSpan } from '../diagnostics.ts';
import { clip, listChoices, readInputFile, YamlSource, type YNode } from '../yaml/source.ts';

export interface ManifestObject {
  src: YamlSource;
  map: MapNode;
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  spec: MapNode | undefined;
  span: SourceSpan;
}

/** Accepted kinds with the apiVersions each may carry. */
export type KindTable = Record<string, readonly string[]>;

const MANIFEST_FILE_RE = /\.(ya?ml|json)$/;

/** The files a path names: itself, or a directory's YAML/JSON files in name order. */
export function manifestFiles(path: string, bag: DiagnosticBag): string[] {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    bag.error('unreadable-file', `cannot read ${path}: ${(e as Error).message}`, { file: path, line: 1, col: 1 }, 'valid: a readable manifest file or directory');
    return [];
  }
  if (!isDir) return [path];
  const files = readdirSync(path).filter((f) => MANIFEST_FILE_RE.test(f)).sort().map((f) => join(path, f));
  if (files.length === 0) bag.error('empty-directory', `${path} holds no .yaml, .yml or .json file`, { file: path, line: 1, col: 1 }, 'valid: a directory of manifests');
  return files;
}

/** Every object of `kinds` in the given files; problems go to `bag`. */
export function readManifests(paths: string[], kinds: KindTable, bag: DiagnosticBag): ManifestObject[] {
  const out: ManifestObject[] = [];
  for (const path of paths) {
    for (const file of manifestFiles(path, bag)) {
      let text: string;
      try {
        text = readInputFile(file, 'manifest', 'a readable YAML or JSON manifest');
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        bag.items.push(...e.diagnostics);
        continue;
      }
      const docs = YamlSource.parseAll(text, file, bag);
      if (!docs) continue;
      if (docs.length === 0) bag.error('empty-manifest', `${file} holds no document`, { file, line: 1, col: 1 }, `valid: one or more ${listChoices(Object.keys(kinds))} objects`);
      for (const src of docs) readObject(src, src.root, kinds, out, 0);
    }
  }
  return lastOfEach(out, bag);
}

/**
 * The API server keeps one object per kind, namespace and name: applying a
 * second one replaces the first. The importer does the same, and says so.
 */
function lastOfEach(objs: ManifestObject[], bag: DiagnosticBag): ManifestObject[] {
  const key = (o: ManifestObject): string => `${o.kind}/${o.namespace ?? ''}/${o.name}`;
  const last = new Map(objs.map((o) => [key(o), o]));
  return objs.filter((o) => {
    const keep = last.get(key(o));
    if (keep === o) return true;
    bag.warning(
      'replaced-object',
      `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name} is defined again at ${formatSpan(keep?.span)}; this definition is replaced by that one, as kubectl apply would`,
      o.span,
      'valid: one definition per kind, namespace and name',
    );
    return false;
  });
}

function readObject(src: YamlSource, node: YNode | null, kinds: KindTable, out: ManifestObject[], depth: number): void {
  const valid = `valid: a ${listChoices(Object.keys(kinds))} object (apiVersion, kind, metadata, spec) or a List of them`;
  const m = src.map(node, 'manifest document', valid);
  if (!m) return;
  const kindNode = src.require(m, 'kind', 'manifest object', valid);
  const kind = kindNode === undefined ? undefined : src.string(kindNode, 'kind');
  if (kind === undefined || kindNode === undefined) return;
  if (kind.endsWith('List') && !(kind in kinds) && depth === 0) {
    const items = src.require(m, 'items', kind, 'valid: items: [<object>, ...]');
    const seq = items === undefined ? undefined : src.seq(items, `${kind}.items`);
    for (const item of seq ? src.items(seq) : []) readObject(src, item, kinds, out, depth + 1);
    return;
  }
  const versions = kinds[kind];
  if (!versions) {
    src.bag.error('wrong-kind', `kind ${clip(kind)} is not a policy this importer reads`, src.span(kindNode), `valid kinds: ${listChoices(Object.keys(kinds))}`);
    return;
  }
  const avNode = src.require(m, 'apiVersion', kind, `valid: apiVersion: ${listChoices(versions)}`);
  const apiVersion = avNode === undefined ? undefined : src.string(avNode, 'apiVersion');
  if (apiVersion !== undefined && avNode !== undefined && !versions.includes(apiVersion)) {
    src.bag.error('bad-api-version', `${kind}: apiVersion ${clip(apiVersion)} is not one this importer reads`, src.span(avNode), `valid: ${listChoices(versions)}`);
    return;
  }
  const metaNode = src.require(m, 'metadata', kind, 'valid: metadata: {name: <name>, namespace: <namespace>}');
  const meta = metaNode === undefined ? undefined : src.map(metaNode, `${kind}.metadata`);
  const nameNode = meta ? src.require(meta, 'name', `${kind}.metadata`, 'valid: name: <object name>') : undefined;
  const name = nameNode === undefined ? undefined : src.textValue(nameNode, `${kind}.metadata.name`);
  const nsNode = meta ? src.get(meta, 'namespace') : undefined;
  const namespace = nsNode === undefined ? undefined : src.textValue(nsNode, `${kind}.metadata.namespace`);
  const specNode = src.get(m, 'spec');
  const spec = specNode === undefined ? undefined : src.map(specNode, `${kind}.spec`);
  if (apiVersion === undefined || name === undefined) return;
  const obj: ManifestObject = { src, map: m, apiVersion, kind, name, spec, span: src.span(m) };
  if (namespace !== undefined) obj.namespace = namespace;
  out.push(obj);
}
