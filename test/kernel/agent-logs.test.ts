// The shipped agent (one file plus koffi.node, run with plain `node` from a
// directory outside the checkout) on a real datapath in a namespace: its
// version, refusing a bundle made for another version, flow logs of
// `log: true` rules with the right 5-tuple and rule, none for other rules,
// the per-CPU rate limit, and per-rule packet and byte counters.

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_VERSION } from '../../targets/host/agent-version.ts';
import type { FlowLogEvent } from '../../targets/host/flowlog.ts';
import { possibleCpus } from '../../targets/host/loader.ts';
import type { StatusResult } from '../../targets/host/agent.ts';
import { shippedAgent, tcpConnect, tcpListeners, udpBurst, type ShippedAgent } from './agent-helpers.ts';
import { endpoint, ensureBpffs, fabricOf, host, kernelUnavailable, link, NetnsSet, policyOf, tempDir, vethBetween, writeHostBundle } from './host-helpers.ts';

const why = kernelUnavailable();
if (why && process.env.CI === 'true') throw new Error(`agent kernel tests cannot run: ${why}`);

const A4 = '10.79.1.1';
const B4 = '10.79.1.2';
const A6 = 'fd79:1::1';
const B6 = 'fd79:1::2';
const IFACE = 'wl0';
const LOG_RATE = 20;

const fabric = fabricOf(
  [host('host1'), host('host2')],
  [link(`host1:${IFACE}`, `host2:${IFACE}`)],
  [endpoint('web-1', 'host1', [A4, A6], { app: 'web' }), endpoint('db-1', 'host2', [B4, B6], { app: 'db' })],
);
// Rule i sits on line 10 + i of test-policy.yaml (host-helpers).
const policy = policyOf({ web: { selector: { app: 'web' } }, db: { selector: { app: 'db' } } }, [
  { name: 'no-ssh', from: ['any'], to: ['any'], ports: [{ protocol: 'tcp', lo: 22, hi: 22 }], action: 'deny', log: true },
  { name: 'web-to-db', from: ['web'], to: ['db'], ports: [{ protocol: 'tcp', lo: 5432, hi: 5432 }], action: 'allow' },
  { name: 'web-to-db-udp', from: ['web'], to: ['db'], ports: [{ protocol: 'udp', lo: 8000, hi: 8099 }], action: 'allow', log: true },
  { name: 'db-to-web-http', from: ['db'], to: ['web'], ports: [{ protocol: 'tcp', lo: 80, hi: 80 }], action: 'allow', log: true },
]);

function lines(stdout: string): FlowLogEvent[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as FlowLogEvent);
}

