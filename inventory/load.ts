// Loads an inventory file: a containerlab topology (a top-level `topology`
// key, or a .clab.yml / .clab.yaml name) or a Weft fabric.yaml (or .json).
// A fabric is first read as plain values (fabric-plain.ts), which is fast on
// large files; when that reader gives up (a problem to report, or anything
// it does not read), the file is parsed once with positions and the document
// decides which reader runs.

import { isMap } from '../orchestrator/yaml/node.ts';
import { DiagnosticBag } from '../orchestrator/diagnostics.ts';
import { readInputFile, YamlSource } from '../orchestrator/yaml/source.ts';
import { readContainerlabDocument } from './containerlab.ts';
import { readFabricDocument, withWarnings } from './fabric.ts';
import { readFabricPlain } from './fabric-plain.ts';
import type { Fabric } from './model.ts';

export { fabricToContainerlab, parseContainerlab } from './containerlab.ts';

const CLAB_NAME_RE = /\.clab\.ya?ml$/;

/** Parses fabric.yaml (or fabric.json) text; throws InputError with every diagnostic on bad input. */
export function parseFabric(text: string, file: string): Fabric {
  return readFabricPlain(text, file) ?? parseWithPositions(text, file, false);
}

/** Parses inventory text of either format; throws InputError on bad input. */
export function parseInventory(text: string, file: string): Fabric {
  return (CLAB_NAME_RE.test(file) ? undefined : readFabricPlain(text, file)) ?? parseWithPositions(text, file, true);
}

/** The positional readers, which report every problem; with `inventory`, a containerlab topology too. */
function parseWithPositions(text: string, file: string, inventory: boolean): Fabric {
  const bag = new DiagnosticBag();
  const src = YamlSource.parse(text, file, bag);
  let fabric: Fabric | undefined;
  if (src) {
    const root = src.root;
    const clab = inventory && (CLAB_NAME_RE.test(file) || (root !== null && isMap(root) && src.keyNode(root, 'topology') !== undefined));
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
