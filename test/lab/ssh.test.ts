// The rollout's SSH transport against a lab's real sshd, from the lab's
// management namespace: pinned host key accepted, any other key or no pin
// refused (fail closed), SFTP upload and remote exec with exit codes.

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { deploy, destroy } from '../../lab/emulator.ts';
import { labDir, mgmtNetnsName } from '../../lab/state.ts';
import { loadTopology } from '../../lab/topology.ts';
import { fingerprint } from '../../orchestrator/rollout/ssh.ts';
import { labName, leftovers, netnsExec, requireLab } from './helpers.ts';

const repo = resolve(import.meta.dirname, '../..');
const enabled = requireLab();
const lab = labName('s');

afterAll(async () => {
  await destroy(lab);
});

describe.runIf(enabled)('rollout ssh transport', () => {
  it('checks the pinned host key, uploads and runs commands', async () => {
    const state = await deploy(loadTopology(join(repo, 'test/fixtures/lab-hosts/hosts.clab.yml')), { name: lab });
    const inv = parseYaml(readFileSync(state.inventory as string, 'utf8')) as { spec: { devices: { name: string; mgmt: { address: string; ssh: { hostKey: string; identityFile: string } } }[] } };
    const host1 = inv.spec.devices.find((d) => d.name === 'host1');
    const host2 = inv.spec.devices.find((d) => d.name === 'host2');
    if (!host1 || !host2) throw new Error('inventory lacks host1/host2');
    // host2's key is a valid key, just not host1's.
    const r = netnsExec(mgmtNetnsName(lab), [
      process.execPath, join(repo, 'bin/run-ts.js'), join(repo, 'test/lab/ssh-session.run.ts'),
      host1.mgmt.address, join(labDir(lab), host1.mgmt.ssh.identityFile), host1.mgmt.ssh.hostKey, host2.mgmt.ssh.hostKey,
    ]);
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out.trim().split('\n').pop() as string) as Record<string, unknown>;
    expect(out.uploaded).toBe(2);
    const exec = out.exec as { code: number; stdout: string };
    expect(exec.code).toBe(0);
    // The session runs inside host1's namespace: its management interface is there.
    expect(exec.stdout).toMatch(/^\[1,2,3\]\nmgmt0@\w+:\n$/);
    expect(out.exitCode).toBe(3);
    expect(out.wrong).toBe('refused');
    expect(out.missing).toBe('refused');
    // The same check by fingerprint form.
    const blob = Buffer.from(host1.mgmt.ssh.hostKey.split(' ')[1], 'base64');
    expect(fingerprint(blob)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    await destroy(lab);
    expect(leftovers(lab)).toEqual([]);
  });
});
