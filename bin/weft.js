#!/usr/bin/env node
// The `weft` command: runs the TypeScript CLI through tsx's loader so the
// installed package needs no separate build step.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../orchestrator/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