describe.skipIf(why !== undefined)('shipped host agent: version, flow logs, counters', () => {
  const nets = new NetnsSet();
  const bundle = tempDir('weft-al');
  let agent: ShippedAgent;
  let nsA = '';
  let nsB = '';
  const listeners: { stop: () => void }[] = [];

  const logs = async () => {
    const r = await agent.run(['logs', '--netns', nsA, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return lines(r.stdout);
  };
  const status = async () => JSON.parse((await agent.run(['status', '--netns', nsA, '--json'])).stdout) as StatusResult;

  beforeAll(async () => {
    ensureBpffs();
    agent = await shippedAgent();
    nsA = nets.add('weft-la');
    nsB = nets.add('weft-lb');
    vethBetween({ ns: nsA, ifname: IFACE, addrs: [`${A4}/24`, `${A6}/64`] }, { ns: nsB, ifname: IFACE, addrs: [`${B4}/24`, `${B6}/64`] });
    await writeHostBundle(bundle.path, policy, fabric);
    for (const [ns, ports] of [
      [nsA, [80]],
      [nsB, [22, 5432]],
    ] as const) {
      const l = tcpListeners(ns, [...ports]);
      listeners.push(l);
      await l.ready;
    }
  });

  afterAll(async () => {
    if (nsA && agent) await agent.run(['remove', '--netns', nsA]);
    for (const l of listeners) l.stop();
    nets.teardown();
    bundle.remove();
    agent?.remove();
  });

  it('reports its version and refuses a bundle made for another one, applying nothing', async () => {
    const v = await agent.run(['--version']);
    expect(v.stdout.trim()).toBe(`weft-agent ${AGENT_VERSION}`);

    const other = tempDir('weft-al-v');
    try {
      await writeHostBundle(other.path, policy, fabric);
      const f = join(other.path, 'devices', 'host1', 'interfaces.json');
      writeFileSync(f, JSON.stringify({ ...JSON.parse(readFileSync(f, 'utf8')), agentVersion: '0.0.1' }));
      const r = await agent.run(['apply', other.path, '--device', 'host1', '--netns', nsA]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`the bundle was compiled for weft-agent 0.0.1, this is weft-agent ${AGENT_VERSION}`);
      const s = await agent.run(['status', '--netns', nsA]);
      expect(s.stderr).toContain('nothing applied');
    } finally {
      other.remove();
    }
  });

  it('logs verdicts of log: true rules with their 5-tuple and rule, and nothing for other rules', async () => {
    const applied = await agent.run(['apply', bundle.path, '--device', 'host1', '--netns', nsA, '--log-rate', String(LOG_RATE), '--json']);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(await logs()).toEqual([]);

    expect(await tcpConnect(nsA, B4, 22)).toBe(false); // denied, logged (egress)
    expect(await tcpConnect(nsA, B4, 5432)).toBe(true); // allowed, not logged
    await udpBurst(nsA, { addr: A4, sport: 40001 }, { addr: B4, dport: 8053 }, 1); // allowed, logged
    await udpBurst(nsA, { addr: A6, sport: 40002 }, { addr: B6, dport: 8054 }, 1); // allowed, logged, IPv6
    expect(await tcpConnect(nsB, A4, 80)).toBe(true); // allowed, logged (ingress)

    const events = await logs();
    console.log(`flow logs: ${events.length} events\n${events.map((e) => JSON.stringify(e)).join('\n')}`);
    expect(events.every((e) => e.device === 'host1')).toBe(true);
    expect(events.some((e) => e.dport === 5432)).toBe(false);

    const ssh = events.filter((e) => e.rule.name === 'no-ssh');
    expect(ssh.length).toBeGreaterThanOrEqual(1);
    for (const e of ssh) {
      expect(e).toMatchObject({ verdict: 'deny', protocol: 'tcp', src: A4, dst: B4, dport: 22, direction: 'egress', rule: { index: 0, source: 'test-policy.yaml:10:7' } });
      expect(e.sport).toBeGreaterThan(1023);
    }
    const udp = events.filter((e) => e.rule.name === 'web-to-db-udp');
    expect(udp.map(({ src, dst, sport, dport, protocol, verdict, direction }) => ({ src, dst, sport, dport, protocol, verdict, direction }))).toEqual([
      { src: A4, dst: B4, sport: 40001, dport: 8053, protocol: 'udp', verdict: 'allow', direction: 'egress' },
      { src: A6, dst: B6, sport: 40002, dport: 8054, protocol: 'udp', verdict: 'allow', direction: 'egress' },
    ]);
    expect(udp[0].rule.source).toBe('test-policy.yaml:12:7');
    const http = events.filter((e) => e.rule.name === 'db-to-web-http');
    // The SYN and the rest of the connection's forward packets, each judged at ingress.
    expect(http.length).toBeGreaterThanOrEqual(1);
    for (const e of http) expect(e).toMatchObject({ verdict: 'allow', protocol: 'tcp', src: B4, dst: A4, dport: 80, direction: 'ingress', hook: 'tc' });
    expect(events.length).toBe(ssh.length + udp.length + http.length);

    const s = await status();
    expect(s.agentVersion).toBe(AGENT_VERSION);
    expect(s.logRate).toBe(LOG_RATE);
    expect(s.ruleCounters['2'].packets).toBe('2');
    expect(Number(s.ruleCounters['2'].bytes)).toBeGreaterThan(2 * 28);
    expect(Number(s.ruleCounters['1'].packets)).toBeGreaterThan(0); // counted, never logged
    expect(s.rules.find((r) => r.name === 'web-to-db-udp')).toMatchObject({ log: true, section: '', span: { file: 'test-policy.yaml', line: 12, col: 7 } });
    expect(s.counters.log_emitted).toBe(String(events.length));
  });

  it('follows the ring as events come', async () => {
    const follower = spawn('node', [agent.file, 'logs', '--netns', nsA, '--follow', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    follower.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const seen = (async () => {
        // Sent until seen: the follower may still be starting when the first one passes (it stays in the ring then).
        for (let i = 0; i < 20 && !out.includes('"sport":40005'); i++) {
          if (i === 0) await udpBurst(nsA, { addr: A4, sport: 40005 }, { addr: B4, dport: 8055 }, 1);
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
      await seen;
      expect(lines(out).filter((e) => e.sport === 40005)).toHaveLength(1);
    } finally {
      const exited = new Promise<number | null>((r) => follower.once('exit', (code) => r(code)));
      follower.kill('SIGINT');
      expect(await exited).toBe(0);
    }
  });

  it('holds the per-CPU rate limit under a flood and accounts for every logged verdict', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // a full bucket to start from
    const before = await status();
    const t0 = performance.now();
    const N = 1000;
    await udpBurst(nsA, { addr: A4, sport: 40003 }, { addr: B4, dport: 8060 }, N);
    const seconds = (performance.now() - t0) / 1000;
    const events = (await logs()).filter((e) => e.sport === 40003);
    const after = await status();
    const delta = (k: string) => Number(after.counters[k]) - Number(before.counters[k]);
    const judged = Number(after.ruleCounters['2'].packets) - Number(before.ruleCounters['2'].packets);
    const bound = possibleCpus() * (LOG_RATE + LOG_RATE * (seconds + 1));
    console.log(`flow log rate limit: ${N} datagrams sent in ${seconds.toFixed(2)} s, ${judged} judged, ${events.length} logged, ${delta('log_suppressed')} suppressed, bound ${bound}`);
    expect(judged).toBe(N);
    expect(events.length).toBeGreaterThan(0);
    expect(events.length).toBeLessThanOrEqual(bound);
    expect(events.length).toBeLessThan(N / 2);
    expect(delta('log_emitted')).toBe(events.length);
    expect(delta('log_emitted') + delta('log_suppressed')).toBe(N);
    expect(delta('log_lost')).toBe(0);
  });
});
