// Loads an inventory file: a containerlab topology (a top-level `topology`
// key, or a .clab.yml / .clab.yaml name) or a Weft fabric.yaml. The file is
// read and parsed once; the document decides which reader runs.

import { isMap } from '../orchestrator/yaml/node.ts';
import { DiagnosticBag } from '../orchestrator/diagnostics.ts';
import { readInputFile, YamlSource } from '../orchestrator/yaml/source.ts';
import { readContainerlabDocument } from './containerlab.ts';
import { readFabricDocument, withWarnings } from './fabric.ts';
import type { Fabric } from './model.ts';

export { fabricToContainerlab, parseContainerlab } from './containerlab.ts';
export { parseFabric } from './fabric.ts';

const CLAB_NAME_RE = /\.clab\.ya?ml$/;

/** Parses inventory text of either format; throws InputError on bad input. */
export function parseInventory(text: string, file: string): Fabric {
  const bag = new DiagnosticBag();
  const src = YamlSource.parse(text, file, bag);
  let fabric: Fabric | undefined;
  if (src) {
    const root = src.root;
    const clab = CLAB_NAME_RE.test(file) || (root !== null && isMap(root) && src.keyNode(root, 'topology') !== undefined);
    fabric = clab ? readContainerlabDocument(src) : readFabricDocument(src);
  }
  bag.throwIfErrors();
  if (!fabric) throw new Error('unreachable: inventory unread without errors');
  return withWarnings(fabric, bag);
}

/** Reads an inventory file's text; a missing or oversized file, or a directory, is bad input. */
export function readInventoryFile(path: string): string {
  return readInputFile(path, 'inventory', 'a readable fabric.yaml, fabric.json or *.clab.yml');
}

/** Reads and parses an inventory file; an oversized file is refused before it is read. */
export function loadInventory(path: string): Fabric {
  return parseInventory(readInventoryFile(path), path);
}
