// Drives one probe agent (lab/probe-agent.ts) started inside an endpoint's
// namespace: requests go out as JSON lines, answers come back by id.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { nodeEntry } from '../orchestrator/package-root.ts';
import type { ProbeKind, ProbeRequest, ProbeResponse } from './probe-agent.ts';

/** One probe agent per endpoint namespace. */
export class ProbeAgent {
  private next = 1;
  private readonly waiting = new Map<number, (ok: boolean) => void>();
  private constructor(private readonly child: ChildProcess) {}

  static start(netns: string, tcpPorts: number[], udpPorts: number[]): Promise<ProbeAgent> {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, ...nodeEntry('lab/probe-agent.ts'), tcpPorts.join(','), udpPorts.join(',')], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const agent = new ProbeAgent(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise((resolve, reject) => {
      const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      rl.on('line', (line) => {
        const msg = JSON.parse(line) as Partial<ProbeResponse> & { ready?: boolean };
        if (msg.ready) return resolve(agent);
        const cb = agent.waiting.get(msg.id as number);
        agent.waiting.delete(msg.id as number);
        cb?.(msg.ok === true);
      });
      child.on('exit', (code) => reject(new Error(`probe agent in ${netns} exited (${code}): ${stderr.trim()}`)));
    });
  }

  probe(kind: ProbeKind, dst: string, port: number, timeoutMs: number): Promise<boolean> {
    const id = this.next++;
    const req: ProbeRequest = { id, kind, dst, port, timeoutMs };
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin?.write(JSON.stringify(req) + '\n');
    });
  }

  stop(): void {
    this.child.stdin?.end();
    this.child.kill('SIGTERM');
  }
}
