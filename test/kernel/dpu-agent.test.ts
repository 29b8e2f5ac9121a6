// The NIC prefilter agent on real interfaces: a DPU namespace whose ports are
// veths (native XDP, no offload engine) and an ifb (no native XDP). No NIC
// here offloads, so --require-offload must refuse and change nothing; without
// it the agent falls back and says so (native on veths, generic on the
// ifb). Real pings cross the prefilter: allowed by one generation, dropped
// by the next, with the drop counted against the rule. Remove leaves no XDP
// program, pin or state behind.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Device } from '../../inventory/model.ts';
import { dpuAgentApply, dpuAgentRemove, dpuAgentStatus } from '../../targets/dpu/agent.ts';
import { endpoint, ensureBpffs, fabricOf, host, kernelUnavailable, link, NetnsSet, nsExec, policyOf, sh, tempDir, uniqueName, vethBetween } from './host-helpers.ts';
import { writeDpuBundle } from './dpu-helpers.ts';

const why = kernelUnavailable();
if (why && process.env.CI === 'true') throw new Error(`DPU kernel tests cannot run: ${why}`);

const span = { file: 'test', line: 1, col: 1 };
const smartnic: Device = { name: 'nic1', kind: 'smartnic', profile: 'nfp', attachedTo: 'h1', mgmt: {}, labels: {}, span };
const fabric = fabricOf(
  [host('h1'), host('h2'), smartnic],
  [link('nic1:eth0', 'h1:eth9'), link('nic1:eth1', 'h2:eth1'), link('nic1:eth2', 'h2:eth2')],
  [endpoint('web-1', 'h1', ['10.77.0.1'], { app: 'web' }), endpoint('client-1', 'h2', ['10.77.0.2'], { app: 'client' })],
);
const groups = { web: { selector: { app: 'web' } }, client: { selector: { app: 'client' } } };
const allowPing = policyOf(groups, [{ name: 'client-ping', from: ['client'], to: ['web'], ports: [{ protocol: 'icmp', type: 8 }], action: 'allow' }]);
const denyPing = policyOf(groups, [{ name: 'no-ping', from: ['client'], to: ['web'], ports: [{ protocol: 'icmp', type: 8 }], action: 'deny' }]);

function xdpProgs(ns: string, dev: string): string {
  return nsExec(ns, 'ip', ['-d', 'link', 'show', 'dev', dev]);
}

