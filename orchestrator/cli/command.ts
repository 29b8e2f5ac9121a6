// The shape of one CLI verb, and the argument parser every verb uses.

import { formatDiagnostic, InputError, UnsupportedError } from '../diagnostics.ts';
import { setLogLevel } from '../log.ts';
import { parseDuration } from '../duration.ts';

export interface OptionSpec {
  name: string; // long name without dashes
  type: 'string' | 'number' | 'boolean';
  help: string;
  required?: boolean;
  multiple?: boolean;
  default?: string | number | boolean;
}

export interface ParsedArgs {
  positional: string[];
  options: Record<string, string | number | boolean | string[] | undefined>;
}

export interface CliCommand {
  name: string; // e.g. 'compile', or 'agent' for a verb with sub-verbs
  summary: string;
  usage: string;
  options: OptionSpec[];
  /** Returns the exit code: 0 ok, 1 a verdict or check failed, 2 bad input. */
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

export interface CliIo {
  out(text: string): void; // stdout, one line or block
  err(text: string): void; // stderr, for humans
}

/** Options every command accepts. */
export const COMMON_OPTIONS: OptionSpec[] = [
  { name: 'json', type: 'boolean', help: 'print machine-readable JSON on stdout' },
  { name: 'log-level', type: 'string', help: 'pino log level on stderr (fatal|error|warn|info|debug|trace)', default: 'warn' },
  { name: 'help', type: 'boolean', help: 'show this help' },
];

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseArgs(argv: string[], specs: OptionSpec[]): ParsedArgs {
  const all = [...specs, ...COMMON_OPTIONS];
  const byName = new Map(all.map((s) => [s.name, s]));
  const options: ParsedArgs['options'] = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a === '-h') {
      options.help = true;
      continue;
    }
    if (a.startsWith('-') && a !== '-') {
      let name = a.replace(/^--?/, '');
      let value: string | undefined;
      const eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      }
      if (name === 't') name = 'topology';
      const spec = byName.get(name);
      if (!spec) {
        throw new UsageError(`unknown option --${name} (valid: ${all.map((s) => `--${s.name}`).join(', ')})`);
      }
      if (spec.type === 'boolean') {
        options[name] = value === undefined ? true : value !== 'false';
        continue;
      }
      if (value === undefined) {
        if (i + 1 >= argv.length) throw new UsageError(`option --${name} needs a value`);
        value = argv[++i];
      }
      if (spec.type === 'number') {
        const n = Number(value);
        if (!Number.isFinite(n)) throw new UsageError(`option --${name} needs a number, got "${value}"`);
        options[name] = n;
      } else if (spec.multiple) {
        const prev = options[name];
        options[name] = [...(Array.isArray(prev) ? prev : []), value];
      } else {
        options[name] = value;
      }
      continue;
    }
    positional.push(a);
  }
  for (const s of all) {
    if (options[s.name] === undefined && s.default !== undefined) options[s.name] = s.default;
  }
  if (!options.help) {
    for (const s of all) {
      if (s.required && options[s.name] === undefined) throw new UsageError(`missing required option --${s.name}`);
    }
  }
  return { positional, options };
}

export function formatHelp(cmd: CliCommand, title = `weft ${cmd.name}`): string {
  const lines = [`${title}: ${cmd.summary}`, '', `usage: ${cmd.usage}`, '', 'options:'];
  for (const s of [...cmd.options, ...COMMON_OPTIONS]) {
    const arg = s.type === 'boolean' ? '' : ` <${s.type}>`;
    const req = s.required ? ' (required)' : '';
    const def = s.default !== undefined && s.type !== 'boolean' ? ` [default: ${s.default}]` : '';
    lines.push(`  --${s.name}${arg}`.padEnd(28) + `${s.help}${req}${def}`);
  }
  return lines.join('\n');
}

/** Helpers for verbs: typed access to parsed options. */
export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.options[name];
  return typeof v === 'string' ? v : undefined;
}
/** A duration option (`90s`, `5m`) in ms; a malformed one is a usage error naming the option. */
export function duration(args: ParsedArgs, name: string): number | undefined {
  const text = str(args, name);
  if (text === undefined) return undefined;
  try {
    return parseDuration(text);
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
}
export function num(args: ParsedArgs, name: string): number | undefined {
  const v = args.options[name];
  return typeof v === 'number' ? v : undefined;
}
export function flag(args: ParsedArgs, name: string): boolean {
  return args.options[name] === true;
}

/**
 * Parses argv for one verb and runs it, turning errors into exit codes: 2
 * for bad input (usage, diagnostics, unsupported), 1 for anything else.
 * `title` names the command in messages (`weft-agent` for the shipped host
 * agent, whose argv starts after the verb).
 */
export async function runCommand(cmd: CliCommand, argv: string[], io: CliIo, title = `weft ${cmd.name}`): Promise<number> {
  try {
    const args = parseArgs(argv, cmd.options);
    if (args.options.help) {
      io.out(formatHelp(cmd, title));
      return 0;
    }
    setLogLevel(String(args.options['log-level'] ?? 'warn'));
    return await cmd.run(args, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`${title}: ${e.message}\n\n${formatHelp(cmd, title)}`);
      return 2;
    }
    if (e instanceof InputError) {
      for (const d of e.diagnostics) io.err(formatDiagnostic(d));
      return 2;
    }
    if (e instanceof UnsupportedError) {
      io.err(`${title}: ${e.message}`);
      return 2;
    }
    io.err(`${title}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

export { InputError };
