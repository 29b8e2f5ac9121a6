// Rollout history on the two-leaf lab: apply policy A, then B; `weft diff`
// names the change per device in each target's terms; `weft rollback` puts A
// back (the probe sees A's reference verdicts again); and an apply that fails
// on one host restores the devices it had already changed, so the fabric
// still runs A afterwards.

import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { labApply } from '../../lab/apply.ts';
import { deploy, destroy } from '../../lab/emulator.ts';
import { probeLab } from '../../lab/probe.ts';
import { labDir, mgmtNetnsName } from '../../lab/state.ts';
import { loadTopology } from '../../lab/topology.ts';
import { compileBundle } from '../../orchestrator/compile/driver.ts';
import type { DeviceDiff } from '../../orchestrator/rollout/diff.ts';
import type { DeviceResult, RolloutState } from '../../orchestrator/rollout/rollout.ts';
import { labName, leftovers, netnsExec, requireLab } from './helpers.ts';

const repo = resolve(import.meta.dirname, '../..');
const weft = join(repo, 'bin/weft.js');
const policyA = join(repo, 'test/fixtures/lab-two-leaf/policy.yaml');
const enabled = requireLab();
const lab = labName('b');

afterAll(async () => {
  await destroy(lab);
});

/** Policy B: A with web moved from port 80 to 443, b's ssh to a withdrawn, and rdp denied (a deny the switches' prefilters carry). */
function writePolicyB(path: string): void {
  type Rule = { name: string; from: string[]; to: string[]; ports: { protocol: string; port?: number | string }[]; action: string };
  const doc = parseYaml(readFileSync(policyA, 'utf8')) as { metadata: { name: string }; spec: { rules: Rule[] } };
  doc.metadata.name = 'two-leaf-b';
  const web = doc.spec.rules.find((r) => r.name === 'a-to-b-web');
  if (!web) throw new Error('fixture policy lacks a-to-b-web');
  web.ports = web.ports.map((p) => (p.port === 80 ? { ...p, port: 443 } : p));
  doc.spec.rules = doc.spec.rules.filter((r) => r.name !== 'b-to-a-ssh');
  doc.spec.rules.push({ name: 'no-rdp', from: ['any'], to: ['any'], ports: [{ protocol: 'tcp', port: 3389 }], action: 'deny' });
  writeFileSync(path, stringify(doc));
}

