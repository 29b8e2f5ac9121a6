// Recompiling into a previous bundle (reuse.ts): after each of many random
// edits to the policy and the inventory, the bundle a recompile leaves at
// --out is byte for byte the bundle a fresh compile of the edited files
// writes, manifest included; devices the edit did not reach keep their
// artefacts without codegen.

import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SHAPE_DEFAULTS, scenarioToYaml, shapeYaml } from '../../bench/scenarios.ts';
import type { Fabric } from '../../inventory/model.ts';
import type { Policy } from '../policy/model.ts';
import { generateScenario, makeRng, type Rng } from '../testing/generate.ts';
import { compileBundle } from './driver.ts';
import { fileTree } from '../testing/file-tree.ts';

const work = mkdtempSync(join(tmpdir(), 'weft-reuse-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Edit = { what: string; apply: (p: Policy, f: Fabric) => void };

/** One random edit of the kinds users make, on the parsed model (re-rendered as files by scenarioToYaml). */
function randomEdit(rng: Rng, policy: Policy, fabric: Fabric, serial: number): Edit {
  const rule = () => policy.rules[rng.int(0, policy.rules.length - 1)];
  const endpoint = () => fabric.endpoints[rng.int(0, fabric.endpoints.length - 1)];
  const hosts = fabric.devices.filter((d) => d.kind === 'host').map((d) => d.name);
  const edits: Edit[] = [
    { what: 'nothing', apply: () => {} },
    {
      what: 'a rule port',
      apply: () => {
        const r = rule();
        r.ports = [{ protocol: 'tcp', lo: 1000 + serial, hi: 1000 + serial + rng.int(0, 40), span: r.span }];
      },
    },
    { what: 'a rule action', apply: () => void ((r) => (r.action = r.action === 'allow' ? 'deny' : 'allow'))(rule()) },
    { what: 'a rule log flag', apply: () => void ((r) => (r.log = !r.log))(rule()) },
    {
      what: 'a rule inserted',
      apply: () => {
        const r = rule();
        policy.rules.splice(rng.int(0, policy.rules.length), 0, { ...r, name: `added-${serial}`, ports: [{ protocol: 'udp', lo: 53, hi: 53, span: r.span }] });
      },
    },
    { what: 'a rule deleted', apply: () => void (policy.rules.length > 2 && policy.rules.splice(rng.int(0, policy.rules.length - 1), 1)) },
    {
      what: 'a rule destination',
      apply: () => {
        const names = [...policy.groups.keys()];
        const r = rule();
        r.to = [{ kind: 'group', name: names[rng.int(0, names.length - 1)], span: r.span }];
      },
    },
    {
      what: 'an endpoint label',
      apply: () => {
        const e = endpoint();
        e.labels = { ...e.labels, app: ['web', 'api', 'db', 'cache', 'ops'][rng.int(0, 4)] };
      },
    },
    {
      what: 'an endpoint moved to another host',
      apply: () => {
        const e = endpoint();
        if (e.host !== undefined) e.host = hosts[rng.int(0, hosts.length - 1)];
      },
    },
    { what: 'the default action', apply: () => void (policy.defaultAction = policy.defaultAction === 'allow' ? 'deny' : 'allow') },
  ];
  return edits[rng.int(0, edits.length - 1)];
}

interface Counts {
  reused: number;
  compiled: number;
  /** Hosts and DPUs compiled (switches read the whole policy, so any edit compiles them). */
  hostsCompiled: number;
}

async function compileBoth(policyText: string, fabricText: string, dir: string, counts: Counts): Promise<'compiled' | 'refused'> {
  const policyPath = join(dir, 'policy.yaml');
  const inventoryPath = join(dir, 'fabric.yaml');
  writeFileSync(policyPath, policyText);
  writeFileSync(inventoryPath, fabricText);
  const attempt = async (outDir: string, reuse: boolean): Promise<unknown> => {
    try {
      await compileBundle({
        policyPath,
        inventoryPath,
        outDir,
        reuse,
        threads: 1,
        onDevice: (d) => {
          if (!reuse) return;
          counts[d.reused ? 'reused' : 'compiled']++;
          if (!d.reused && (d.target === 'host' || d.target === 'dpu')) counts.hostsCompiled++;
        },
      });
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  };
  const fresh = await attempt(join(dir, 'fresh'), false);
  const again = await attempt(join(dir, 'incremental'), true);
  expect(again).toEqual(fresh);
  if (fresh !== undefined) return 'refused';
  expect(fileTree(join(dir, 'incremental'))).toEqual(fileTree(join(dir, 'fresh')));
  return 'compiled';
}

describe('recompile into a previous bundle', () => {
  it('leaves the bundle a fresh compile writes, after random edits of every kind', async () => {
    const SEEDS = 5;
    const EDITS = 10;
    const counts = { reused: 0, compiled: 0, hostsCompiled: 0 };
    const kinds = new Map<string, number>();
    let compared = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const rng = makeRng(7000 + seed);
      const { policy, fabric } = generateScenario(rng, { hosts: 8, switches: 2 });
      // ICMP codes are left out: the generator draws some that a policy file
      // (a code without a type) or an OpenConfig switch (no identity for it)
      // refuses, and a refused compile compares nothing.
      for (const r of policy.rules) for (const m of r.ports) if (m.protocol === 'icmp' || m.protocol === 'icmpv6') delete m.code;
      const dir = join(work, `seed-${seed}`);
      mkdirSync(dir, { recursive: true });
      const files = () => scenarioToYaml(policy, fabric);
      await compileBoth(files().policy, files().fabric, dir, { reused: 0, compiled: 0, hostsCompiled: 0 });
      for (let k = 0; k < EDITS; k++) {
        const edit = randomEdit(rng, policy, fabric, k);
        edit.apply(policy, fabric);
        kinds.set(edit.what, (kinds.get(edit.what) ?? 0) + 1);
        if ((await compileBoth(files().policy, files().fabric, dir, counts)) === 'compiled') compared++;
      }
    }
    console.log(
      `reuse: ${SEEDS * EDITS} edits (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}), ${compared} bundles compared byte for byte; ${counts.reused} devices reused, ${counts.compiled} compiled`,
    );
    expect(compared).toBeGreaterThan(SEEDS * EDITS * 0.7);
    expect(counts.reused).toBeGreaterThan(0);
    expect(counts.compiled).toBeGreaterThan(0);
  }, 600_000);

  it('regenerates only the hosts a one-rule edit reaches, and keeps the rest', async () => {
    // An app's endpoints spread over a few of the 46 hosts, as over ~50 of 900 in a data center.
    const files = shapeYaml('correlated', { ...SHAPE_DEFAULTS, rules: 150, endpoints: 1200, devices: 100, apps: 400 });
    const dir = join(work, 'shape');
    mkdirSync(dir, { recursive: true });
    await compileBoth(files.policy, files.fabric, dir, { reused: 0, compiled: 0, hostsCompiled: 0 });
    // The first rule between two apps, given another port.
    const lines = files.policy.split('\n');
    const at = lines.findIndex((l) => /from: \[app\d+\], to: \[app\d+\]/.test(l) && /port: \d+/.test(l));
    expect(at).toBeGreaterThan(0);
    lines[at] = lines[at].replace(/port: \d+/, 'port: 2999');
    const counts = { reused: 0, compiled: 0, hostsCompiled: 0 };
    expect(await compileBoth(lines.join('\n'), files.fabric, dir, counts)).toBe('compiled');
    const devices = readdirSync(join(dir, 'fresh', 'devices')).length;
    console.log(
      `reuse, one rule's port edited: of ${devices} devices, ${counts.reused} reused, ${counts.compiled} compiled (${counts.hostsCompiled} hosts and DPUs, the rest switches)`,
    );
    expect(counts.hostsCompiled).toBeGreaterThan(0);
    expect(counts.reused).toBeGreaterThan(counts.hostsCompiled);
  }, 600_000);
});
