// Runs this checkout's real `weft` command against a test fleet (its
// inventory and a rollout state file), as the rollout, confirm and watch
// tests do: a process of its own, stdout and stderr collected.

import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');

export interface Run {
  code: number;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** The command line of `weft ARGS` against the fleet's inventory and the state file. */
export function weftArgv(inventoryPath: string, statePath: string, args: string[]): string[] {
  return [join(repo, 'bin/weft.js'), ...args, '--inventory', inventoryPath, '--state', statePath];
}

/** Runs `node ARGV` (with `env` added to this process's environment) and resolves with its exit code, the signal that ended it, and its output. */
export function runWeft(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', rej);
    child.on('close', (code, signal) => res({ code: code ?? -1, signal, out, err }));
  });
}
