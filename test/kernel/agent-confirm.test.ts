// Commit-confirmed in the shipped agent, on a real datapath in a namespace:
// an apply with --confirm-within that is never confirmed goes back to the
// previous generation by itself (read through status and real packets),
// even though the process group that applied it is killed at once; an apply
// that is confirmed in time stays; confirm --extend moves the deadline past
// the first one.

import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusResult } from '../../targets/host/agent.ts';
import { shippedAgent, tcpConnect, tcpListeners, type ShippedAgent } from './agent-helpers.ts';
import { endpoint, ensureBpffs, fabricOf, host, kernelUnavailable, link, NetnsSet, policyOf, tempDir, vethBetween, writeHostBundle, type RuleSpec } from './host-helpers.ts';

const why = kernelUnavailable();
if (why && process.env.CI === 'true') throw new Error(`agent kernel tests cannot run: ${why}`);

const A4 = '10.79.2.1';
const B4 = '10.79.2.2';
const IFACE = 'wc0';

const fabric = fabricOf([host('host1'), host('host2')], [link(`host1:${IFACE}`, `host2:${IFACE}`)], [
  endpoint('web-1', 'host1', [A4], { app: 'web' }),
  endpoint('db-1', 'host2', [B4], { app: 'db' }),
]);
const groups = { web: { selector: { app: 'web' } }, db: { selector: { app: 'db' } } };
const base: RuleSpec[] = [{ name: 'web-to-db', from: ['web'], to: ['db'], ports: [{ protocol: 'tcp', lo: 5432, hi: 5432 }], action: 'allow' }];
const P1 = policyOf(groups, base, 'deny', 'p1');
const P2 = policyOf(groups, [...base, { name: 'web-to-db-9090', from: ['web'], to: ['db'], ports: [{ protocol: 'tcp', lo: 9090, hi: 9090 }], action: 'allow' }], 'deny', 'p2');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(why !== undefined)('shipped host agent: commit-confirmed', () => {
  const nets = new NetnsSet();
  const bundles = { p1: tempDir('weft-ac1'), p2: tempDir('weft-ac2') };
  let agent: ShippedAgent;
  let nsA = '';
  let nsB = '';
  let listeners: ReturnType<typeof tcpListeners> | undefined;

  const status = async () => {
    const r = await agent.run(['status', '--netns', nsA, '--json']);
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as StatusResult;
  };
  const ruleNames = (s: StatusResult) => s.rules.map((r) => r.name);

  /** Applies in a process group of its own and kills that whole group as soon as the apply has answered. */
  const applyThenKillGroup = (bundle: string, within: string) =>
    new Promise<string>((resolve, reject) => {
      const p = spawn('node', [agent.file, 'apply', bundle, '--device', 'host1', '--netns', nsA, '--confirm-within', within, '--json'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.once('exit', (code) => {
        try {
          process.kill(-p.pid!, 'SIGKILL');
        } catch {
          // the group is empty: the timer left it, as it must
        }
        if (code === 0) resolve(out);
        else reject(new Error(`apply exited ${code}: ${err}`));
      });
    });

  beforeAll(async () => {
    ensureBpffs();
    agent = await shippedAgent();
    nsA = nets.add('weft-ca');
    nsB = nets.add('weft-cb');
    vethBetween({ ns: nsA, ifname: IFACE, addrs: [`${A4}/24`] }, { ns: nsB, ifname: IFACE, addrs: [`${B4}/24`] });
    await writeHostBundle(bundles.p1.path, P1, fabric);
    await writeHostBundle(bundles.p2.path, P2, fabric);
    listeners = tcpListeners(nsB, [5432, 9090]);
    await listeners.ready;
  });

  afterAll(async () => {
    if (nsA && agent) await agent.run(['remove', '--netns', nsA]);
    listeners?.stop();
    nets.teardown();
    bundles.p1.remove();
    bundles.p2.remove();
    agent?.remove();
  });

  it('goes back to the previous generation when the confirmation never comes', async () => {
    expect((await agent.run(['apply', bundles.p1.path, '--device', 'host1', '--netns', nsA])).code).toBe(0);
    expect(await tcpConnect(nsA, B4, 9090)).toBe(false);

    const applied = JSON.parse(await applyThenKillGroup(bundles.p2.path, '3s')) as { generation: number; confirmBy: string; revertsTo: number };
    expect(applied.revertsTo).toBe(1);
    const during = await status();
    expect(ruleNames(during)).toContain('web-to-db-9090');
    expect(during.pendingConfirm?.generation).toBe(applied.generation);
    expect(await tcpConnect(nsA, B4, 9090)).toBe(true);

    // Past the deadline, with time for the reload.
    const deadline = Date.parse(applied.confirmBy);
    while (Date.now() < deadline + 6000 && (await status()).pendingConfirm) await sleep(250);
    await sleep(500);
    const after = await status();
    console.log(`confirm timer: applied generation ${applied.generation} at ${new Date().toISOString()}, reverted to the rules of generation ${applied.revertsTo} as generation ${after.generation}`);
    expect(after.pendingConfirm).toBeUndefined();
    expect(ruleNames(after)).toEqual(['web-to-db']);
    expect(after.generation).toBeGreaterThan(applied.generation);
    expect(await tcpConnect(nsA, B4, 9090)).toBe(false);
    expect(await tcpConnect(nsA, B4, 5432)).toBe(true);

    const late = await agent.run(['confirm', '--device', 'host1', '--netns', nsA]);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain('nothing awaits confirmation for host1');
  });

  it('keeps an apply that is confirmed in time', async () => {
    // Long enough for two agent runs (a wrong confirm, then the right one) on a loaded machine.
    const applied = JSON.parse(await applyThenKillGroup(bundles.p2.path, '8s')) as { generation: number; confirmBy: string };
    const wrong = await agent.run(['confirm', '--device', 'host2', '--netns', nsA]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('awaits confirmation for device host1, not host2');
    const ok = await agent.run(['confirm', '--device', 'host1', '--netns', nsA, '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ device: 'host1', generation: applied.generation });

    await sleep(Date.parse(applied.confirmBy) - Date.now() + 2000);
    const after = await status();
    expect(after.pendingConfirm).toBeUndefined();
    expect(after.generation).toBe(applied.generation);
    expect(ruleNames(after)).toContain('web-to-db-9090');
    expect(await tcpConnect(nsA, B4, 9090)).toBe(true);
  });

  it('keeps waiting past the first deadline once extended, until confirmed', async () => {
    const applied = JSON.parse(await applyThenKillGroup(bundles.p1.path, '3s')) as { generation: number; confirmBy: string };
    const x = await agent.run(['confirm', '--device', 'host1', '--netns', nsA, '--extend', '60s', '--json']);
    expect(x.code, x.stderr).toBe(0);
    const extended = JSON.parse(x.stdout) as { generation: number; confirmBy: string };
    expect(extended.generation).toBe(applied.generation);
    expect(Date.parse(extended.confirmBy)).toBeGreaterThan(Date.parse(applied.confirmBy) + 50_000);

    // Well past the first deadline: the first timer was stopped, the new one waits.
    await sleep(Date.parse(applied.confirmBy) - Date.now() + 3000);
    const during = await status();
    expect(during.pendingConfirm?.deadline).toBe(extended.confirmBy);
    expect(during.generation).toBe(applied.generation);
    expect(ruleNames(during)).toEqual(['web-to-db']);
    expect(await tcpConnect(nsA, B4, 9090)).toBe(false);

    const ok = await agent.run(['confirm', '--device', 'host1', '--netns', nsA, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await status()).pendingConfirm).toBeUndefined();
    const late = await agent.run(['confirm', '--device', 'host1', '--netns', nsA, '--extend', '10s']);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain('nothing awaits confirmation for host1');
  });

  it('refuses a duration it cannot read, applying nothing', async () => {
    const before = await status();
    const r = await agent.run(['apply', bundles.p1.path, '--device', 'host1', '--netns', nsA, '--confirm-within', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--confirm-within: "soon" is not a duration (valid: a number with ms, s, m or h');
    expect((await status()).generation).toBe(before.generation);
  });
});
