// analysis.json in a bundle: the warnings `weft validate` reports (unknown
// keys in the input files, shadowed and redundant rules, groups that match
// nothing), kept in full so readers of the bundle (`weft report`) show them
// with their file:line:col without recompiling. The manifest only counts them.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Diagnostic } from '../diagnostics.ts';
import { ManifestError } from './manifest.ts';

export const ANALYSIS_FILE = 'analysis.json';

export interface AnalysisDocument {
  diagnostics: Diagnostic[];
}

export function analysisDocument(diagnostics: Diagnostic[]): string {
  const doc: AnalysisDocument = { diagnostics };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** The bundle's recorded warnings; undefined for a bundle compiled before they were recorded. */
export function readAnalysis(bundleDir: string): Diagnostic[] | undefined {
  const p = join(bundleDir, ANALYSIS_FILE);
  if (!existsSync(p)) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new ManifestError(p, [`not valid JSON: ${(e as Error).message}`]);
  }
  const list = (doc as Partial<AnalysisDocument> | null)?.diagnostics;
  if (!Array.isArray(list) || !list.every(isDiagnostic)) throw new ManifestError(p, ['diagnostics must be a list of {code, severity, message}']);
  return list;
}

function isDiagnostic(v: unknown): v is Diagnostic {
  const d = v as Partial<Diagnostic> | null;
  return typeof d === 'object' && d !== null && typeof d.code === 'string' && (d.severity === 'warning' || d.severity === 'error') && typeof d.message === 'string';
}
