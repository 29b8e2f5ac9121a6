// Rollout over the lab's real transports on the two-leaf lab: `weft lab
// apply` pushes every device (P4Runtime, gNMI, SSH + the shipped host agent,
// which lands in each host's own directory, outside the checkout) from the
// management namespace, the probe sees exactly the reference verdicts, a
// second apply changes nothing, and a host whose pinned key is wrong is
// refused (fail closed) and the run undone.

import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { labApply } from '../../lab/apply.ts';
import { deploy, destroy, inspect } from '../../lab/emulator.ts';
import { probeLab } from '../../lab/probe.ts';
import { labDir, mgmtNetnsName } from '../../lab/state.ts';
import { loadTopology } from '../../lab/topology.ts';
import { NODE_AGENT_DIR, WEFT_RUN } from '../../lab/services.ts';
import { DIST_AGENT_DIR, readAgentFiles } from '../../targets/host/agent-bundle.ts';
import { labName, leftovers, netnsExec, requireLab } from './helpers.ts';

const repo = resolve(import.meta.dirname, '../..');
const policyPath = join(repo, 'test/fixtures/lab-two-leaf/policy.yaml');
const enabled = requireLab();
const lab = labName('r');

afterAll(async () => {
  await destroy(lab);
});

describe.runIf(enabled)('lab rollout on two-leaf', () => {
  // A deploy and several applies (bmv2 leaves where available) outlast the default timeout on a shared machine.
  it('applies over every transport, probes clean, is idempotent, and fails closed on a wrong host key', async () => {
    const state = await deploy(loadTopology(join(repo, 'lab/topologies/two-leaf.clab.yml')), { name: lab });
    const first = await labApply({ lab, policyPath });
    expect(first.results.map((r) => `${r.device} ${r.transport} ${r.status}`).sort()).toEqual([
      'host1 ssh applied',
      'host2 ssh applied',
      'leaf1 p4runtime applied',
      'leaf2 gnmi applied',
    ]);
    expect(first.code).toBe(0);
    const shown = await inspect(lab);
    for (const r of first.results) expect(shown?.nodes.find((n) => n.name === r.device)?.applied).toBe(r.generation);
    // Each host got the agent files of the `weft` that pushed (dist/) in its private /run/weft (the node's run/ directory here).
    const manifest = readAgentFiles(DIST_AGENT_DIR);
    for (const h of ['host1', 'host2']) {
      for (const f of manifest.files) {
        const onNode = join(labDir(lab), 'nodes', h, 'run', relative(WEFT_RUN, NODE_AGENT_DIR), f.name);
        expect(createHash('sha256').update(readFileSync(onNode)).digest('hex'), onNode).toBe(f.sha256);
        expect(onNode.startsWith(repo)).toBe(false);
      }
    }

    const probe = await probeLab({ lab, policyPath, seed: 7, extraPorts: 3 });
    console.log(`two-leaf probe: ${probe.probes} probes, ${probe.differences} differences`);
    expect(probe.cells.filter((c) => c.expected !== c.observed)).toEqual([]);
    expect(probe.cells.some((c) => c.expected)).toBe(true);
    expect(probe.cells.some((c) => !c.expected)).toBe(true);

    const again = await labApply({ lab, policyPath });
    expect(again.results.every((r) => r.status === 'unchanged')).toBe(true);

    // A wrong pin for host1 (host2's key), compiled into a fresh bundle: the push to host1 is refused.
    const inventory = state.inventory as string;
    const doc = parseYaml(readFileSync(inventory, 'utf8')) as { spec: { devices: { name: string; mgmt: { ssh?: { hostKey: string } } }[] } };
    const h1 = doc.spec.devices.find((d) => d.name === 'host1');
    const h2 = doc.spec.devices.find((d) => d.name === 'host2');
    if (!h1?.mgmt.ssh || !h2?.mgmt.ssh) throw new Error('inventory lacks host ssh settings');
    h1.mgmt.ssh.hostKey = h2.mgmt.ssh.hostKey;
    const tampered = join(labDir(lab), 'tampered.yaml');
    writeFileSync(tampered, stringify(doc));
    const r = netnsExec(mgmtNetnsName(lab), [
      process.execPath, join(repo, 'bin/weft.js'), 'apply', '--inventory', tampered, '--policy', policyPath, '--state', join(labDir(lab), 'tampered-state.json'), '--json',
    ]);
    expect(r.code, r.err).toBe(1);
    const results = (JSON.parse(r.out) as { results: { device: string; status: string; detail: string }[] }).results;
    const host1 = results.find((x) => x.device === 'host1');
    expect(host1?.status).toBe('failed');
    expect(host1?.detail).toMatch(/does not match the pinned/);
    // The tampered run keeps its own state, where host2 ran nothing of Weft's: undoing the run removes what it put there.
    const host2 = results.find((x) => x.device === 'host2');
    expect(host2?.status).toBe('rolled-back');
    expect(host2?.detail).toMatch(/host1 failed: ran nothing of Weft's before: agent removed/);
    expect(`${r.out}${r.err}`).not.toContain('PRIVATE KEY');

    await destroy(lab);
    expect(leftovers(lab)).toEqual([]);
  }, 400_000);
});
