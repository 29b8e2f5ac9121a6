// Device codegen on worker threads. Devices are independent once the IR and
// the placement exist, so a large fabric's codegen spreads over the
// machine's cores: the compile driver runs devices on its own thread and on
// these workers, each taking the next device when it is free, and writes
// every artefact itself, in placement order in the manifest.
//
// A worker builds its own IR and placement from the same texts
// (codegen-worker.ts), while the driver does the same plus analysis and the
// bundle documents, so its start-up overlaps the driver's. That costs a
// parse, an IR and a placement of memory and CPU per worker, which pays only
// on fabrics with many devices (MIN_DEVICES_PER_WORKER).

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { CodegenOutput } from '../../targets/contract.ts';
import { InputError, UnsupportedError, type Diagnostic } from '../diagnostics.ts';

/** What a worker reads: the texts the compile read, and their paths for diagnostics. */
export interface WorkerSources {
  policyText: string;
  policyPath: string;
  inventoryText: string;
  inventoryPath: string;
}

export interface CodegenRequest {
  id: number;
  device: string;
}

export type CodegenReply =
  | { id: number; output: CodegenOutput }
  | { id: number; refused: Diagnostic[] }
  | { id: number; unsupported: { target: string; feature: string; message: string } }
  | { id: number; error: string };

/** Devices per worker below which a worker is not worth its own parse, IR and placement. */
export const MIN_DEVICES_PER_WORKER = 64;

export const THREADS_ENV = 'WEFT_COMPILE_THREADS';

/** Threads for codegen, the driver's own included: `requested`, else WEFT_COMPILE_THREADS, else the cores available. */
export function compileThreads(requested?: number): number {
  const fromEnv = process.env[THREADS_ENV];
  const n = requested ?? (fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : availableParallelism());
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new InputError([
      {
        code: 'bad-threads',
        severity: 'error',
        message: `${requested === undefined ? THREADS_ENV : 'threads'} must be a whole number from 1 to 256, not "${requested ?? fromEnv}"`,
        hint: `${THREADS_ENV}=1 compiles on one thread`,
      },
    ]);
  }
  return n;
}

/** Workers for a fabric of `devices` devices with `threads` threads in all. */
export function workersFor(devices: number, threads: number): number {
  return Math.max(0, Math.min(threads - 1, Math.floor(devices / MIN_DEVICES_PER_WORKER)));
}

/**
 * Starts the worker: the compiled JavaScript beside this file, or, when this
 * runs from the TypeScript sources (tests, benchmarks), the source through
 * tsx, registered inside the worker before the entry is imported (a loader
 * in the worker's execArgv is not in place in time for its entry).
 */
function startWorker(sources: WorkerSources): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./codegen-worker.js', import.meta.url), { workerData: sources });
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(new URL('./codegen-worker.ts', import.meta.url).href);
  return new Worker(`import(${tsx}).then((m) => { m.register(); return import(${entry}); });`, { eval: true, workerData: sources });
}

interface Pending {
  resolve: (out: CodegenOutput) => void;
  reject: (e: Error) => void;
}

/** One codegen worker thread: requests answered in order, one at a time. */
export class CodegenWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closing = false;
  private failure?: Error;

  constructor(sources: WorkerSources) {
    this.worker = startWorker(sources);
    this.worker.on('message', (m: CodegenReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if ('output' in m) p.resolve(m.output);
      else if ('refused' in m) p.reject(new InputError(m.refused));
      else if ('unsupported' in m) {
        const e = new UnsupportedError(m.unsupported.target, m.unsupported.feature);
        e.message = m.unsupported.message;
        p.reject(e);
      } else p.reject(new Error(m.error));
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => {
      if (!this.closing) this.fail(new Error(`codegen worker exited with code ${code}`));
    });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(new Error(`codegen worker failed: ${e.message}`, { cause: e }));
    this.pending.clear();
  }

  codegen(device: string): Promise<CodegenOutput> {
    if (this.failure) return Promise.reject(new Error(`codegen worker failed: ${this.failure.message}`, { cause: this.failure }));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, device } satisfies CodegenRequest);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }
}
