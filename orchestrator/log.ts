// The one logger: pino JSON on stderr, so --json output on stdout stays clean.
// Children are remembered so that --log-level applies to loggers created at
// module load, before the CLI parsed its options.

import { pino, type Logger } from 'pino';

const root: Logger = pino({ level: process.env.WEFT_LOG_LEVEL ?? 'warn' }, pino.destination(2));
const children: Logger[] = [];

export function setLogLevel(level: string): void {
  root.level = level;
  for (const c of children) c.level = level;
}

export function logger(component: string): Logger {
  const child = root.child({ component });
  children.push(child);
  return child;
}
