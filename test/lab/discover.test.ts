// `weft discover` on a deployed two-leaf lab, run from the lab's management
// namespace over the real SNMP (snmpd with lldpd as AgentX sub-agent) and
// SSH (host keys from a known_hosts file): the rebuilt devices and links
// equal the containerlab file's, the only difference being the management
// addresses the lab assigned (the file names none); against the lab's own
// inventory nothing differs. Also: SSH alone, a wrong host key refused,
// --update keeping hand edits, SNMPv3, and credentials in no log or output. On
// the example topology (spines, P4 and OpenConfig leaves, a BlueField DPU)
// SNMP alone rebuilds exactly the containerlab file, which names every
// management address.

import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { deploy, destroy } from '../../lab/emulator.ts';
import { labDir, mgmtNetnsName, readState } from '../../lab/state.ts';
import { loadTopology } from '../../lab/topology.ts';
import { loadInventory } from '../../inventory/load.ts';
import type { FabricDiff } from '../../inventory/discovery/diff.ts';
import type { DiscoveredFabric } from '../../inventory/discovery/merge.ts';
import { labName, leftovers, requireLab } from './helpers.ts';

const repo = resolve(import.meta.dirname, '../..');
const twoLeaf = join(repo, 'lab/topologies/two-leaf.clab.yml');
const enabled = requireLab();
const lab = labName('disc');
let dir = '';
let inventory = '';

interface InvDevice {
  name: string;
  mgmt: { address: string; ssh?: { hostKey: string } };
}

