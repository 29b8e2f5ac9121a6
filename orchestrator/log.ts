// The one logger: pino JSON on stderr, so --json output on stdout stays clean.
// pino itself is loaded on the first line actually logged: modules create
// their loggers at load time, and a command that logs nothing at the chosen
// level (`weft --help`, `weft validate`) should not pay for loading it.

import { createRequire } from 'node:module';
import type { LogFn, Logger as PinoLogger } from 'pino';

const LEVELS = { fatal: 60, error: 50, warn: 40, info: 30, debug: 20, trace: 10, silent: Infinity } as const;
type Level = keyof typeof LEVELS;
type Method = Exclude<Level, 'silent'>;

/** What modules log through: pino's level methods, one logger per component. */
export type Logger = Record<Method, LogFn>;

function isLevel(name: string): name is Level {
  return Object.hasOwn(LEVELS, name);
}

let level: Level = isLevel(process.env.WEFT_LOG_LEVEL ?? '') ? (process.env.WEFT_LOG_LEVEL as Level) : 'warn';
let root: PinoLogger | undefined;
const children: PinoLogger[] = [];
type PinoModule = Pick<typeof import('pino'), 'pino'>;
let bundledPino: PinoModule | undefined;

/**
 * For a program bundled into one file (the shipped host agent), where no
 * node_modules holds pino at run time: the module its entry point imported.
 */
export function providePino(m: PinoModule): void {
  bundledPino = m;
}

function pinoChild(component: string): PinoLogger {
  if (!root) {
    const { pino } = bundledPino ?? (createRequire(import.meta.url)('pino') as PinoModule);
    root = pino({ level }, pino.destination(2));
  }
  const child = root.child({ component }, { level });
  children.push(child);
  return child;
}

export function setLogLevel(name: string): void {
  if (!isLevel(name)) throw new Error(`unknown log level "${name}" (valid: ${Object.keys(LEVELS).join(', ')})`);
  level = name;
  if (root) root.level = name;
  for (const c of children) c.level = name;
}

export function logger(component: string): Logger {
  let child: PinoLogger | undefined;
  const method = (m: Method): LogFn =>
    ((...args: Parameters<LogFn>) => {
      if (LEVELS[m] < LEVELS[level]) return;
      child ??= pinoChild(component);
      child[m](...args);
    }) as LogFn;
  return { fatal: method('fatal'), error: method('error'), warn: method('warn'), info: method('info'), debug: method('debug'), trace: method('trace') };
}
