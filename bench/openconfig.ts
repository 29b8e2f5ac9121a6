// OpenConfig benchmark: openconfig-acl entries per switch and codegen time for
// a 10,000-rule policy (the compile benchmark's scenario, scaled to a fabric
// that runs in well under two minutes), the artefact interpreter's speed, and
// one gNMI Set of the largest switch's artefact to an in-process agent.
//   node bin/run-ts.js bench/openconfig.ts

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIr } from '../orchestrator/ir/build.ts';
import { place } from '../orchestrator/placement/place.ts';
import { generateFlows, makeRng } from '../orchestrator/testing/generate.ts';
import { MemoryDatapath } from '../lab/agents/gnmi/memory-datapath.ts';
import { startGnmiAgent } from '../lab/agents/gnmi/agent.ts';
import { planAcl } from '../targets/openconfig/codegen.ts';
import { OpenconfigDriver } from '../targets/openconfig/driver.ts';
import { openconfigTarget } from '../targets/openconfig/index.ts';
import { aclDocumentJson } from '../targets/openconfig/model.ts';
import { AclInterpreter } from '../targets/openconfig/semantics.ts';
import type { CodegenInput } from '../targets/contract.ts';
import { benchScenario } from './compile.ts';

export async function run(): Promise<Record<string, unknown>> {
  const { policy, fabric } = benchScenario({ rules: 10_000, endpoints: 20_000, devices: 200, apps: 400, seed: 1, anyToAny: false });
  let t = performance.now();
  const ir = buildIr(policy, fabric);
  const placement = place(policy, fabric, ir);
  const irMs = performance.now() - t;
  const entries: Record<string, number> = {};
  const codegenMs: number[] = [];
  let largest: { input: CodegenInput; entries: number } | undefined;
  for (const device of fabric.devices) {
    if (device.kind !== 'switch' || device.pipeline !== 'openconfig') continue;
    const devicePlacement = placement.devices.find((d) => d.device === device.name);
    if (!devicePlacement) continue;
    // Sizes are the point here: the capacity check is lifted.
    const input: CodegenInput = { policy, fabric, ir, placement, device: { ...device, capacity: { aclEntries: 10_000_000 } }, devicePlacement };
    t = performance.now();
    const plan = planAcl(input);
    JSON.stringify(aclDocumentJson(plan.config));
    codegenMs.push(performance.now() - t);
    entries[device.name] = plan.stats.entries;
    if (!largest || plan.stats.entries > largest.entries) largest = { input, entries: plan.stats.entries };
  }
  if (!largest) throw new Error('the scenario has no OpenConfig switch');
  const counts = Object.values(entries).sort((a, b) => a - b);

  // Interpreter speed on the largest switch, through every bound port.
  const config = planAcl(largest.input).config;
  const acl = new AclInterpreter(config);
  const flows = generateFlows(makeRng(2), policy, fabric, 50_000);
  const ports = acl.boundInterfaces().slice(0, 4);
  t = performance.now();
  for (const f of flows) for (const p of ports) acl.decide(p, f, 2);
  const decisions = flows.length * ports.length;
  const decideS = (performance.now() - t) / 1000;

  // One gNMI Set of that artefact (validation, translation, datapath program, read-back).
  const dir = await mkdtemp(join(tmpdir(), 'weft-oc-bench-'));
  const agent = await startGnmiAgent({ address: '127.0.0.1:0', datapath: new MemoryDatapath(), interfaces: largest.input.devicePlacement.interfaces.map((i) => i.name) });
  const driver = new OpenconfigDriver(agent.address, { timeoutMs: 60_000 });
  let setMs: number;
  try {
    const out = await openconfigTarget.codegen(largest.input);
    for (const f of out.files) await writeFile(join(dir, f.path), f.content);
    t = performance.now();
    await driver.apply(dir);
    setMs = performance.now() - t;
  } finally {
    driver.close();
    await agent.close();
    await rm(dir, { recursive: true, force: true });
  }
  return {
    rules: policy.rules.length,
    endpoints: fabric.endpoints.length,
    openconfigSwitches: counts.length,
    irAndPlacementMs: Math.round(irMs),
    entriesPerSwitch: entries,
    entriesMin: counts[0],
    entriesMedian: counts[Math.floor(counts.length / 2)],
    entriesMax: counts[counts.length - 1],
    codegenMsPerSwitchMedian: Math.round([...codegenMs].sort((a, b) => a - b)[Math.floor(codegenMs.length / 2)]),
    codegenMsTotal: Math.round(codegenMs.reduce((a, b) => a + b, 0)),
    interpreterDecisionsPerSecond: Math.round(decisions / decideS),
    gnmiSetAndReadBackMs: Math.round(setMs),
    gnmiSetEntries: largest.entries,
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await run(), null, 2));
}
