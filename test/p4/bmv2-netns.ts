// A bmv2 switch in a namespace of its own for tests: port n is veth sN in the
// namespace, its peer pN the wire a test sends into (and port 0's peer p0 is
// where a v1model program without forwarding emits what it does not drop).
// The namespace's name carries the process id; close() removes everything.

import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startBmv2, type Bmv2Switch } from '../../lab/p4-switch.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let serial = 0;

export interface Bmv2Fixture {
  netns: string;
  dir: string;
  /** The P4Runtime address (a unix socket reachable from the test's namespace). */
  address: string;
  sw: Bmv2Switch;
  /** Sends frames into the given ports and returns every frame the switch emitted on port 0. */
  sendAndCapture(sends: { port: number; frames: Buffer[] }[], settleMs?: number): Promise<Buffer[]>;
  close(): Promise<void>;
}

export async function startBmv2Fixture(ports: number[], deviceId = 1): Promise<Bmv2Fixture> {
  const netns = `weft-p4-${process.pid}-${serial++}`;
  const dir = mkdtempSync(join(tmpdir(), 'weft-bmv2-'));
  await run('ip', ['netns', 'add', netns]);
  let sw: Bmv2Switch | undefined;
  const close = async (): Promise<void> => {
    await sw?.stop();
    await run('ip', ['netns', 'del', netns]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const all = [0, ...ports.filter((p) => p !== 0)];
    const batch = ['link set lo up'];
    for (const n of all) batch.push(`link add s${n} type veth peer name p${n}`, `link set s${n} up`, `link set p${n} up`);
    await run('sh', ['-c', `ip -n ${netns} -batch - <<'EOF'\n${batch.join('\n')}\nEOF`]);
    // Only the test's frames: no router solicitations or MLD reports from the kernel.
    await run('ip', ['netns', 'exec', netns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    for (const n of all) await run('ip', ['netns', 'exec', netns, 'sysctl', '-qw', `net.ipv6.conf.s${n}.disable_ipv6=1`, `net.ipv6.conf.p${n}.disable_ipv6=1`]);
    const address = `unix:${join(dir, 'p4runtime.sock')}`;
    sw = await startBmv2({ netns, ports: Object.fromEntries(all.map((n) => [n, `s${n}`])), deviceId, grpcAddress: address, logFile: join(dir, 'bmv2.log') });
    const started = sw;
    return {
      netns,
      dir,
      address,
      sw: started,
      close,
      sendAndCapture: (sends, settleMs = 700) =>
        new Promise((resolve, reject) => {
          const child = spawn('ip', ['netns', 'exec', netns, process.execPath, join(ROOT, 'bin', 'run-ts.js'), join(ROOT, 'test', 'p4', 'packet-io.run.ts')], { stdio: ['pipe', 'pipe', 'pipe'] });
          let out = '';
          let err = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.stderr.on('data', (d: Buffer) => (err += d.toString()));
          child.on('error', reject);
          child.on('close', (code) => {
            if (code !== 0) return reject(new Error(`packet-io exit ${code}: ${err.trim()}`));
            resolve((JSON.parse(out) as { captured: string[] }).captured.map((b) => Buffer.from(b, 'base64')));
          });
          child.stdin.end(JSON.stringify({ capture: 'p0', settleMs, send: sends.map((s) => ({ iface: `p${s.port}`, frames: s.frames.map((f) => f.toString('base64')) })) }));
        }),
    };
  } catch (e) {
    await close();
    throw e;
  }
}
