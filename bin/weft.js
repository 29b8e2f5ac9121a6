#!/usr/bin/env node
// The `weft` command: runs the compiled JavaScript under dist/ (built by
// `npm run build`, which `npm install`/`npm ci` run through `prepare`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/orchestrator/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(`weft: ${entry.pathname} is missing: run \`npm run build\` in ${new URL('..', import.meta.url).pathname}\n`);
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
