// Bad input and faults for the host agent: a datapath the verifier refuses
// (the relevant log lines shown, nothing attached or pinned), no bpffs, no
// privilege, a missing interface, removal leaving nothing behind.

import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEFT_BIN } from '../../orchestrator/package-root.ts';
import { agentApply } from '../../targets/host/agent.ts';
import { CLANG_FLAGS } from '../../targets/host/build.ts';
import {
  endpoint,
  ensureBpffs,
  fabricOf,
  host,
  kernelUnavailable,
  link,
  NetnsSet,
  nsExec,
  policyOf,
  tempDir,
  vethBetween,
  writeHostBundle,
} from './host-helpers.ts';
import { installPacked } from '../package/install-packed.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const why = kernelUnavailable();
if (why && process.env.CI === 'true') throw new Error(`host kernel tests cannot run: ${why}`);

async function agent(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [WEFT_BIN, 'agent', ...args], { encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

const fabric = fabricOf(
  [host('h1'), host('h2')],
  [link('h1:wf0', 'h2:wf0')],
  [endpoint('a', 'h1', ['10.78.0.1'], { app: 'a' }), endpoint('b', 'h2', ['10.78.0.2'], { app: 'b' })],
);
const policy = policyOf({ a: { selector: { app: 'a' } }, b: { selector: { app: 'b' } } }, [
  { name: 'a-to-b', from: ['a'], to: ['b'], ports: [{ protocol: 'tcp', lo: 80, hi: 80 }], action: 'allow' },
]);

describe.skipIf(why !== undefined)('host agent faults', () => {
  const nets = new NetnsSet();
  const bundle = tempDir('weft-hf');
  let ns = '';

  beforeAll(async () => {
    ensureBpffs();
    ns = nets.add('weft-tf');
    const peer = nets.add('weft-tg');
    vethBetween({ ns, ifname: 'wf0', addrs: ['10.78.0.1/24'] }, { ns: peer, ifname: 'wf0', addrs: ['10.78.0.2/24'] });
    await writeHostBundle(bundle.path, policy, fabric);
  });

  afterAll(async () => {
    if (ns) await agent(['remove', '--netns', ns]);
    nets.teardown();
    bundle.remove();
  });

  it('shows the verifier log lines of a refused datapath and leaves nothing attached or pinned', async () => {
    const bad = tempDir('weft-hf-bad');
    try {
      const dev = join(bad.path, 'devices', 'h1');
      mkdirSync(dev, { recursive: true });
      const good = join(bundle.path, 'devices', 'h1');
      for (const f of readdirSync(good).filter((f) => f !== 'policy.bpf.o')) copyFileSync(join(good, f), join(dev, f));
      execFileSync('clang', [...CLANG_FLAGS, `-I${ROOT}bpf`, '-c', `${ROOT}test/fixtures/host-bad-verifier/bad.bpf.c`, '-o', join(dev, 'policy.bpf.o')]);
      const r = await agent(['apply', bad.path, '--device', 'h1', '--netns', ns]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/kernel refused the host datapath/);
      expect(r.stderr).toMatch(/invalid access to packet/);
      expect(nsExec(ns, 'tc', ['filter', 'show', 'dev', 'wf0', 'ingress'])).toBe('');
      expect(nsExec(ns, 'ip', ['link', 'show', 'wf0'])).not.toMatch(/xdp/);
      expect(existsSync(`/sys/fs/bpf/weft/${ns}`)).toBe(false);
    } finally {
      bad.remove();
    }
  });

  it('says what to do without bpffs', () => {
    const dir = tempDir('weft-hf-nobpffs');
    try {
      expect(() => agentApply(bundle.path, 'h1', { netns: ns, bpffs: dir.path })).toThrow(/no BPF filesystem mounted at .*mount -t bpf bpf/);
    } finally {
      dir.remove();
    }
  });

  // The unprivileged user may not be able to read the checkout (a clone under
  // /root is mode 700), so it runs weft as packed and installed in a temporary
  // directory it can read, from there: nothing of the checkout is needed.
  it('says what to do without privilege', async () => {
    const inst = installPacked('weft-hf-unpriv');
    try {
      const r = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, inst.bin, 'agent', 'status'], { cwd: inst.dir, encoding: 'utf8' }).then(
        (x) => ({ code: 0, stderr: x.stderr }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
      expect(r.stderr).toMatch(/weft agent needs root \(CAP_BPF and CAP_NET_ADMIN/);
      expect(r.code).toBe(1);
    } finally {
      inst.remove();
    }
  }, 900_000);

  it('names a missing interface, an unknown device and an unknown namespace', async () => {
    const r1 = await agent(['apply', bundle.path, '--device', 'h1']);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/interface wf0 .* does not exist/);
    const r2 = await agent(['apply', bundle.path, '--device', 'nope', '--netns', ns]);
    expect(r2.stderr).toMatch(/no device "nope" \(devices: h1, h2\)/);
    const r3 = await agent(['apply', bundle.path, '--device', 'h1', '--netns', 'weft-no-such-ns']);
    expect(r3.stderr).toMatch(/network namespace "weft-no-such-ns" does not exist/);
    const r4 = await agent(['apply', bundle.path]);
    expect(r4.code).toBe(2);
  });

  it('applies, reports and removes without leaving a pinned object', async () => {
    const a = await agent(['apply', bundle.path, '--device', 'h1', '--netns', ns, '--json']);
    expect(a.code).toBe(0);
    const ids = (JSON.parse(a.stdout) as { attach: { progId: number }[] }).attach.map((x) => x.progId);
    const st = await agent(['status', '--netns', ns]);
    expect(st.stdout).toMatch(/generation 1/);
    expect(st.stdout).toMatch(/a-to-b/);
    const rm = await agent(['remove', '--netns', ns, '--json']);
    expect(rm.code).toBe(0);
    expect(existsSync(`/sys/fs/bpf/weft/${ns}`)).toBe(false);
    expect(existsSync(`/run/weft/${ns}`)).toBe(false);
    // The programs are gone from the kernel once nothing holds them.
    await new Promise((r) => setTimeout(r, 200));
    const progs = execFileSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' });
    const live = new Set((JSON.parse(progs) as { id: number }[]).map((p) => p.id));
    expect(ids.filter((id) => live.has(id))).toEqual([]);
    const again = await agent(['status', '--netns', ns]);
    expect(again.stderr).toMatch(/nothing applied/);
  });
});