function pings(from: string, to: string): boolean {
  try {
    execFileSync('ip', ['netns', 'exec', from, 'ping', '-c', '2', '-i', '0.2', '-W', '1', to], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(why !== undefined)('NIC prefilter agent on veths (no offload engine)', () => {
  const nets = new NetnsSet();
  const bundles = { allow: tempDir('weft-dpu-a'), deny: tempDir('weft-dpu-d') };
  const runDir = tempDir('weft-dpu-run');
  let dpu: string;
  let hostNs: string;
  let uplink: string;
  const opts = () => ({ netns: dpu, runDir: runDir.path });

  beforeAll(async () => {
    ensureBpffs();
    dpu = nets.add('weft-dpu');
    hostNs = nets.add('weft-dpuh');
    uplink = nets.add('weft-dpuu');
    vethBetween({ ns: dpu, ifname: 'eth0', addrs: [] }, { ns: hostNs, ifname: 'eth9', addrs: [] });
    vethBetween({ ns: dpu, ifname: 'eth1', addrs: ['10.77.0.1/24'] }, { ns: uplink, ifname: 'up0', addrs: ['10.77.0.2/24'] });
    nsExec(dpu, 'ip', ['link', 'add', 'eth2', 'type', 'ifb']);
    nsExec(dpu, 'ip', ['link', 'set', 'eth2', 'up']);
    await writeDpuBundle(bundles.allow.path, allowPing, fabric);
    await writeDpuBundle(bundles.deny.path, denyPing, fabric);
  });

  afterAll(() => {
    try {
      if (dpu) dpuAgentRemove(opts());
    } finally {
      nets.teardown();
      bundles.allow.remove();
      bundles.deny.remove();
      runDir.remove();
    }
  });

  it('--require-offload refuses on ports that cannot offload and attaches nothing', () => {
    expect(() => dpuAgentApply(bundles.allow.path, 'nic1', { ...opts(), requireOffload: true })).toThrow(/--require-offload, but eth0 cannot offload \(.+\); eth1 cannot offload/);
    for (const dev of ['eth0', 'eth1', 'eth2']) expect(xdpProgs(dpu, dev)).not.toMatch(/prog\/xdp/);
    expect(existsSync(join(runDir.path, dpu))).toBe(false);
  });

  it('falls back to native XDP on veths and generic on the ifb, and says why', () => {
    const r = dpuAgentApply(bundles.allow.path, 'nic1', opts());
    const mode = Object.fromEntries(r.ports.map((p) => [p.iface, p.mode]));
    expect(mode).toEqual({ eth0: 'native', eth1: 'native', eth2: 'generic' });
    for (const p of r.ports) {
      expect(p.refused[0].mode).toBe('offload');
      expect(p.progId).toBeGreaterThan(0);
    }
    expect(r.ports.find((p) => p.iface === 'eth2')!.refused.map((x) => x.mode)).toEqual(['offload', 'native']);
    expect(xdpProgs(dpu, 'eth1')).toMatch(/xdp(drv)? .*prog\/xdp id \d+|prog\/xdp id \d+/);
    expect(xdpProgs(dpu, 'eth2')).toMatch(/xdpgeneric/);
    const s = dpuAgentStatus(opts());
    expect(s.ports.every((p) => p.attached)).toBe(true);
    expect(s.ports.map((p) => p.mode)).toEqual(['native', 'native', 'generic']);
    expect(s.ports[0].mapMemoryBytes).toBeGreaterThan(0);
  });

  it('passes what the policy allows and drops it once a new generation denies it', () => {
    expect(pings(uplink, '10.77.0.1')).toBe(true);
    const g2 = dpuAgentApply(bundles.deny.path, 'nic1', opts());
    expect(g2.generation).toBe(2);
    expect(pings(uplink, '10.77.0.1')).toBe(false);
    const s = dpuAgentStatus(opts());
    const eth1 = s.ports.find((p) => p.iface === 'eth1')!;
    expect(Number(eth1.counters.drop)).toBeGreaterThanOrEqual(2);
    expect(Number(s.drops.find((d) => d.name === 'no-ping')!.drops)).toBeGreaterThanOrEqual(2);
    // Back to the allowing generation: the replaced programs let pings through again.
    dpuAgentApply(bundles.allow.path, 'nic1', opts());
    expect(pings(uplink, '10.77.0.1')).toBe(true);
  });

  it('remove detaches every port and leaves no pin or state', () => {
    const r = dpuAgentRemove(opts());
    expect(r.detached.map((p) => p.iface)).toEqual(['eth0', 'eth1', 'eth2']);
    for (const dev of ['eth0', 'eth1', 'eth2']) expect(xdpProgs(dpu, dev)).not.toMatch(/prog\/xdp/);
    expect(existsSync(join('/sys/fs/bpf/weft', dpu))).toBe(false);
    expect(existsSync(join(runDir.path, dpu))).toBe(false);
    expect(sh('ip', ['netns', 'list'])).toContain(dpu);
  });

  it('a port already running another XDP program is refused: one program per port', () => {
    const other = uniqueName('weft-dpuo');
    nets.names.push(other);
    sh('ip', ['netns', 'add', other]);
    nsExec(other, 'ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'p0']);
    nsExec(other, 'ip', ['link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'p1']);
    nsExec(other, 'ip', ['link', 'add', 'eth2', 'type', 'ifb']);
    for (const d of ['eth0', 'eth1', 'eth2', 'p0', 'p1']) nsExec(other, 'ip', ['link', 'set', d, 'up']);
    const first = dpuAgentApply(bundles.allow.path, 'nic1', { netns: other, runDir: runDir.path });
    try {
      // A second agent scope (another runDir) finds the port taken by a program it did not load.
      const second = tempDir('weft-dpu-run2');
      try {
        expect(() => dpuAgentApply(bundles.allow.path, 'nic1', { netns: other, runDir: second.path, bpffs: '/sys/fs/bpf' })).toThrow(/eth0 already runs XDP program id \d+, not loaded by weft: a port takes one offloaded program/);
      } finally {
        second.remove();
      }
      expect(first.ports.length).toBe(3);
    } finally {
      dpuAgentRemove({ netns: other, runDir: runDir.path });
    }
  });
});
