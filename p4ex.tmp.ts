import { loadPolicy } from './orchestrator/policy/load.ts';
import { loadInventory } from './inventory/load.ts';
import { buildIr } from './orchestrator/ir/build.ts';
import { place } from './orchestrator/placement/place.ts';
import { buildAclEntries } from './targets/p4/codegen.ts';
import { verifyP4 } from './targets/p4/verify.ts';
import { p4Target } from './targets/p4/index.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const policy = loadPolicy('examples/policy.yaml'); const fabric = loadInventory('examples/fabric.yaml');
const ir = buildIr(policy, fabric); const pl = place(policy, fabric, ir);
for (const dp of pl.devices.filter(d => d.target === 'p4' || d.target === 'openconfig')) {
  const prog = buildAclEntries({ policy, ir, devicePlacement: dp });
  const by = new Map<string, number>();
  for (const e of prog.entries) by.set(e.origin.replace(/rule \d+ /, ''), (by.get(e.origin.replace(/rule \d+ /, '')) ?? 0) + 1);
  console.log(dp.device, dp.mode, prog.entries.length, JSON.stringify(prog.stats), dp.interfaces.map(i=>i.name+':'+i.role).join(' '));
  if (dp.device === 'leaf2') console.log([...by].map(([k,v]) => `${v} ${k}`).join('\n'));
  const device = fabric.devices.find(d => d.name === dp.device)!;
  const dir = mkdtempSync('/tmp/weftp4-');
  const out = await p4Target.codegen({ policy, fabric, ir, placement: pl, device: {...device, capacity: undefined}, devicePlacement: dp });
  for (const f of out.files) writeFileSync(join(dir, f.path), f.content);
  const rep = await verifyP4(dir, { policy, fabric, ir, placement: pl, device, devicePlacement: dp }, { packets: 100000, seed: 1 });
  console.log(JSON.stringify(rep));
}
