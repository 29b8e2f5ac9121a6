// `npm run bench`: runs every bench/<area>.ts module's run() in turn, prints
// the figures as a table and writes them to bench-results/results.json
// (git-ignored, so a run leaves the working tree clean).

import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface BenchModule {
  run(): Promise<Record<string, unknown>>;
}

const here = dirname(fileURLToPath(import.meta.url));

function formatValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(3);
  if (typeof v === 'string') return v;
  return JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x));
}

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const files = readdirSync(here)
    .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.test.ts'))
    .filter((f) => only.length === 0 || only.includes(f.replace(/\.ts$/, '')))
    .sort();
  const results: Record<string, Record<string, unknown> | { error: string }> = {};
  let failed = 0;
  for (const f of files) {
    const name = f.replace(/\.ts$/, '');
    const mod = (await import(pathToFileURL(join(here, f)).href)) as Partial<BenchModule>;
    if (typeof mod.run !== 'function') {
      process.stderr.write(`bench: ${f} exports no run(); skipped\n`);
      continue;
    }
    process.stderr.write(`bench: ${name} ...\n`);
    const started = performance.now();
    try {
      results[name] = { ...(await mod.run()), benchSeconds: Number(((performance.now() - started) / 1000).toFixed(1)) };
    } catch (e) {
      failed++;
      results[name] = { error: e instanceof Error ? e.message : String(e) };
    }
  }
  const rows: [string, string, string][] = [];
  for (const [area, figures] of Object.entries(results)) {
    for (const [k, v] of Object.entries(figures)) rows.push([area, k, formatValue(v)]);
  }
  const w0 = Math.max(5, ...rows.map((r) => r[0].length));
  const w1 = Math.max(6, ...rows.map((r) => r[1].length));
  const lines = [`${'area'.padEnd(w0)}  ${'figure'.padEnd(w1)}  value`, `${'-'.repeat(w0)}  ${'-'.repeat(w1)}  -----`];
  for (const [a, k, v] of rows) lines.push(`${a.padEnd(w0)}  ${k.padEnd(w1)}  ${v}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  const outDir = join(here, '..', 'bench-results');
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, 'results.json');
  writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, (_, x) => (typeof x === 'bigint' ? x.toString() : x), 2)}\n`);
  process.stderr.write(`bench: figures written to ${out}\n`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
