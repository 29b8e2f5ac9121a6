// Inside the shipped agent file only (agent-bundle.ts puts it in place of
// koffi's src/static.js): koffi's native module is koffi.node beside the
// agent file, not a platform package under node_modules.

import { createRequire } from 'node:module';

export function loadStatic(_platform: string): unknown {
  return createRequire(import.meta.url)('./koffi.node');
}
