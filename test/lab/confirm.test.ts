// Commit-confirmed in the two-leaf lab, over the real transports from the
// management namespace: policy A applied, then policy B with
// --confirm-within; the orchestrator is killed (SIGKILL, by a failpoint)
// right after its last push and nobody confirms. By the deadline every
// device is on A again on its own: the hosts by their agent's timer, the OpenConfig switch by the gNMI
// commit-confirmed extension, the P4 switch by the watchdog. Shown by
// read-back (`weft status`), by the journal, and by `weft lab probe`
// matching A's reference verdicts. Then the confirmed path: B applied with
// --confirm-within and confirmed stays past the deadline.

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { compileBundle } from '../../orchestrator/compile/driver.ts';
import { readBundle, type Bundle } from '../../orchestrator/compile/bundle.ts';
import { bundleDigest } from '../../orchestrator/rollout/history.ts';
import { lastRun, readJournal } from '../../orchestrator/rollout/journal.ts';
import type { DeviceStatus } from '../../orchestrator/rollout/status.ts';
import { labApply } from '../../lab/apply.ts';
import { deploy, destroy } from '../../lab/emulator.ts';
import { probeLab } from '../../lab/probe.ts';
import { labDir, mgmtNetnsName } from '../../lab/state.ts';
import { loadTopology } from '../../lab/topology.ts';
import { labName, leftovers, netnsExec, requireLab } from './helpers.ts';
import { FAILPOINTS } from '../../orchestrator/failpoint.ts';

const repo = resolve(import.meta.dirname, '../..');
const policyA = join(repo, 'test/fixtures/lab-two-leaf/policy.yaml');
const enabled = requireLab();
const lab = labName('c');
/** Long enough for the whole rollout on a busy machine, short enough to wait out. */
const WITHIN_S = 60;

afterAll(async () => {
  await destroy(lab);
});

/** Policy B: A with a deny of a->b tcp/80 first, so every device's share changes (switch prefilters hold deny rules) and the probe sees it. */
function writePolicyB(dir: string): string {
  const doc = parseYaml(readFileSync(policyA, 'utf8')) as { metadata: { name: string }; spec: { rules: unknown[] } };
  doc.metadata.name = 'two-leaf-b';
  doc.spec.rules.unshift({ name: 'no-web-80', from: ['a'], to: ['b'], ports: [{ protocol: 'tcp', port: 80 }], action: 'deny' });
  const path = join(dir, 'policy-b.yaml');
  writeFileSync(path, stringify(doc));
  return path;
}

async function until(what: string, ms: number, f: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(200);
  }
}

