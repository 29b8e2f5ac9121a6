import { buildIr } from '../orchestrator/ir/build.ts';
import { place } from '../orchestrator/placement/place.ts';
import { planAcl } from '../targets/openconfig/codegen.ts';
import { benchScenario } from './compile.ts';
const rules = Number(process.argv[2] ?? 2000);
const { policy, fabric } = benchScenario({ rules, endpoints: 20_000, devices: 200, apps: 400, seed: 1, anyToAny: false });
let t = performance.now();
const ir = buildIr(policy, fabric);
const placement = place(policy, fabric, ir);
console.log('ir', Math.round(performance.now() - t), 'ids', ir.identities.length, 'cells', ir.cells.length);
for (const device of fabric.devices.filter((d) => d.pipeline === 'openconfig').slice(0, 2)) {
  const dp = placement.devices.find((d) => d.device === device.name)!;
  t = performance.now();
  const plan = planAcl({ policy, fabric, ir, placement, device: { ...device, capacity: { aclEntries: 1e9 } }, devicePlacement: dp });
  console.log(device.name, Math.round(performance.now() - t), plan.stats, dp.localIdentities.length);
}
{
  const device = fabric.devices.filter((d) => d.pipeline === 'openconfig')[0];
  const dp = placement.devices.find((d) => d.device === device.name)!;
  const plan = planAcl({ policy, fabric, ir, placement, device: { ...device, capacity: { aclEntries: 1e9 } }, devicePlacement: dp });
  for (const s of plan.config.sets) {
    const by = new Map<string, number>();
    for (const e of s.entries) by.set(e.description ?? '', (by.get(e.description ?? '') ?? 0) + 1);
    console.log(s.name, s.entries.length, JSON.stringify([...by].sort((a, b) => b[1] - a[1]).slice(0, 5)));
  }
  const r = policy.rules.find((x) => x.name === [...new Map()].length.toString());
  void r;
}
