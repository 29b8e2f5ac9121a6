// Runs bmv2's simple_switch_grpc (the P4 consortium's software switch with
// the PI P4Runtime server) inside a network namespace, on that namespace's
// interfaces, with no program loaded: the pipeline arrives over P4Runtime
// (SetForwardingPipelineConfig carrying the p4c-compiled bmv2 JSON). Its
// gRPC server listens on a unix socket, which is reachable from any
// namespace, or on an address inside the namespace. Tests own the switch
// they start (startBmv2); the lab starts it detached (bmv2Command), named
// after its namespace so cleanup can tell it is the lab's.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, rmSync } from 'node:fs';
import { logger } from '../orchestrator/log.ts';
import { findP4Tool, p4ToolMissing } from '../targets/p4/p4c.ts';
import { sleep } from './exec.ts';

const log = logger('p4-switch');

export interface Bmv2Options {
  netns: string;
  /** P4 port number -> interface name in the namespace. */
  ports: Record<number, string>;
  deviceId: number;
  /** Where the gRPC server listens: "unix:/path" or "host:port" inside the namespace. */
  grpcAddress: string;
  /** The switch's stdout and stderr go here. */
  logFile: string;
  startTimeoutMs?: number;
}

export interface Bmv2Switch {
  grpcAddress: string;
  pid: number;
  stop(): Promise<void>;
}

function listening(opts: Bmv2Options): boolean {
  if (opts.grpcAddress.startsWith('unix:')) return existsSync(opts.grpcAddress.slice('unix:'.length));
  // A TCP port inside the namespace: ask the kernel there.
  const port = opts.grpcAddress.slice(opts.grpcAddress.lastIndexOf(':') + 1);
  const r = spawnSync('ip', ['netns', 'exec', opts.netns, 'ss', '-Hltn', `sport = :${port}`], { encoding: 'utf8' });
  return (r.stdout ?? '').trim().length > 0;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/**
 * The argv (after `ip netns exec NS`) running the switch with no program, on
 * the given ports. The process is named (argv[0]) after its namespace, so a
 * process listing says whose switch it is.
 */
export function bmv2Command(opts: Pick<Bmv2Options, 'netns' | 'ports' | 'deviceId' | 'grpcAddress'>): string[] {
  const bin = findP4Tool('simple_switch_grpc');
  if (!bin) throw new Error(p4ToolMissing('simple_switch_grpc'));
  const args = ['bash', '-c', 'exec -a "$0" "$@"', `${opts.netns}/simple_switch_grpc`, bin, '--device-id', String(opts.deviceId), '--no-p4'];
  for (const [n, iface] of Object.entries(opts.ports)) args.push('-i', `${n}@${iface}`);
  args.push('--', '--grpc-server-addr', opts.grpcAddress);
  return args;
}

/** Starts the switch and resolves once its gRPC server listens; rejects with its log's tail if it exits first. */
export async function startBmv2(opts: Bmv2Options): Promise<Bmv2Switch> {
  const command = bmv2Command(opts);
  if (opts.grpcAddress.startsWith('unix:')) rmSync(opts.grpcAddress.slice('unix:'.length), { force: true });
  const out = createWriteStream(opts.logFile);
  const child = spawn('ip', ['netns', 'exec', opts.netns, ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  const done = exited(child);
  const deadline = Date.now() + (opts.startTimeoutMs ?? 15_000);
  while (!listening(opts)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      await done;
      const tail = existsSync(opts.logFile) ? readFileSync(opts.logFile, 'utf8').trim().split('\n').slice(-5).join('; ') : '';
      throw new Error(`simple_switch_grpc in ${opts.netns} ${child.exitCode !== null ? `exited (${child.exitCode})` : 'did not listen in time'}: ${tail}`);
    }
    await sleep(50);
  }
  log.info({ netns: opts.netns, pid: child.pid, grpc: opts.grpcAddress, ports: opts.ports }, 'bmv2 started');
  return {
    grpcAddress: opts.grpcAddress,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await done;
      clearTimeout(timer);
      out.end();
      if (opts.grpcAddress.startsWith('unix:')) rmSync(opts.grpcAddress.slice('unix:'.length), { force: true });
    },
  };
}
