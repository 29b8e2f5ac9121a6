// Runs inside one endpoint's namespace during `weft lab probe`: answers on the
// probed TCP and UDP ports (both families), and on request opens a TCP
// connection, exchanges a UDP datagram or pings another endpoint, reporting
// whether it got through. Speaks JSON lines on stdin/stdout.

import { createServer, connect, type Server } from 'node:net';
import { createSocket, type Socket } from 'node:dgram';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export type ProbeKind = 'tcp' | 'udp' | 'ping';

export interface ProbeRequest {
  id: number;
  kind: ProbeKind;
  dst: string;
  port: number;
  timeoutMs: number;
}

export interface ProbeResponse {
  id: number;
  ok: boolean;
}

const args = process.argv.slice(2);
const tcpPorts = (args[0] ?? '').split(',').filter((s) => s !== '').map(Number);
const udpPorts = (args[1] ?? '').split(',').filter((s) => s !== '').map(Number);

const servers: (Server | Socket)[] = [];

function listenTcp(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createServer((c) => {
      c.on('error', () => undefined);
      c.end();
    });
    s.on('error', reject);
    s.listen({ port, host: '::', ipv6Only: false }, () => resolve());
    servers.push(s);
  });
}

function listenUdp(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: 'udp6', ipv6Only: false });
    s.on('error', reject);
    s.on('message', (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
    s.bind(port, '::', () => resolve());
    servers.push(s);
  });
}

function probeTcp(dst: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect({ host: dst, port });
    const done = (ok: boolean): void => {
      clearTimeout(t);
      c.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    c.on('connect', () => done(true));
    c.on('error', () => done(false));
  });
}

function probeUdp(dst: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket(dst.includes(':') ? 'udp6' : 'udp4');
    const payload = Buffer.from(`weft-probe-${Math.random()}`);
    const done = (ok: boolean): void => {
      clearTimeout(t);
      s.close();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.on('message', (msg) => {
      if (msg.equals(payload)) done(true);
    });
    s.on('error', () => done(false));
    s.send(payload, port, dst);
  });
}

function probePing(dst: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn('ping', ['-n', '-q', '-c', '1', '-W', String(timeoutMs / 1000), dst], { stdio: 'ignore' });
    p.on('error', () => resolve(false));
    p.on('close', (code) => resolve(code === 0));
  });
}

await Promise.all([...tcpPorts.map(listenTcp), ...udpPorts.map(listenUdp)]);
process.stdout.write(JSON.stringify({ ready: true }) + '\n');

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const req = JSON.parse(line) as ProbeRequest;
  const p = req.kind === 'tcp' ? probeTcp(req.dst, req.port, req.timeoutMs) : req.kind === 'udp' ? probeUdp(req.dst, req.port, req.timeoutMs) : probePing(req.dst, req.timeoutMs);
  void p.then((ok) => process.stdout.write(JSON.stringify({ id: req.id, ok } satisfies ProbeResponse) + '\n'));
});
rl.on('close', () => {
  for (const s of servers) s.close();
  process.exit(0);
});
