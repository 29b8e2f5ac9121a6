// OpenConfig benchmark: openconfig-acl entries per switch and codegen CPU time for
// a 10,000-rule policy (the compile benchmark's scenario, scaled to a fabric
// that runs in well under two minutes), the configuration's size with
// defined sets against expanded entries (device entries are the same), the
// artefact interpreter's speed, and one gNMI Set of the largest switch's
// artefact to an in-process agent.
//   node bin/run-ts.js bench/openconfig.ts

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIr } from '../orchestrator/ir/build.ts';
import { place } from '../orchestrator/placement/place.ts';
import { generateFlows, makeRng } from '../orchestrator/testing/generate.ts';
import { MemoryDatapath } from '../lab/agents/memory-datapath.ts';
import { startGnmiAgent } from '../lab/agents/gnmi/agent.ts';
import { DEFAULT_ACL_CAPACITY, planAcl } from '../targets/openconfig/codegen.ts';
import { InputError } from '../orchestrator/diagnostics.ts';
import { OpenconfigDriver } from '../targets/openconfig/driver.ts';
import { openconfigTarget } from '../targets/openconfig/index.ts';
import { aclDocumentJson } from '../targets/openconfig/model.ts';
import { AclInterpreter } from '../targets/openconfig/semantics.ts';
import type { CodegenInput } from '../targets/contract.ts';
import { benchScenario } from './compile.ts';

/** CPU time (user + system) since `c`: the machine is shared, so wall time says little. */
function cpuMsSince(c: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(c);
  return (d.user + d.system) / 1000;
}

// The inventory default (capacity.aclEntries).
const CAPACITY = DEFAULT_ACL_CAPACITY;

export async function run(): Promise<Record<string, unknown>> {
  const { policy, fabric } = benchScenario({ rules: 10_000, endpoints: 5_000, devices: 100, apps: 400, seed: 1, anyToAny: false });
  let t = performance.now();
  const ir = buildIr(policy, fabric);
  const placement = place(policy, fabric, ir);
  const irMs = performance.now() - t;
  const entries: Record<string, number> = {};
  const overCapacity: Record<string, string> = {};
  const prefilterEntries: Record<string, number> = {};
  const prefilterConfigEntries: Record<string, number> = {};
  const prefilterDenyRules: Record<string, number> = {};
  const codegenMs: number[] = [];
  const prefilterMs: number[] = [];
  let largest: { input: CodegenInput; entries: number } | undefined;
  for (const device of fabric.devices) {
    if (device.kind !== 'switch' || device.pipeline !== 'openconfig') continue;
    const devicePlacement = placement.devices.find((d) => d.device === device.name);
    if (!devicePlacement) continue;
    const input: CodegenInput = { policy, fabric, ir, placement, device: { ...device, capacity: { aclEntries: CAPACITY } }, devicePlacement };
    let c = process.cpuUsage();
    try {
      const plan = planAcl(input);
      JSON.stringify(aclDocumentJson(plan.config));
      entries[device.name] = plan.stats.entries;
    } catch (e) {
      // Over capacity: the error names how many entries the switch would need.
      if (!(e instanceof InputError)) throw e;
      overCapacity[device.name] = e.diagnostics[0].message.replace(/^compile \S+: /, '');
    }
    codegenMs.push(cpuMsSince(c));
    // The same switch with only its host-facing (prefilter) ports.
    const pre: CodegenInput = { ...input, devicePlacement: { ...devicePlacement, interfaces: devicePlacement.interfaces.filter((i) => i.role !== 'unmanaged-endpoint') } };
    c = process.cpuUsage();
    const plan = planAcl(pre);
    JSON.stringify(aclDocumentJson(plan.config));
    prefilterMs.push(cpuMsSince(c));
    prefilterEntries[device.name] = plan.stats.entries;
    prefilterConfigEntries[device.name] = plan.stats.configEntries;
    const denied = new Set(plan.config.sets.flatMap((x) => x.entries.filter((e) => e.action === 'DROP').map((e) => e.description)));
    prefilterDenyRules[device.name] = denied.size;
    if (!largest || plan.stats.entries > largest.entries) largest = { input: pre, entries: plan.stats.entries };
  }
  if (!largest) throw new Error('the scenario has no OpenConfig switch');
  const median = (xs: number[]): number => Math.round([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);

  // Interpreter speed on the largest prefilter artefact, through its bound ports.
  const config = planAcl(largest.input).config;
  const acl = new AclInterpreter(config);
  const flows = generateFlows(makeRng(2), policy, fabric, 50_000);
  const ports = acl.boundInterfaces().slice(0, 4);
  t = performance.now();
  for (const f of flows) for (const p of ports) acl.decide(p, f, 2);
  const decisions = flows.length * ports.length;
  const decideS = (performance.now() - t) / 1000;

  // The Set's size for that switch with defined sets and expanded.
  const setBytes = async (definedSets: boolean): Promise<number> => {
    const out = await openconfigTarget.codegen({ ...largest!.input, device: { ...largest!.input.device, capabilities: { definedSets } } });
    return Buffer.byteLength(out.files.find((f) => f.path === 'set-request.json')!.content as string);
  };
  const setRequestBytes = { definedSets: await setBytes(true), expanded: await setBytes(false) };

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
    openconfigSwitches: codegenMs.length,
    capacityPerSwitch: CAPACITY,
    switchesOverCapacity: overCapacity,
    irAndPlacementMs: Math.round(irMs),
    entriesPerSwitch: entries,
    codegenCpuMsPerSwitchMedian: median(codegenMs),
    prefilterOnlyEntriesPerSwitch: prefilterEntries,
    prefilterOnlyConfigEntriesPerSwitch: prefilterConfigEntries,
    largestSetRequestBytes: setRequestBytes,
    prefilterOnlyDenyRulesKept: prefilterDenyRules,
    denyRulesInPolicy: policy.rules.filter((r) => r.action === 'deny').length,
    prefilterOnlyCodegenCpuMsMedian: median(prefilterMs),
    codegenCpuMsTotal: Math.round([...codegenMs, ...prefilterMs].reduce((a, b) => a + b, 0)),
    interpreterDecisionsPerSecond: Math.round(decisions / decideS),
    gnmiSetAndReadBackMs: Math.round(setMs),
    gnmiSetEntries: largest.entries,
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await run(), null, 2));
}