describe.runIf(enabled)('commit-confirmed in the two-leaf lab', () => {
  it('puts every device back on A by itself when B is never confirmed, and keeps B once confirmed', { timeout: 900_000 }, async () => {
    const state = await deploy(loadTopology(join(repo, 'lab/topologies/two-leaf.clab.yml')), { name: lab });
    const inventory = state.inventory as string;
    const mgmt = mgmtNetnsName(lab);
    const statePath = join(labDir(lab), 'rollout.json');
    const weftArgv = (args: string[]): string[] => [process.execPath, join(repo, 'bin/weft.js'), ...args, '--inventory', inventory, '--state', statePath];
    const weft = (args: string[]) => netnsExec(mgmt, weftArgv(args), 180_000);
    const readBack = (b: Bundle): DeviceStatus[] => {
      const r = weft(['status', '--bundle', b.dir, '--json']);
      return (JSON.parse(r.out) as { devices: DeviceStatus[] }).devices;
    };
    const offSync = (b: Bundle): string[] => readBack(b).filter((d) => d.state !== 'in-sync').map((d) => `${d.device} ${d.state} ${d.differences.slice(0, 2).join('; ')} ${d.detail ?? ''}`);

    const first = await labApply({ lab, policyPath: policyA });
    expect(first.code).toBe(0);
    const a = await readBundle(first.bundle);
    const policyB = writePolicyB(labDir(lab));
    const bDir = join(labDir(lab), 'bundle-b');
    await compileBundle({ policyPath: policyB, inventoryPath: inventory, outDir: bDir });
    const b = await readBundle(bDir);
    const changed = b.manifest.devices.filter((d) => a.manifest.devices.find((x) => x.name === d.name)?.generation !== d.generation).map((d) => d.name).sort();
    expect(changed).toEqual(['host1', 'host2', 'leaf1', 'leaf2']);

    // B with a deadline; the orchestrator dies right after its last push.
    const t0 = Date.now();
    const before = lastRun(readJournal(statePath))?.run;
    // The failpoint kills the apply with SIGKILL right after its last read-back, before it marks the run complete.
    const child = spawn('ip', ['netns', 'exec', mgmt, ...weftArgv(['apply', '--bundle', bDir, '--confirm-within', `${WITHIN_S}s`])], {
      stdio: 'ignore',
      env: { ...process.env, WEFT_FAILPOINTS: FAILPOINTS.rolloutBeforeComplete },
    });
    const signal = await new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, sig) => r(sig)));
    expect(signal).toBe('SIGKILL');
    const run0 = lastRun(readJournal(statePath));
    expect(run0?.run).not.toBe(before);
    expect(run0?.bundle).toBe(bundleDigest(b));
    expect(run0?.devices.map((d) => `${d.device} ${d.runs}`).sort()).toEqual(['host1 new', 'host2 new', 'leaf1 new', 'leaf2 new']);
    const killedAt = Date.now() - t0;
    console.log(`lab: orchestrator killed ${killedAt} ms after start, every device pushed`);
    expect(offSync(b)).toEqual([]);

    // Never confirmed: wait for the deadline and for the watchdog to close the run.
    await until('the run to end at the deadline', WITHIN_S * 1000 + 90_000, () => lastRun(readJournal(statePath))?.ended === true);
    console.log(`lab: run ended ${Date.now() - t0} ms after start (deadline ${WITHIN_S * 1000} ms)`);
    const run = lastRun(readJournal(statePath));
    expect(run?.outcome).toBe('restored');
    const restored = readJournal(statePath).filter((x) => x.run === run?.run && x.step === 'restored');
    const how = Object.fromEntries(restored.map((x) => [x.device, x.detail ?? '']));
    console.log(`lab: ${JSON.stringify(how)}`);
    for (const d of ['host1', 'host2', 'leaf2']) expect(how[d], d).toMatch(/went back to .* by itself/);
    expect(how.leaf1).toMatch(/^watchdog: restored/);
    expect(offSync(a)).toEqual([]);
    const probeA = await probeLab({ lab, policyPath: policyA, seed: 11, extraPorts: 2 });
    console.log(`lab: probe against A after the deadline: ${probeA.probes} probes, ${probeA.differences} differences`);
    expect(probeA.cells.filter((c) => c.expected !== c.observed)).toEqual([]);

    // The confirmed path: B stays past its deadline.
    const short = 80;
    const applied = weft(['apply', '--bundle', bDir, '--confirm-within', `${short}s`, '--json']);
    expect(applied.code, applied.err).toBe(0);
    const confirmedAt = Date.now();
    const confirmed = weft(['confirm', '--json']);
    expect(confirmed.code, confirmed.err).toBe(0);
    expect((JSON.parse(confirmed.out) as { devices: { device: string; status: string }[] }).devices.map((d) => `${d.device} ${d.status}`).sort()).toEqual([
      'host1 confirmed',
      'host2 confirmed',
      'leaf1 confirmed',
      'leaf2 confirmed',
    ]);
    await sleep(Math.max(0, short * 1000 + 5000 - (Date.now() - confirmedAt)));
    expect(offSync(b)).toEqual([]);
    const probeB = await probeLab({ lab, policyPath: policyB, seed: 11, extraPorts: 2 });
    console.log(`lab: probe against B after its deadline, confirmed: ${probeB.probes} probes, ${probeB.differences} differences`);
    expect(probeB.cells.filter((c) => c.expected !== c.observed)).toEqual([]);
    // The two probes tell A from B: some flow A allows, B denies (and it was seen so each time).
    const key = (c: { src: string; dst: string; srcAddr: string; dstAddr: string; service: string }): string => `${c.srcAddr}>${c.dstAddr} ${c.service}`;
    const underA = new Map(probeA.cells.map((c) => [key(c), c.observed]));
    expect(probeB.cells.some((c) => underA.get(key(c)) === true && c.observed === false)).toBe(true);

    await destroy(lab);
    expect(leftovers(lab)).toEqual([]);
  });
});
