// The page's own CSS and JavaScript, read from assets/ so they stay plain
// files (tested as what they are) and are inlined into the page. They are
// found from the package root, so the compiled CLI in dist/ and an installed
// package read the same files as the sources.

import { readFileSync } from 'node:fs';
import { packagePath } from '../package-root.ts';

function asset(name: string): string {
  return readFileSync(packagePath('orchestrator', 'report', 'assets', name), 'utf8');
}

/** Defines globalThis.WeftExplain (assets/explain.js). */
export const EXPLAIN_JS = asset('explain.js');
/** Reads #weft-report-data and wires the drawing and the explain box; needs EXPLAIN_JS first. */
export const PAGE_JS = asset('page.js');
export const PAGE_CSS = asset('page.css');
