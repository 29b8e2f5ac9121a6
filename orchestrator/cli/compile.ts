// `weft compile`: write the bundle (out/) for every device of the fabric and
// print what each device got.

import type { Manifest } from '../compile/manifest.ts';
import { formatDiagnostic, type Diagnostic } from '../diagnostics.ts';
import { flag, str, type CliCommand } from './command.ts';

export function formatManifestSummary(m: Manifest, outDir: string, reused = 0): string {
  const rows = m.devices.map((d) => {
    const bytes = d.files.reduce((n, f) => n + f.bytes, 0);
    const stats = Object.entries(d.stats)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    return [d.name, d.kind, d.target, d.mode, `${d.files.length} files`, `${bytes} B`, d.generation.slice(0, 12), stats];
  });
  const head = ['device', 'kind', 'target', 'mode', 'files', 'size', 'generation', 'stats'];
  const all = [head, ...rows];
  const w = head.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  const unchanged = reused > 0 ? `, ${reused} unchanged since the previous bundle` : '';
  const lines = [`compiled policy ${m.policy.name} for fabric ${m.fabric.name} into ${outDir} (${m.devices.length} devices${unchanged})`];
  for (const r of all) lines.push(`  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join('  ')}`.trimEnd());
  for (const d of m.devices) for (const n of d.notes) lines.push(`  note: ${d.name}: ${n}`);
  return lines.join('\n');
}

export const compileCommand: CliCommand = {
  name: 'compile',
  summary: 'compile a policy for every device of an inventory into a bundle directory',
  usage: 'weft compile --policy P --inventory I --out DIR [--fresh] [--json]',
  options: [
    { name: 'policy', type: 'string', help: 'policy.yaml', required: true },
    { name: 'inventory', type: 'string', help: 'fabric.yaml or a containerlab .clab.yml', required: true },
    { name: 'out', type: 'string', help: 'bundle directory (replaced atomically)', required: true },
    { name: 'fresh', type: 'boolean', help: 'run every device\'s codegen, even where the bundle at --out holds its artefacts for the same inputs' },
  ],
  async run(args, io) {
    const warnings: Diagnostic[] = [];
    let reused = 0;
    const outDir = str(args, 'out')!;
    // Loaded on demand: the driver pulls in every target's codegen.
    const { compileBundle } = await import('../compile/driver.ts');
    const manifest = await compileBundle({
      policyPath: str(args, 'policy')!,
      inventoryPath: str(args, 'inventory')!,
      outDir,
      reuse: !flag(args, 'fresh'),
      onDevice: (d) => {
        if (d.reused) reused++;
      },
      onDiagnostic: (d) => warnings.push(d),
      // On stderr, so stdout stays the summary (or the manifest with --json).
      onInputWarning: (d) => io.err(formatDiagnostic(d)),
    });
    if (flag(args, 'json')) {
      io.out(JSON.stringify(manifest, null, 2));
      for (const d of warnings) io.err(formatDiagnostic(d));
    } else {
      for (const d of warnings) io.out(formatDiagnostic(d));
      io.out(formatManifestSummary(manifest, outDir, reused));
    }
    return 0;
  },
};
