// Traffic for the host kernel tests, run inside a namespace:
//   serve TCP_PORTS UDP_PORTS        TCP echo listeners and UDP echo sockets (dual stack); prints "ready"
//   probe JSON                        one attempt per probe, prints the results as JSON
//   churn JSON MS                     for MS milliseconds: a long-lived TCP echo session plus
//                                     repeated connects; prints every outcome as JSON
// A probe: {proto: 'tcp'|'udp', addr, port, timeoutMs?}.

import { createServer, connect, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';

interface Probe {
  proto: 'tcp' | 'udp';
  addr: string;
  port: number;
  timeoutMs?: number;
}

function tcpOnce(p: Probe): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: p.addr, port: p.port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, p.timeoutMs ?? 700);
    s.once('connect', () => {
      clearTimeout(timer);
      s.end();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

function udpOnce(p: Probe): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket(p.addr.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(false);
    }, p.timeoutMs ?? 700);
    s.once('message', () => {
      clearTimeout(timer);
      s.close();
      resolve(true);
    });
    s.send('ping', p.port, p.addr);
  });
}

const once = (p: Probe) => (p.proto === 'tcp' ? tcpOnce(p) : udpOnce(p));

async function serve(tcp: number[], udp: number[]): Promise<void> {
  const pending: Promise<void>[] = [];
  for (const port of tcp) {
    const srv = createServer((c: Socket) => {
      c.on('data', (d) => c.write(d));
      c.on('error', () => undefined);
    });
    pending.push(new Promise((r) => srv.listen({ port, host: '::', ipv6Only: false }, () => r())));
  }
  for (const port of udp) {
    const s = createSocket({ type: 'udp6', ipv6Only: false });
    s.on('message', (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
    pending.push(new Promise((r) => s.bind(port, '::', () => r())));
  }
  await Promise.all(pending);
  process.stdout.write('ready\n');
}

async function churn(probes: Probe[], ms: number, session: Probe): Promise<void> {
  const end = Date.now() + ms;
  const out: { probe: Probe; ok: boolean; t: number }[] = [];
  // The long-lived session: one echo round trip every 20 ms, each must come back.
  const sess = connect({ host: session.addr, port: session.port });
  let sent = 0;
  let echoed = 0;
  let sessionError = '';
  await new Promise<void>((r, j) => {
    sess.once('connect', () => r());
    sess.once('error', j);
  });
  sess.on('data', (d) => {
    echoed += d.toString().split('\n').length - 1;
  });
  sess.on('error', (e) => (sessionError = String(e)));
  const ticker = setInterval(() => {
    sess.write(`${sent++}\n`);
  }, 20);
  while (Date.now() < end) {
    for (const p of probes) out.push({ probe: p, ok: await once({ ...p, timeoutMs: p.timeoutMs ?? 300 }), t: Date.now() });
  }
  clearInterval(ticker);
  await new Promise((r) => setTimeout(r, 300));
  sess.destroy();
  process.stdout.write(JSON.stringify({ results: out, session: { sent, echoed, error: sessionError } }) + '\n');
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'serve') {
  const list = (s: string | undefined) => (s ? s.split(',').filter(Boolean).map(Number) : []);
  await serve(list(args[0]), list(args[1]));
} else if (mode === 'probe') {
  const probes = JSON.parse(args[0]) as Probe[];
  const results: boolean[] = [];
  for (const p of probes) results.push(await once(p));
  process.stdout.write(JSON.stringify(results) + '\n');
  process.exit(0);
} else if (mode === 'churn') {
  const { probes, session } = JSON.parse(args[0]) as { probes: Probe[]; session: Probe };
  await churn(probes, Number(args[1]), session);
  process.exit(0);
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
