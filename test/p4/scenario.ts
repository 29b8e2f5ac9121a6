// A generated fabric and policy and one P4 switch of it, with the switch's
// artefacts written by the P4 target's own codegen (never written by hand),
// so the tests follow the program and its entries as they change.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Device, Fabric } from '../../inventory/model.ts';
import type { Policy } from '../../orchestrator/policy/model.ts';
import { buildIr } from '../../orchestrator/ir/build.ts';
import { place } from '../../orchestrator/placement/place.ts';
import type { DevicePlacement } from '../../orchestrator/placement/model.ts';
import { generateScenario, makeRng } from '../../orchestrator/testing/generate.ts';
import { portNumber } from '../../targets/p4/codegen.ts';
import { p4Target } from '../../targets/p4/index.ts';

export interface P4Scenario {
  policy: Policy;
  fabric: Fabric;
  device: Device;
  dp: DevicePlacement;
  /** P4 port numbers of the switch's interfaces. */
  ports: number[];
  exactPorts: string[];
  prefilterPorts: string[];
}

/** The first P4 switch of the scenario generated from `seed` that has both exact and prefilter ports. */
export function p4Scenario(seed: number): P4Scenario {
  const { policy, fabric } = generateScenario(makeRng(seed));
  const ir = buildIr(policy, fabric);
  const devices = place(policy, fabric, ir).devices.filter((d) => d.target === 'p4');
  const dp = devices.find((d) => d.interfaces.some((i) => i.role === 'unmanaged-endpoint') && d.interfaces.some((i) => i.role !== 'unmanaged-endpoint')) ?? devices[0];
  if (!dp) throw new Error(`seed ${seed}: no P4 switch in the scenario`);
  const device = fabric.devices.find((d) => d.name === dp.device)!;
  return {
    policy,
    fabric,
    device,
    dp,
    ports: dp.interfaces.map((i) => portNumber(i.name)),
    exactPorts: dp.interfaces.filter((i) => i.role === 'unmanaged-endpoint').map((i) => i.name),
    prefilterPorts: dp.interfaces.filter((i) => i.role !== 'unmanaged-endpoint').map((i) => i.name),
  };
}

/** The same fabric under a changed policy: every third rule dropped. */
export function changedPolicy(s: P4Scenario): P4Scenario {
  const rules = s.policy.rules.filter((_, i) => i % 3 !== 1).map((r, i) => ({ ...r, index: i }));
  const policy: Policy = { ...s.policy, rules, digest: `${s.policy.digest}-changed` };
  const ir = buildIr(policy, s.fabric);
  const dp = place(policy, s.fabric, ir).devices.find((d) => d.device === s.dp.device)!;
  return { ...s, policy, dp };
}

/** Writes the switch's artefacts (P4Info, entries.json) into `dir` through the P4 target's codegen. */
export async function writeP4Bundle(s: P4Scenario, dir: string): Promise<void> {
  const ir = buildIr(s.policy, s.fabric);
  const placement = place(s.policy, s.fabric, ir);
  const out = await p4Target.codegen({ policy: s.policy, fabric: s.fabric, ir, placement, device: s.device, devicePlacement: s.dp });
  mkdirSync(dir, { recursive: true });
  for (const f of out.files) writeFileSync(join(dir, f.path), f.content);
}
