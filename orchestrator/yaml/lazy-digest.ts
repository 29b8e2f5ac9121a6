// A document's content digest, computed when something first reads it.
// Walking a 12 MiB inventory's tree to hash it costs as much as a third of
// reading it, and only the commands that write or check a bundle read the
// digest; `weft validate` and `weft explain` never do.

import { contentDigest, type SourceNode } from './node.ts';

/**
 * Defines `digest` on `o` as contentDigest(root), or as `root()` for a
 * document read as plain values, computed on first read (then the tree is
 * let go). Enumerable, so spreads, JSON and deep equality see it as a plain
 * field; assigning a value replaces it.
 */
export function withLazyDigest<T extends object>(o: T, root: SourceNode | null | (() => string)): T & { digest: string } {
  let tree: SourceNode | null | (() => string) | undefined = root;
  let digest: string | undefined;
  Object.defineProperty(o, 'digest', {
    enumerable: true,
    configurable: true,
    get(): string {
      if (digest === undefined) {
        digest = typeof tree === 'function' ? tree() : contentDigest(tree ?? null);
        tree = undefined;
      }
      return digest;
    },
    set(value: string) {
      digest = value;
      tree = undefined;
    },
  });
  return o as T & { digest: string };
}
