// The example policy with one rule that can never decide a flow, for tests
// of what reports analysis warnings: web-metrics (web -> web, tcp 9100) comes
// after prod-metrics (prod -> prod, tcp 9100-9199) and web is inside prod.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SHADOWED_RULE = 'web-metrics';

const EXTRA = [`        - name: ${SHADOWED_RULE}`, '          from: [web]', '          to: [web]', '          ports: [{protocol: tcp, port: 9100}]', '          action: allow', ''].join('\n');

/** Writes it as dir/policy.yaml (for examples/fabric.yaml) and returns the path. */
export function writeShadowedExamplePolicy(dir: string): string {
  const path = join(dir, 'policy.yaml');
  writeFileSync(path, `${readFileSync('examples/policy.yaml', 'utf8').trimEnd()}\n${EXTRA}`);
  return path;
}
