// `weft import k8s|cilium|netbox`: writes a Weft policy.yaml from Kubernetes
// NetworkPolicies or Cilium policies, or a fabric.yaml from NetBox's REST
// API output. Warnings (what could not be expressed) go to stderr with their
// source position; bad input exits 2 and writes nothing.

import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { importNetbox } from '../../inventory/import/netbox.ts';
import { formatDiagnostic, InputError, type Diagnostic } from '../diagnostics.ts';
import { importPolicy } from '../import/policy.ts';
import { flag, str, UsageError, type CliCommand } from './command.ts';

const SOURCES = ['k8s', 'cilium', 'netbox'] as const;

interface Imported {
  text: string;
  counts: Record<string, number>;
  warnings: Diagnostic[];
}

function runImport(source: string, paths: string[], get: (o: string) => string | undefined): Imported {
  switch (source) {
    case 'k8s':
    case 'cilium':
      if (get('options') !== undefined) throw new UsageError('--options is for netbox; k8s and cilium take --cluster');
      return importPolicy(source, paths, { cluster: get('cluster'), name: get('name') });
    case 'netbox': {
      if (paths.length !== 1) throw new UsageError('netbox takes one directory of REST API pages');
      return importNetbox(paths[0], { optionsFile: get('options'), name: get('name') });
    }
    default:
      throw new UsageError(`unknown source "${source}" (valid: ${SOURCES.join(', ')})`);
  }
}

/** Writes through a temporary file, so a reader never sees half a document. */
function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export const importCommand: CliCommand = {
  name: 'import',
  summary: 'write a policy.yaml from Kubernetes or Cilium policies, or a fabric.yaml from NetBox',
  usage: 'weft import k8s|cilium FILE|DIR... [--out policy.yaml] [--cluster NAME] | weft import netbox DIR [--options FILE] [--out fabric.yaml]',
  options: [
    { name: 'out', type: 'string', help: 'file to write (default: stdout)' },
    { name: 'name', type: 'string', help: 'metadata.name of the written document' },
    { name: 'cluster', type: 'string', help: 'k8s/cilium: the cluster label value every pod endpoint carries', default: 'default' },
    { name: 'options', type: 'string', help: 'netbox: mapping options file (roles, tags, mgmt), see the README' },
  ],
  async run(args, io) {
    const [source, ...paths] = args.positional;
    if (!source || !(SOURCES as readonly string[]).includes(source)) throw new UsageError(`the first argument is the source: ${SOURCES.join(', ')}`);
    if (paths.length === 0) throw new UsageError(`weft import ${source} needs at least one input file or directory`);
    const json = flag(args, 'json');
    const out = str(args, 'out');
    let result: Imported;
    try {
      result = runImport(source, paths, (o) => str(args, o));
    } catch (e) {
      if (!(e instanceof InputError) || !json) throw e;
      io.out(JSON.stringify({ ok: false, source, diagnostics: e.diagnostics }, null, 2));
      return 2;
    }
    if (out) writeAtomically(out, result.text);
    if (json) {
      io.out(JSON.stringify({ ok: true, source, out: out ?? null, ...result.counts, warnings: result.warnings, ...(out ? {} : { document: result.text }) }, null, 2));
    } else {
      for (const w of result.warnings) io.err(formatDiagnostic(w));
      if (!out) io.out(result.text);
      io.err(`imported from ${source}: ${Object.entries(result.counts).map(([k, v]) => `${v} ${k}`).join(', ')}, ${result.warnings.length} warning${result.warnings.length === 1 ? '' : 's'}${out ? `; wrote ${out}` : ''}`);
    }
    return 0;
  },
};
