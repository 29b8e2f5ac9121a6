// Shared by the shipped-agent kernel tests: the agent files copied to a
// directory outside the checkout (as `weft apply` puts them on a host), run
// with plain `node`, and small traffic senders run inside a namespace.

import { execFile, spawn } from 'node:child_process';
import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { agentFiles, AGENT_FILE } from '../../targets/host/agent-bundle.ts';
import { tempDir } from './host-helpers.ts';

const run = promisify(execFile);

export interface ShippedAgent {
  dir: string;
  file: string;
  run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  remove(): void;
}

/** This release's agent files, built and copied to a fresh directory under the system's temp dir. */
export async function shippedAgent(): Promise<ShippedAgent> {
  const { dir: built } = await agentFiles();
  const t = tempDir('weft-agent-host');
  for (const f of readdirSync(built)) copyFileSync(join(built, f), join(t.path, f));
  const file = join(t.path, AGENT_FILE);
  return {
    dir: t.path,
    file,
    async run(args) {
      try {
        // cwd outside the checkout too: nothing may be found relative to it.
        const r = await run('node', [file, ...args], { encoding: 'utf8', cwd: t.path });
        return { code: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (e) {
        const x = e as { code: number; stdout: string; stderr: string };
        return { code: x.code, stdout: x.stdout, stderr: x.stderr };
      }
    },
    remove: t.remove,
  };
}

/** Sends `count` UDP datagrams from sport to addr:dport inside ns, one after the other; resolves when all left. */
export async function udpBurst(ns: string, from: { addr: string; sport: number }, to: { addr: string; dport: number }, count: number): Promise<void> {
  const script = `
const s = require('node:dgram').createSocket(${JSON.stringify(to.addr.includes(':') ? 'udp6' : 'udp4')});
let left = ${count};
const next = () => (left-- > 0 ? s.send('weft', ${to.dport}, ${JSON.stringify(to.addr)}, next) : s.close());
s.bind(${from.sport}, ${JSON.stringify(from.addr)}, next);`;
  await run('ip', ['netns', 'exec', ns, 'node', '-e', script], { encoding: 'utf8', timeout: 30_000 });
}

/** One TCP connect attempt inside ns; true when it connected within timeoutMs. */
export async function tcpConnect(ns: string, addr: string, port: number, timeoutMs = 700): Promise<boolean> {
  const script = `
const c = require('node:net').connect({ host: ${JSON.stringify(addr)}, port: ${port} });
const t = setTimeout(() => { c.destroy(); process.stdout.write('fail'); }, ${timeoutMs});
c.once('connect', () => { clearTimeout(t); c.end(); process.stdout.write('ok'); });
c.once('error', () => { clearTimeout(t); process.stdout.write('fail'); });`;
  const r = await run('ip', ['netns', 'exec', ns, 'node', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  return r.stdout === 'ok';
}

/** TCP listeners (accepting and closing) inside ns until the returned stop is called. */
export function tcpListeners(ns: string, ports: number[]): { ready: Promise<void>; stop: () => void } {
  const script = `
const net = require('node:net');
let up = 0;
for (const p of ${JSON.stringify(ports)}) net.createServer((c) => c.on('error', () => {}).end()).listen({ port: p, host: '::', ipv6Only: false }, () => { if (++up === ${ports.length}) process.stdout.write('ready\\n'); });`;
  const p = spawn('ip', ['netns', 'exec', ns, 'node', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<void>((resolve, reject) => {
    p.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    p.once('exit', (code: number) => reject(new Error(`listeners in ${ns} exited with ${code}`)));
  });
  return { ready, stop: () => p.kill() };
}
