// Running the system tools the lab is built with (ip, nft, ssh-keygen, ...):
// every call is logged at debug level and fails with the tool's own stderr.

import { spawn } from 'node:child_process';
import { logger } from '../orchestrator/log.ts';

const log = logger('lab-exec');

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')}: exit ${code}: ${stderr.trim().split('\n').slice(-3).join('; ')}`);
    this.name = 'CommandError';
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs argv to completion; `input` goes to stdin. Rejects on a non-zero exit unless `allowFail`. */
export function run(argv: string[], opts: { input?: string; allowFail?: boolean; timeoutMs?: number } = {}): Promise<RunResult> {
  log.debug({ argv }, 'run');
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      if (code !== 0 && !opts.allowFail) reject(new CommandError(argv, code, stderr));
      else resolve({ stdout, stderr, code });
    });
    if (child.stdin) {
      // A tool that exits before reading its input reports through its exit code, not EPIPE.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

/** Runs a list of `ip` commands in one process (`ip -batch`), optionally inside a namespace. */
export async function ipBatch(lines: string[], netns?: string): Promise<void> {
  if (lines.length === 0) return;
  const argv = netns ? ['ip', '-n', netns, '-batch', '-'] : ['ip', '-batch', '-'];
  await run(argv, { input: lines.join('\n') + '\n' });
}

/** Runs a shell script inside a network namespace. */
export async function inNetns(netns: string, script: string): Promise<RunResult> {
  return run(['ip', 'netns', 'exec', netns, 'sh', '-e', '-c', script]);
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function pool<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < items.length) await fn(items[i++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
