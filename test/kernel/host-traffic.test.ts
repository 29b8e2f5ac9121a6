// Real traffic through the host datapath: two namespaces (one host each)
// joined by a veth pair, the policy installed with `weft agent apply`, real
// TCP connects, UDP exchanges and pings both ways over IPv4 and IPv6, the
// observed matrix compared with the reference evaluator; then policy
// switches under continuous traffic, and removal leaving nothing behind.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReferenceEvaluator } from '../../orchestrator/reference/evaluator.ts';
import type { Flow } from '../../orchestrator/flow.ts';
import { WEFT_BIN } from '../../orchestrator/package-root.ts';
import {
  endpoint,
  ensureBpffs,
  fabricOf,
  host,
  ip,
  kernelUnavailable,
  link,
  NetnsSet,
  nsExec,
  policyOf,
  sh,
  tempDir,
  vethBetween,
  writeHostBundle,
  type RuleSpec,
} from './host-helpers.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROBE = `${ROOT}test/kernel/host-probe.run.ts`;
const RUN_TS = `${ROOT}bin/run-ts.js`;

const why = kernelUnavailable();
if (why && process.env.CI === 'true') throw new Error(`host kernel tests cannot run: ${why}`);

const A4 = '10.77.1.1';
const B4 = '10.77.1.2';
const A6 = 'fd77:1::1';
const B6 = 'fd77:1::2';
const IFACE = 'wt0';

const fabric = fabricOf(
  [host('host1'), host('host2')],
  [link(`host1:${IFACE}`, `host2:${IFACE}`)],
  [endpoint('web-1', 'host1', [A4, A6], { app: 'web' }), endpoint('db-1', 'host2', [B4, B6], { app: 'db' })],
);
const baseRules: RuleSpec[] = [
  { name: 'no-ssh', from: ['any'], to: ['any'], ports: [{ protocol: 'tcp', lo: 22, hi: 22 }], action: 'deny' },
  { name: 'web-to-db', from: ['web'], to: ['db'], ports: [{ protocol: 'tcp', lo: 5432, hi: 5432 }, { protocol: 'udp', lo: 8000, hi: 8099 }], action: 'allow' },
  { name: 'web-ping-db', from: ['web'], to: ['db'], ports: [{ protocol: 'icmp', type: 8 }, { protocol: 'icmpv6', type: 128 }], action: 'allow' },
  { name: 'db-to-web-http', from: ['db'], to: ['web'], ports: [{ protocol: 'tcp', lo: 80, hi: 80 }], action: 'allow' },
];
const groups = { web: { selector: { app: 'web' } }, db: { selector: { app: 'db' } } };
const P1 = policyOf(groups, baseRules, 'deny', 'p1');
const P2 = policyOf(
  groups,
  [...baseRules, { name: 'web-to-db-9090', from: ['web'], to: ['db'], ports: [{ protocol: 'tcp', lo: 9090, hi: 9090 }], action: 'allow' }],
  'deny',
  'p2',
);

async function weft(args: string[]): Promise<string> {
  const r = await run(process.execPath, [WEFT_BIN, ...args], { encoding: 'utf8' });
  return r.stdout;
}

function waitReady(p: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('probe server did not start')), 20_000);
    p.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    p.once('exit', (code) => reject(new Error(`probe server exited with ${code}`)));
  });
}

interface Probe {
  proto: 'tcp' | 'udp';
  addr: string;
  port: number;
}

async function probe(ns: string, probes: Probe[]): Promise<boolean[]> {
  const r = await run('ip', ['netns', 'exec', ns, 'node', RUN_TS, PROBE, 'probe', JSON.stringify(probes)], { encoding: 'utf8' });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as boolean[];
}