describe.runIf(enabled)('lab rollback on two-leaf', () => {
  // A deploy and several applies (bmv2 leaves where available) outlast the default timeout on a shared machine.
  it('diffs, rolls back to the previous generation, and restores a failed apply', async () => {
    const deployed = await deploy(loadTopology(join(repo, 'lab/topologies/two-leaf.clab.yml')), { name: lab });
    const inventory = deployed.inventory as string;
    const dir = labDir(lab);
    const statePath = join(dir, 'rollout.json');
    const policyB = join(dir, 'policy-b.yaml');
    writePolicyB(policyB);
    const mgmt = mgmtNetnsName(lab);
    const probeDiffs = async (policyPath: string): Promise<number> => {
      const p = await probeLab({ lab, policyPath, seed: 11, extraPorts: 2 });
      console.log(`probe against ${policyPath.endsWith('policy-b.yaml') ? 'B' : 'A'}: ${p.probes} probes, ${p.differences} differences`);
      return p.differences;
    };
    const diff = (policyPath: string): { code: number; devices: DeviceDiff[] } => {
      const r = netnsExec(mgmt, [process.execPath, weft, 'diff', '--inventory', inventory, '--policy', policyPath, '--state', statePath, '--json']);
      expect([0, 1], r.err).toContain(r.code);
      return { code: r.code, devices: (JSON.parse(r.out) as { devices: DeviceDiff[] }).devices };
    };
    const summary = (rs: DeviceResult[]): string[] => rs.map((r) => `${r.device} ${r.status}`).sort();
    // What the devices run, read back from them: per device its differences from a bundle's artefacts.
    const drift = (bundleDir: string): Record<string, string[]> => {
      const r = netnsExec(mgmt, [process.execPath, join(repo, 'bin/run-ts.js'), join(repo, 'test/lab/rollback-readback.run.ts'), bundleDir, join(dir, 'keys/client_ed25519')]);
      expect(r.code, r.err).toBe(0);
      return JSON.parse(r.out) as Record<string, string[]>;
    };
    const clean = { host1: [], host2: [], leaf1: [], leaf2: [] };

    // A, then B: both applied in full, each kept.
    expect((await labApply({ lab, policyPath: policyA })).code).toBe(0);
    const a = JSON.parse(readFileSync(statePath, 'utf8')) as RolloutState;
    expect(diff(policyA).code).toBe(0);

    const toB = diff(policyB);
    expect(toB.code).toBe(1);
    const byDevice = new Map(toB.devices.map((d) => [d.device, d]));
    expect([...byDevice.values()].map((d) => `${d.device} ${d.change}`).sort()).toEqual(['host1 changed', 'host2 changed', 'leaf1 changed', 'leaf2 changed']);
    for (const d of byDevice.values()) {
      if (d.change !== 'changed' || !d.artefacts) throw new Error(`${d.device}: no artefact diff`);
      expect(d.artefacts.added + d.artefacts.removed + d.artefacts.modified, d.device).toBeGreaterThan(0);
    }
    const artefactSummary = (name: string): string | undefined => {
      const d = byDevice.get(name);
      return d?.change === 'changed' ? d.artefacts?.summary : undefined;
    };
    expect(artefactSummary('leaf1')).toMatch(/^table entries: /);
    expect(artefactSummary('leaf2')).toMatch(/^acl entries /);
    expect(artefactSummary('host1')).toMatch(/^maps.json: rules /);
    expect(artefactSummary('host2')).toMatch(/^maps.json: rules /);
    const human = netnsExec(mgmt, [process.execPath, weft, 'diff', '--inventory', inventory, '--policy', policyB, '--state', statePath]);
    expect(human.code).toBe(1);
    expect(human.out).toMatch(/leaf1 +p4 +changed .*table entries: \d+ inserted/);
    expect(human.out).toContain('4 changed, 0 added, 0 removed, 0 unchanged');

    expect((await labApply({ lab, policyPath: policyB })).code).toBe(0);
    expect(await probeDiffs(policyB)).toBe(0);
    expect(await probeDiffs(policyA)).toBeGreaterThan(0);
    expect(diff(policyB).code).toBe(0);
    const b = JSON.parse(readFileSync(statePath, 'utf8')) as RolloutState;
    expect(b.generations?.map((g) => g.digest)).toEqual([a.current, b.current]);
    const keptA = join(dir, 'bundles', a.current as string);
    const runningB = drift(keptA);
    for (const d of ['host1', 'host2', 'leaf1', 'leaf2']) expect(runningB[d].length, d).toBeGreaterThan(0);

    // Rollback: A again on every device, through the same apply path.
    const rb = netnsExec(mgmt, [process.execPath, weft, 'rollback', '--inventory', inventory, '--state', statePath, '--json']);
    expect(rb.code, rb.err).toBe(0);
    const rbOut = JSON.parse(rb.out) as { generation: string; results: DeviceResult[] };
    expect(rbOut.generation).toBe(a.current);
    expect(summary(rbOut.results)).toEqual(['host1 applied', 'host2 applied', 'leaf1 applied', 'leaf2 applied']);
    expect(await probeDiffs(policyA)).toBe(0);
    expect(drift(keptA)).toEqual(clean);
    expect(diff(policyA).code).toBe(0);
    const afterRb = JSON.parse(readFileSync(statePath, 'utf8')) as RolloutState;
    expect(afterRb.current).toBe(a.current);
    for (const [name, d] of Object.entries(afterRb.devices)) expect(d, name).toMatchObject({ generation: a.devices[name].generation, bundle: a.current });
    const bad = netnsExec(mgmt, [process.execPath, weft, 'rollback', '--inventory', inventory, '--state', statePath, '--to', 'ffffffffffff']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/no kept generation starts with/);

    // B again, compiled against an inventory pinning the wrong key for host2:
    // the switches and host1 take B, host2 refuses, and the run puts A back on the three.
    const doc = parseYaml(readFileSync(inventory, 'utf8')) as { spec: { devices: { name: string; mgmt: { ssh?: { hostKey: string } } }[] } };
    const h1 = doc.spec.devices.find((d) => d.name === 'host1');
    const h2 = doc.spec.devices.find((d) => d.name === 'host2');
    if (!h1?.mgmt.ssh || !h2?.mgmt.ssh) throw new Error('inventory lacks host ssh settings');
    h2.mgmt.ssh.hostKey = h1.mgmt.ssh.hostKey;
    const tampered = join(dir, 'tampered.yaml');
    writeFileSync(tampered, stringify(doc));
    const tamperedB = join(dir, 'bundle-b-tampered');
    await compileBundle({ policyPath: policyB, inventoryPath: tampered, outDir: tamperedB });
    const failed = netnsExec(mgmt, [process.execPath, weft, 'apply', '--inventory', tampered, '--bundle', tamperedB, '--state', statePath, '--json']);
    expect(failed.code, failed.err).toBe(1);
    const failedResults = (JSON.parse(failed.out) as { results: DeviceResult[] }).results;
    expect(summary(failedResults)).toEqual(['host1 rolled-back', 'host2 failed', 'leaf1 rolled-back', 'leaf2 rolled-back']);
    expect(failedResults.find((r) => r.device === 'host2')?.detail).toMatch(/does not match the pinned/);
    for (const r of failedResults.filter((x) => x.status === 'rolled-back')) {
      expect(r.generation).toBe(a.devices[r.device].generation);
      expect(r.detail).toMatch(/host2 failed: restored/);
    }
    expect(await probeDiffs(policyA)).toBe(0);
    expect(drift(keptA)).toEqual(clean);
    const afterFail = JSON.parse(readFileSync(statePath, 'utf8')) as RolloutState;
    expect(afterFail.devices).toEqual(afterRb.devices);
    expect(afterFail.current).toBe(a.current);
    expect(diff(policyA).code).toBe(0);

    await destroy(lab);
    expect(leftovers(lab)).toEqual([]);
  }, 400_000);
});