/** Runs weft discover inside a lab's management namespace, where every management address is reachable. */
function discover(args: string[], env: Record<string, string> = {}, inLab = lab): { code: number; stdout: string; stderr: string } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WEFT_SNMP_'))) as Record<string, string>;
  const r = spawnSync('ip', ['netns', 'exec', mgmtNetnsName(inLab), process.execPath, join(repo, 'bin/weft.js'), 'discover', '--timeout-ms', '20000', ...args], {
    cwd: repo,
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...clean, ...env },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function sshArgs(knownHosts = join(dir, 'known_hosts')): string[] {
  return ['--ssh-key', join(dir, 'keys/client_ed25519'), '--known-hosts', knownHosts];
}

beforeAll(async () => {
  if (!enabled) return;
  await deploy(loadTopology(twoLeaf), { name: lab });
  dir = labDir(lab);
  inventory = readState(lab)?.inventory as string;
  // The operator's known_hosts: the keys the lab pinned, as `ssh-keyscan` run on a trusted path would give.
  const devices = (parseYaml(readFileSync(inventory, 'utf8')) as { spec: { devices: InvDevice[] } }).spec.devices;
  writeFileSync(join(dir, 'known_hosts'), devices.filter((d) => d.mgmt.ssh).map((d) => `${d.mgmt.address} ${d.mgmt.ssh?.hostKey}\n`).join(''));
}, 180_000);

afterAll(async () => {
  if (!enabled) return;
  await destroy(lab);
  expect(leftovers(lab)).toEqual([]);
}, 60_000);

describe.runIf(enabled)('weft discover on the lab', () => {
  it('rebuilds the devices and links of the containerlab file from one seed', () => {
    const seeds = join(dir, 'seeds');
    writeFileSync(seeds, '# one host is enough: LLDP leads to the rest\n172.20.30.4\n');
    const out = join(dir, 'discovered.yaml');
    const r = discover(['--seeds', seeds, '--snmp-community-file', join(dir, 'snmp-community'), ...sshArgs(), '--against', twoLeaf, '--out', out, '--json']);
    // The containerlab file names no management addresses; the lab assigned them, discovery found them.
    expect(r.code, r.stderr).toBe(1);
    const j = JSON.parse(r.stdout) as DiscoveredFabric & { diff: FabricDiff; failures: unknown[] };
    expect(j.failures).toEqual([]);
    const clab = loadInventory(twoLeaf);
    expect(j.devices.map((d) => `${d.name} ${d.kind}/${d.pipeline ?? '-'}`)).toEqual(
      clab.devices.map((d) => `${d.name} ${d.kind}/${d.pipeline ?? '-'}`).sort(),
    );
    expect(j.diff.devices).toEqual({ onlyDiscovered: [], onlyInventory: [], kindDiffers: [] });
    expect(j.diff.links).toEqual({ onlyDiscovered: [], onlyInventory: [] });
    expect(j.links).toHaveLength(clab.links.length);
    expect(j.diff.addresses.onlyInventory).toEqual([]);
    expect(j.diff.addresses.onlyDiscovered.map((a) => a.device)).toEqual(['host1', 'host2', 'leaf1', 'leaf2']);
    // Links to the endpoints are missing on purpose: endpoints are workloads, not devices, and run no LLDP.
    expect(j.unresolved).toEqual([]);

    // The written fabric loads, equals the lab's inventory, and pins the same host keys.
    const written = loadInventory(out);
    const lab_ = loadInventory(inventory);
    for (const d of written.devices.filter((x) => x.kind === 'host')) {
      expect(d.mgmt.ssh?.hostKey, d.name).toBe(lab_.devices.find((x) => x.name === d.name)?.mgmt.ssh?.hostKey);
    }
    const again = discover(['--seed', '172.20.30.4', '--snmp-community-file', join(dir, 'snmp-community'), '--against', inventory]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain('discovered fabric equals');
    console.log(`discover: ${j.devices.length} devices, ${j.links.length} links from one seed`);
  }, 240_000);

  it('keeps the community out of logs and output, at debug level', () => {
    const community = readFileSync(join(dir, 'snmp-community'), 'utf8').trim();
    const out = join(dir, 'discovered-env.yaml');
    const r = discover(['--seed', '172.20.30.2', '--out', out, '--log-level', 'debug'], { WEFT_SNMP_COMMUNITY: community });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('discovered 4 devices and 3 links');
    expect(r.stderr).toContain('asking device');
    expect(r.stdout + r.stderr + readFileSync(out, 'utf8')).not.toContain(community);
  }, 240_000);

  it('walks the lab over SNMPv3 authPriv (SHA-256, AES) with keys from files, printing neither key', () => {
    const r = discover([
      '--seed', '172.20.30.3',
      '--snmp-user', 'weftlab',
      '--snmp-auth-protocol', 'sha256', '--snmp-auth-key-file', join(dir, 'snmpv3-auth-key'),
      '--snmp-priv-protocol', 'aes', '--snmp-priv-key-file', join(dir, 'snmpv3-priv-key'),
      '--against', inventory, '--log-level', 'debug',
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('discovered 4 devices and 3 links');
    expect(r.stderr).toContain('SNMPv3 user weftlab, authPriv (sha256/aes)');
    for (const f of ['snmpv3-auth-key', 'snmpv3-priv-key']) expect(r.stdout + r.stderr).not.toContain(readFileSync(join(dir, f), 'utf8').trim());
    // A wrong auth key gets nothing: the agent drops what it cannot authenticate.
    const wrongKey = join(dir, 'wrong-auth-key');
    writeFileSync(wrongKey, 'not-the-key-123\n');
    const bad = discover(['--seed', '172.20.30.3', '--snmp-user', 'weftlab', '--snmp-auth-protocol', 'sha256', '--snmp-auth-key-file', wrongKey, '--snmp-priv-key-file', join(dir, 'snmpv3-priv-key'), '--timeout-ms', '2000', '--retries', '0']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('no answer from 172.20.30.3');
  }, 240_000);

  it('stops at the device limit and says which addresses it did not ask', () => {
    const r = discover(['--seed', '172.20.30.4', '--snmp-community-file', join(dir, 'snmp-community'), '--max-devices', '2', '--concurrency', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as DiscoveredFabric & { skipped: string[] };
    expect(j.devices.map((d) => d.name)).toEqual(['host1', 'leaf1']);
    expect(j.skipped).toEqual(['172.20.30.3']);
    // leaf1's neighbour leaf2 was heard but not asked: reported, not written as a link.
    expect(j.links).toHaveLength(1);
    expect(j.unresolved).toEqual([{ at: { device: 'leaf1', port: 'eth1' }, neighbour: 'leaf2' }]);
  }, 240_000);

  it('learns a host over SSH alone, and refuses a host whose key known_hosts does not list', () => {
    const ok = discover(['--seed', '172.20.30.5', ...sshArgs(), '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const j = JSON.parse(ok.stdout) as DiscoveredFabric;
    expect(j.devices.map((d) => [d.name, d.kind, d.mgmt.address, d.mgmt.ssh?.user])).toEqual([['host2', 'host', '172.20.30.5', 'root']]);
    expect(j.devices[0].interfaces).toEqual(expect.arrayContaining(['eth1', 'eth2', 'mgmt0']));

    const wrong = join(dir, 'known_hosts_wrong');
    const other = readFileSync(join(dir, 'known_hosts'), 'utf8').split('\n')[0].split(' ').slice(1).join(' ');
    writeFileSync(wrong, `172.20.30.5 ${other}\n`);
    const refused = discover(['--seed', '172.20.30.5', ...sshArgs(wrong), '--json']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).failures[0].errors[0]).toMatch(/does not match the pinned .*refusing to connect/);
  }, 240_000);

  it('updates a hand-edited inventory: restores a missing link, keeps hand-set fields', () => {
    const mine = join(dir, 'mine.yaml');
    copyFileSync(inventory, mine);
    const text = readFileSync(mine, 'utf8');
    const edited = text.replace(/ {4}- endpoints:\n {8}- leaf1:eth1\n {8}- leaf2:eth1\n/, '');
    expect(edited).not.toBe(text);
    writeFileSync(mine, edited.replace('  devices:\n', '  devices:\n    # hand-set: a spare leaf not cabled yet\n    - {name: leaf9, kind: switch, pipeline: p4, capacity: {aclEntries: 99}}\n'));
    const r = discover(['--seed', '172.20.30.4', '--snmp-community-file', join(dir, 'snmp-community'), '--update', mine]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`updated ${mine}: 0 devices, 1 links`);
    const back = loadInventory(mine);
    expect(back.links).toHaveLength(3);
    expect(back.devices.find((d) => d.name === 'leaf9')?.capacity).toEqual({ aclEntries: 99 });
    expect(readFileSync(mine, 'utf8')).toContain('# hand-set: a spare leaf not cabled yet');
  }, 240_000);
});

describe.runIf(enabled)('weft discover on the example lab', () => {
  it('rebuilds the containerlab file exactly over SNMP and LLDP, the DPU and SmartNIC in front of their hosts', async () => {
    const example = join(repo, 'lab/topologies/example.clab.yml');
    const ex = labName('dex');
    try {
      await deploy(loadTopology(example), { name: ex });
      const r = discover(['--seed', '172.20.20.2', '--snmp-community-file', join(labDir(ex), 'snmp-community'), '--against', example, '--json'], {}, ex);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const j = JSON.parse(r.stdout) as DiscoveredFabric & { diff: FabricDiff };
      expect(j.diff.equal).toBe(true);
      const clab = loadInventory(example);
      expect(j.devices).toHaveLength(clab.devices.length);
      expect(j.links).toHaveLength(clab.links.length);
      expect(j.devices.find((d) => d.name === 'dpu3')).toMatchObject({ kind: 'dpu', profile: 'bluefield', attachedTo: 'host3' });
      expect(j.devices.find((d) => d.name === 'smartnic5')).toMatchObject({ kind: 'smartnic', profile: 'nfp', attachedTo: 'host5' });
      console.log(`discover example: ${j.devices.length} devices, ${j.links.length} links, equal to ${example}`);
    } finally {
      await destroy(ex);
      expect(leftovers(ex)).toEqual([]);
    }
  }, 400_000);
});
