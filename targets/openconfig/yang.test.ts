// The emitted RFC 7951 documents validate with yanglint (libyang) against
// the vendored OpenConfig models (yang/openconfig/): the example fabric's
// OpenConfig switches and a generated scenario, each in the defined-sets and
// the expanded form, with the interfaces their bindings reference. A broken
// set reference must fail, so the check can tell. Without yanglint the test
// skips with the reason; under CI=true it fails instead.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../inventory/load.ts';
import { buildIr } from '../../orchestrator/ir/build.ts';
import { packagePath } from '../../orchestrator/package-root.ts';
import { place } from '../../orchestrator/placement/place.ts';
import { loadPolicy } from '../../orchestrator/policy/load.ts';
import { generateScenario, makeRng } from '../../orchestrator/testing/generate.ts';
import type { CodegenInput } from '../contract.ts';
import { planAcl } from './codegen.ts';
import { aclDocumentJson, type AclConfig } from './model.ts';
import { nameableDenies, openconfigInputs } from './testing.ts';

const YANG_DIR = packagePath('yang', 'openconfig');
/** Modules whose identities appear in the data must be implemented, not only imported. */
const MODULES = [
  'openconfig-acl',
  'openconfig-defined-sets',
  'openconfig-interfaces',
  'iana-if-type',
  'openconfig-packet-match-types',
  'openconfig-icmpv4-types',
  'openconfig-icmpv6-types',
].map((m) => join(YANG_DIR, `${m}.yang`));

const probe = spawnSync('yanglint', ['--version'], { encoding: 'utf8' });
const why = probe.error ? `yanglint is not installed (Debian package libyang2-tools): ${probe.error.message}` : undefined;
if (why && process.env.CI === 'true') throw new Error(`openconfig yang validation cannot run: ${why}`);
if (why) console.log(`skipping openconfig yang validation: ${why}`);

const work = mkdtempSync(join(tmpdir(), `weft-yang-${process.pid}-`));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The acl document plus the openconfig-interfaces entries its bindings reference. */
function document(config: AclConfig): Record<string, unknown> {
  const names = [...new Set(config.interfaces.map((i) => i.iface))];
  return {
    ...aclDocumentJson(config),
    'openconfig-interfaces:interfaces': {
      interface: names.map((name) => ({ name, config: { name, type: 'iana-if-type:ethernetCsmacd' } })),
    },
  };
}

function yanglint(name: string, doc: Record<string, unknown>): { ok: boolean; errors: string } {
  const file = join(work, `${name}.json`);
  writeFileSync(file, JSON.stringify(doc));
  const r = spawnSync('yanglint', ['-p', YANG_DIR, '-t', 'config', ...MODULES, file], { encoding: 'utf8', timeout: 60_000 });
  // libyang warns about the models' own XPath style; only errors count.
  const errors = `${r.stdout}${r.stderr}`.split('\n').filter((l) => /err|YANGLINT\[E\]/.test(l) && !l.includes('libyang warn')).join('\n');
  return { ok: r.status === 0 && errors === '', errors };
}

function exampleInputs(): CodegenInput[] {
  const policy = loadPolicy(packagePath('examples', 'policy.yaml'));
  const fabric = loadInventory(packagePath('examples', 'fabric.yaml'));
  const ir = buildIr(policy, fabric);
  const placement = place(policy, fabric, ir);
  return fabric.devices.flatMap((device) => {
    const devicePlacement = placement.devices.find((d) => d.device === device.name);
    return device.pipeline === 'openconfig' && devicePlacement ? [{ policy, fabric, ir, placement, device, devicePlacement }] : [];
  });
}

const forms = [true, false] as const;
const withSets = (input: CodegenInput, definedSets: boolean): CodegenInput => ({ ...input, device: { ...input.device, capabilities: { definedSets } } });

describe.skipIf(why !== undefined)('openconfig output validates with yanglint', () => {
  it('the example fabric, with defined sets and expanded', () => {
    const inputs = exampleInputs().filter((i) => i.devicePlacement.interfaces.some((p) => p.role !== 'uplink'));
    expect(inputs.length).toBeGreaterThan(0);
    let documents = 0;
    for (const input of inputs) {
      for (const definedSets of forms) {
        const plan = planAcl(withSets(input, definedSets));
        expect(plan.config.definedSets !== undefined).toBe(definedSets);
        const r = yanglint(`example-${input.device.name}-${definedSets ? 'sets' : 'expanded'}`, document(plan.config));
        expect(r.errors).toBe('');
        expect(r.ok).toBe(true);
        documents++;
      }
    }
    console.log(`yanglint: ${documents} example documents valid`);
  });

  it('a generated scenario with port-sets, both forms; a dangling set reference is refused', () => {
    const sc = generateScenario(makeRng(23), { switches: 2 });
    const inputs = openconfigInputs(nameableDenies(sc.policy), sc.fabric);
    let portSets = 0;
    for (const input of inputs) {
      for (const definedSets of forms) {
        const plan = planAcl(withSets(input, definedSets));
        portSets += plan.stats.portSets;
        const r = yanglint(`generated-${input.device.name}-${definedSets}`, document(plan.config));
        expect(r.errors).toBe('');
        expect(r.ok).toBe(true);
      }
    }
    expect(portSets).toBeGreaterThan(0);
    const plan = planAcl(withSets(inputs[0], true));
    const broken = { ...plan.config, definedSets: { ...plan.config.definedSets!, prefixSets: plan.config.definedSets!.prefixSets.slice(1) } };
    const r = yanglint('dangling', document(broken));
    expect(r.ok).toBe(false);
    expect(r.errors).toMatch(/leafref/i);
  });
});
