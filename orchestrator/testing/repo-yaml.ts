// The YAML documents the repository ships (examples, test fixtures, lab
// topologies): real inputs that the readers' tests run over.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const REPO = join(import.meta.dirname, '../..');

/** Every .yaml/.yml file under examples/, test/fixtures/ and lab/topologies/, sorted. */
export function repoYamlFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(f)) out.push(p);
    }
  };
  for (const d of ['examples', 'test/fixtures', 'lab/topologies']) walk(join(REPO, d));
  return out.sort();
}
