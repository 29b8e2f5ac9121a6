// The netns emulator on the two-leaf topology: deploy (namespaces, veths,
// management network, sshd/snmpd with pinned keys, switch agents), inspect,
// real packets across the fabric, destroy leaving nothing; two labs side by
// side; destroy after a crash.

import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { deploy, destroy, inspect } from '../../lab/emulator.ts';
import { labDir, mgmtNetnsName, netnsName, readState } from '../../lab/state.ts';
import { loadTopology } from '../../lab/topology.ts';
import { labName, leftovers, netnsExec, requireLab } from './helpers.ts';

const repo = resolve(import.meta.dirname, '../..');
const twoLeaf = join(repo, 'lab/topologies/two-leaf.clab.yml');
const enabled = requireLab();
const made: string[] = [];

afterAll(async () => {
  for (const lab of made) await destroy(lab);
});

function ping(lab: string, from: string, to: string): boolean {
  return netnsExec(netnsName(lab, from), ['ping', '-n', '-q', '-c', '1', '-W', '2', to]).code === 0;
}

interface InvDevice {
  name: string;
  mgmt: { address: string; ssh?: { hostKey: string; identityFile: string } };
}

/** ssh from the management namespace with StrictHostKeyChecking against the pinned key only. */
function sshWithPinnedKey(lab: string, device: string, pinnedOverride?: string): { code: number; out: string; err: string } {
  const state = readState(lab);
  const inv = parseYaml(readFileSync(state?.inventory as string, 'utf8')) as { spec: { devices: InvDevice[] } };
  const d = inv.spec.devices.find((x) => x.name === device) as InvDevice;
  const known = join(labDir(lab), `known_hosts_test_${device}`);
  writeFileSync(known, `${d.mgmt.address} ${pinnedOverride ?? d.mgmt.ssh?.hostKey}\n`);
  try {
    return netnsExec(mgmtNetnsName(lab), [
      'ssh', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${known}`, '-o', 'ConnectTimeout=5',
      '-i', join(labDir(lab), d.mgmt.ssh?.identityFile as string), `root@${d.mgmt.address}`, 'ip -o link show mgmt0; mount -t bpf; ls /run/weft',
    ]);
  } finally {
    rmSync(known, { force: true });
  }
}

describe.runIf(enabled)('lab emulator', () => {
  it('deploys, inspects and destroys the two-leaf topology, leaving nothing', async () => {
    const lab = labName('a');
    made.push(lab);
    const t0 = performance.now();
    // The emulated P4 agent here; test/lab/bmv2.test.ts runs the leaf on bmv2.
    const state = await deploy(loadTopology(twoLeaf), { name: lab, p4: 'emulated' });
    const deploySeconds = (performance.now() - t0) / 1000;
    expect(state.phase).toBe('ready');

    const r = await inspect(lab);
    expect(r?.nodes.map((n) => n.name).sort()).toEqual(['ep-a', 'ep-b', 'host1', 'host2', 'leaf1', 'leaf2']);
    for (const n of r?.nodes ?? []) {
      expect(n.present).toBe(true);
      for (const s of n.services) expect(s.running, `${n.name}/${s.service}`).toBe(true);
    }
    const services = (r?.nodes ?? []).flatMap((n) => n.services.map((s) => `${n.name}/${s.service}`)).sort();
    expect(services).toEqual([
      'host1/lldpd', 'host1/snmpd', 'host1/sshd',
      'host2/lldpd', 'host2/snmpd', 'host2/sshd',
      'leaf1/lldpd', 'leaf1/p4runtime-agent', 'leaf1/snmpd',
      'leaf2/gnmi-agent', 'leaf2/lldpd', 'leaf2/snmpd',
    ]);

    // Real packets across host1 - leaf1 - leaf2 - host2, both families.
    expect(ping(lab, 'ep-a', '10.1.0.2')).toBe(true);
    expect(ping(lab, 'ep-a', 'fd01::2')).toBe(true);
    expect(ping(lab, 'ep-b', '10.1.0.1')).toBe(true);

    // Nothing of the lab in the root namespace: no veth, no bridge.
    const rootLinks = execFileSync('ip', ['-o', 'link', 'show']).toString();
    expect(rootLinks).not.toContain(`weft-lab:${lab}`);

    // sshd answers on the management network with the pinned key and no other; bpffs is mounted for the agent.
    const ok = sshWithPinnedKey(lab, 'host1');
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain('mgmt0');
    expect(ok.out).toContain('bpf');
    const wrong = sshWithPinnedKey(lab, 'host1', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOzg2qgA8/9s7bJDJuCpO7fJj1VcU3b6zrdXjVtY8c9P');
    expect(wrong.code).not.toBe(0);

    // snmpd answers with the lab's community from inside the management namespace.
    const community = readFileSync(join(labDir(lab), 'snmp-community'), 'utf8').trim();
    const snmp = netnsExec(mgmtNetnsName(lab), [process.execPath, '-e', snmpGetScript(state.nodes.find((n) => n.name === 'host1')?.mgmtIpv4 as string, community)]);
    expect(snmp.out.trim()).toBe('host1');

    const t1 = performance.now();
    const d = await destroy(lab);
    const destroySeconds = (performance.now() - t1) / 1000;
    expect(d.namespaces.length).toBe(7);
    expect(leftovers(lab)).toEqual([]);
    console.log(`lab two-leaf: deploy ${deploySeconds.toFixed(1)}s, destroy ${destroySeconds.toFixed(1)}s, ${d.namespaces.length} namespaces, ${d.processes} processes`);
    // Idempotent.
    const again = await destroy(lab);
    expect(again.namespaces).toEqual([]);
  });

  // Two deploys (bmv2 leaves where available) on a shared machine take longer than the default timeout.
  it('runs two labs of one topology side by side without collisions', async () => {
    const a = labName('b');
    const b = labName('c');
    made.push(a, b);
    const topo = loadTopology(twoLeaf);
    await deploy(topo, { name: a });
    await deploy(topo, { name: b });
    // Same management subnet in both, each in its own namespace.
    expect(readState(a)?.mgmtSubnet).toBe(readState(b)?.mgmtSubnet);
    expect(ping(a, 'ep-a', '10.1.0.2')).toBe(true);
    expect(ping(b, 'ep-a', '10.1.0.2')).toBe(true);
    // A second deploy of a running lab is refused, not merged.
    await expect(deploy(topo, { name: a })).rejects.toThrow(/already deployed/);
    await destroy(a);
    expect(leftovers(a)).toEqual([]);
    expect(ping(b, 'ep-b', 'fd01::1')).toBe(true);
    expect((await inspect(b))?.nodes.every((n) => n.present)).toBe(true);
    await destroy(b);
    expect(leftovers(b)).toEqual([]);
  }, 400_000);

  it('deploys a containerlab file without weft labels, kinds mapping to roles', async () => {
    const lab = labName('p');
    made.push(lab);
    await deploy(loadTopology(join(repo, 'lab/topologies/plain.clab.yml')), { name: lab });
    const r = await inspect(lab);
    const roles = Object.fromEntries((r?.nodes ?? []).map((n) => [n.name, `${n.role} ${n.services.map((s) => `${s.service}:${s.running}`).join(',')}`.trim()]));
    expect(roles).toEqual({
      srl1: 'switch/openconfig gnmi-agent:true,snmpd:true,lldpd:true',
      srv1: 'host sshd:true,snmpd:true,lldpd:true',
      srv2: 'host sshd:true,snmpd:true,lldpd:true',
      br1: 'bridge',
    });
    await destroy(lab);
    expect(leftovers(lab)).toEqual([]);
  });

  it('destroys a lab whose processes were killed and whose state file was lost', async () => {
    const lab = labName('d');
    made.push(lab);
    const state = await deploy(loadTopology(twoLeaf), { name: lab });
    for (const p of state.processes) process.kill(p.pid, 'SIGKILL');
    // The crash also took the state file: destroy must find the namespaces by their tag.
    rmSync(join(labDir(lab), 'state.json'));
    const d = await destroy(lab);
    expect(d.namespaces.length).toBe(7);
    expect(leftovers(lab)).toEqual([]);
  });
});

/** A one-shot SNMP GET of sysName.0 with net-snmp, run inside the management namespace. */
function snmpGetScript(address: string, community: string): string {
  return `
const snmp = require(${JSON.stringify(join(repo, 'node_modules/net-snmp'))});
const s = snmp.createSession(${JSON.stringify(address)}, ${JSON.stringify(community)}, { timeout: 2000, retries: 1 });
s.get(['1.3.6.1.2.1.1.5.0'], (err, vbs) => { console.log(err ? 'error ' + err.message : String(vbs[0].value)); s.close(); });
`;
}
