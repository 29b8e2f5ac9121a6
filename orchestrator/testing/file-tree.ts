// A directory's files by relative path, for tests that compare bundles
// byte for byte (contents base64, or text where the test reads them).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function fileTree(dir: string, encoding: 'base64' | 'utf8' = 'base64'): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(join(d, e.name), r);
      else out[r] = readFileSync(join(d, e.name)).toString(encoding);
    }
  };
  walk(dir, '');
  return out;
}
