// Diagnostics: every problem Weft reports about its input carries a code, a
// source span and a hint, and the compiler collects them all before failing.

export interface SourceSpan {
  file: string;
  line: number; // 1-based
  col: number; // 1-based
}

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  code: string; // stable, kebab-case: 'unknown-group', 'bad-cidr', 'shadowed-rule', ...
  severity: Severity;
  message: string; // what was found, lowercase context chain allowed
  span?: SourceSpan;
  hint?: string; // what would be valid
}

export function formatSpan(span: SourceSpan | undefined): string {
  return span ? `${span.file}:${span.line}:${span.col}` : '<input>';
}

export function formatDiagnostic(d: Diagnostic): string {
  const hint = d.hint ? ` (${d.hint})` : '';
  return `${formatSpan(d.span)}: ${d.severity}: ${d.message}${hint} [${d.code}]`;
}

/** Bad input: the CLI prints every diagnostic and exits 2; nothing is written. */
export class InputError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic).join('\n'));
    this.name = 'InputError';
  }
}

/** A target cannot express a feature the policy needs. */
export class UnsupportedError extends Error {
  constructor(
    readonly target: string,
    readonly feature: string,
    detail?: string,
  ) {
    super(`${target}: unsupported: ${feature}${detail ? `: ${detail}` : ''}`);
    this.name = 'UnsupportedError';
  }
}

/** Collects diagnostics; `throwIfErrors` raises one InputError with all of them. */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];
  error(code: string, message: string, span?: SourceSpan, hint?: string): void {
    this.items.push({ code, severity: 'error', message, span, hint });
  }
  warning(code: string, message: string, span?: SourceSpan, hint?: string): void {
    this.items.push({ code, severity: 'warning', message, span, hint });
  }
  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === 'error');
  }
  throwIfErrors(): void {
    if (this.hasErrors) throw new InputError(this.items);
  }
}