function ping(ns: string, addr: string): boolean {
  try {
    nsExec(ns, 'ping', [addr.includes(':') ? '-6' : '-4', '-c', '1', '-W', '1', addr]);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(why !== undefined)('host datapath with real traffic', () => {
  const nets = new NetnsSet();
  const servers: ChildProcess[] = [];
  const bundles = { p1: tempDir('weft-b1'), p2: tempDir('weft-b2') };
  let nsA = '';
  let nsB = '';

  beforeAll(async () => {
    ensureBpffs();
    nsA = nets.add('weft-ta');
    nsB = nets.add('weft-tb');
    vethBetween({ ns: nsA, ifname: IFACE, addrs: [`${A4}/24`, `${A6}/64`] }, { ns: nsB, ifname: IFACE, addrs: [`${B4}/24`, `${B6}/64`] });
    await writeHostBundle(bundles.p1.path, P1, fabric);
    await writeHostBundle(bundles.p2.path, P2, fabric);
    for (const [ns, tcp, udp] of [
      [nsA, '80,22,5432', '8053'],
      [nsB, '5432,22,80,9090', '8053,9000'],
    ] as const) {
      const p = spawn('ip', ['netns', 'exec', ns, 'node', RUN_TS, PROBE, 'serve', tcp, udp], { stdio: ['ignore', 'pipe', 'inherit'] });
      servers.push(p);
      await waitReady(p);
    }
  });

  afterAll(async () => {
    for (const ns of [nsA, nsB]) {
      if (ns) await weft(['agent', 'remove', '--netns', ns]).catch(() => undefined);
    }
    for (const p of servers) if (p.pid) process.kill(p.pid);
    nets.teardown();
    bundles.p1.remove();
    bundles.p2.remove();
  });

  it('enforces the reference matrix on real TCP, UDP and ICMP, both ways, IPv4 and IPv6', async () => {
    for (const [ns, dev] of [
      [nsA, 'host1'],
      [nsB, 'host2'],
    ] as const) {
      const out = await weft(['agent', 'apply', bundles.p1.path, '--device', dev, '--netns', ns, '--json']);
      const r = JSON.parse(out) as { generation: number; attach: { hook: string }[] };
      expect(r.generation).toBe(1);
      expect(r.attach.map((a) => a.hook).sort()).toEqual(['tc-egress', 'tc-ingress', 'xdp']);
    }
    const ref = new ReferenceEvaluator(P1, fabric);
    const cases: { from: string; to: string; srcAddr: string; dstAddr: string; proto: 'tcp' | 'udp' | 'icmp'; port: number }[] = [];
    for (const [srcAddr, dstAddr] of [
      [A4, B4],
      [A6, B6],
    ]) {
      for (const port of [5432, 22, 80, 9090]) cases.push({ from: nsA, to: nsB, srcAddr, dstAddr, proto: 'tcp', port });
      for (const port of [8053, 9000]) cases.push({ from: nsA, to: nsB, srcAddr, dstAddr, proto: 'udp', port });
      cases.push({ from: nsA, to: nsB, srcAddr, dstAddr, proto: 'icmp', port: 0 });
      for (const port of [80, 22, 5432]) cases.push({ from: nsB, to: nsA, srcAddr: dstAddr, dstAddr: srcAddr, proto: 'tcp', port });
      cases.push({ from: nsB, to: nsA, srcAddr: dstAddr, dstAddr: srcAddr, proto: 'udp', port: 8053 });
      cases.push({ from: nsB, to: nsA, srcAddr: dstAddr, dstAddr: srcAddr, proto: 'icmp', port: 0 });
    }
    const observed: boolean[] = [];
    for (const ns of [nsA, nsB]) {
      const mine = cases.filter((c) => c.from === ns);
      const l4 = mine.filter((c) => c.proto !== 'icmp');
      const res = await probe(ns, l4.map((c) => ({ proto: c.proto as 'tcp' | 'udp', addr: c.dstAddr, port: c.port })));
      let k = 0;
      for (const c of mine) observed[cases.indexOf(c)] = c.proto === 'icmp' ? ping(ns, c.dstAddr) : res[k++];
    }
    const expected = cases.map((c) => {
      const v6 = c.srcAddr.includes(':');
      const f: Flow =
        c.proto === 'icmp'
          ? { src: ip(c.srcAddr), dst: ip(c.dstAddr), proto: v6 ? 58 : 1, sport: 0, dport: 0, icmpType: v6 ? 128 : 8, icmpCode: 0, icmpId: 1 }
          : { src: ip(c.srcAddr), dst: ip(c.dstAddr), proto: c.proto === 'tcp' ? 6 : 17, sport: 40000, dport: c.port };
      return ref.verdict(f).verdict === 'allow';
    });
    const table = cases.map((c, i) => `${c.srcAddr} -> ${c.dstAddr} ${c.proto}/${c.port}: observed ${observed[i] ? 'pass' : 'drop'}, reference ${expected[i] ? 'allow' : 'deny'}`);
    console.log(`host traffic: ${cases.length} probes\n${table.join('\n')}`);
    expect(observed).toEqual(expected);
    expect(expected.filter(Boolean).length).toBeGreaterThan(3);
    expect(expected.filter((x) => !x).length).toBeGreaterThan(3);

    const status = JSON.parse(await weft(['agent', 'status', '--netns', nsA, '--json'])) as {
      generation: number;
      attach: { attached: boolean }[];
      rules: { name: string; hits: string }[];
    };
    expect(status.generation).toBe(1);
    expect(status.attach.every((a) => a.attached)).toBe(true);
    expect(Number(status.rules.find((r) => r.name === 'web-to-db')!.hits)).toBeGreaterThan(0);
  });

  it('switches policies under continuous traffic with no wrong verdict and keeps established connections', async () => {
    const churnMs = 7000;
    const churn = run(
      'ip',
      [
        'netns',
        'exec',
        nsA,
        'node',
        RUN_TS,
        PROBE,
        'churn',
        JSON.stringify({
          probes: [
            { proto: 'tcp', addr: B4, port: 5432 },
            { proto: 'tcp', addr: B6, port: 22, timeoutMs: 150 },
            { proto: 'udp', addr: B6, port: 8053 },
            { proto: 'tcp', addr: B4, port: 9090, timeoutMs: 150 },
          ],
          session: { proto: 'tcp', addr: B6, port: 5432 },
        }),
        String(churnMs),
      ],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    );
    await new Promise((r) => setTimeout(r, 1500));
    const applies: { action: string; generation: number; ms: number }[] = [];
    for (let i = 0; i < 6; i++) {
      const b = i % 2 === 0 ? bundles.p2.path : bundles.p1.path;
      for (const [ns, dev] of [
        [nsB, 'host2'],
        [nsA, 'host1'],
      ] as const) {
        applies.push(JSON.parse(await weft(['agent', 'apply', b, '--device', dev, '--netns', ns, '--json'])));
      }
    }
    const out = JSON.parse((await churn).stdout.trim().split('\n').pop()!) as {
      results: { probe: { port: number; proto: string }; ok: boolean }[];
      session: { sent: number; echoed: number; error: string };
    };
    const by = (proto: string, port: number) => out.results.filter((r) => r.probe.port === port && r.probe.proto === proto);
    console.log(
      `host switch: ${applies.length} applies (${applies.map((a) => `${a.action} g${a.generation} ${a.ms.toFixed(0)}ms`).join(', ')}), ` +
        `${out.results.length} connection attempts, session ${out.session.echoed}/${out.session.sent} echoed`,
    );
    expect(applies.every((a) => a.action === 'delta')).toBe(true);
    expect(by('tcp', 5432).length).toBeGreaterThan(5);
    expect(by('tcp', 5432).every((r) => r.ok)).toBe(true);
    expect(by('udp', 8053).every((r) => r.ok)).toBe(true);
    expect(by('tcp', 22).every((r) => !r.ok)).toBe(true);
    expect(out.session.error).toBe('');
    expect(out.session.echoed).toBe(out.session.sent);
    // The last policy applied (P1) denies 9090 again.
    expect((await probe(nsA, [{ proto: 'tcp', addr: B4, port: 9090 }]))[0]).toBe(false);
  });

  it('removes every attach point and pinned object', async () => {
    for (const ns of [nsA, nsB]) {
      const r = JSON.parse(await weft(['agent', 'remove', '--netns', ns, '--json'])) as { detached: unknown[]; unpinned: string[] };
      expect(r.detached.length).toBe(3);
      expect(r.unpinned.length).toBeGreaterThan(8);
      expect(existsSync(`/sys/fs/bpf/weft/${ns}`)).toBe(false);
      expect(existsSync(`/run/weft/${ns}`)).toBe(false);
      expect(nsExec(ns, 'tc', ['filter', 'show', 'dev', IFACE, 'ingress'])).toBe('');
      expect(sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'show', IFACE])).not.toMatch(/xdp/);
    }
    // With nothing enforcing, everything passes again.
    expect((await probe(nsA, [{ proto: 'tcp', addr: B4, port: 22 }]))[0]).toBe(true);
  });
});
