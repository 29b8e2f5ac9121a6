// `weft report`: one self-contained HTML page about a compiled bundle (the
// fabric drawn by role and target, where each rule is enforced and why,
// entries against capacity, analysis warnings, and an explain box).

import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ManifestError } from '../compile/manifest.ts';
import { str, UsageError, type CliCommand } from './command.ts';

export const reportCommand: CliCommand = {
  name: 'report',
  summary: 'write one self-contained HTML page about a compiled bundle',
  usage: 'weft report --bundle DIR --out report.html [--json]',
  options: [
    { name: 'bundle', type: 'string', help: 'bundle directory written by weft compile', required: true },
    { name: 'out', type: 'string', help: 'HTML file to write (replaced atomically)', required: true },
  ],
  async run(args, io) {
    const bundleDir = str(args, 'bundle')!;
    const out = resolve(str(args, 'out')!);
    if (!existsSync(dirname(out)) || !statSync(dirname(out)).isDirectory()) throw new UsageError(`--out ${str(args, 'out')}: directory ${dirname(out)} does not exist`);
    if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`--out ${str(args, 'out')} is a directory; name the HTML file to write, e.g. ${out}/report.html`);
    // Loaded on demand: only this verb needs the page and its assets.
    const { writeReport } = await import('../report/report.ts');
    let bytes: number;
    try {
      bytes = await writeReport(bundleDir, out);
    } catch (e) {
      // A missing, damaged or foreign bundle is bad input.
      if (!(e instanceof ManifestError)) throw e;
      io.err(`weft report: ${e.message}`);
      return 2;
    }
    if (args.options.json) io.out(JSON.stringify({ ok: true, bundle: resolve(bundleDir), out, bytes }));
    else io.out(`wrote ${out} (${bytes.toLocaleString('en')} bytes) from bundle ${bundleDir}`);
    return 0;
  },
};
