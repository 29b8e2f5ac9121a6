// `weft report` without the CLI: read a bundle (and the analysis it
// recorded), build the page, and write it atomically so a failed run never
// leaves half a file behind.

import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { readAnalysis } from '../compile/analysis.ts';
import { readBundle } from '../compile/bundle.ts';
import { logger } from '../log.ts';
import { reportModel } from './model.ts';
import { renderPage } from './page.ts';

const log = logger('report');

export async function renderReport(bundleDir: string): Promise<string> {
  const bundle = await readBundle(bundleDir);
  return renderPage(reportModel(bundle, readAnalysis(bundle.dir)));
}

/** Returns the size of the page written. */
export async function writeReport(bundleDir: string, outFile: string): Promise<number> {
  const html = await renderReport(bundleDir);
  const tmp = `${outFile}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, html);
    renameSync(tmp, outFile);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  log.info({ bundle: bundleDir, out: outFile, bytes: Buffer.byteLength(html) }, 'report written');
  return Buffer.byteLength(html);
}
