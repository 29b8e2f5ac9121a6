// Shared by the DPU kernel tests: device bundles written from the DPU
// codegen (the same files `weft compile` writes for a dpu or smartnic).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Fabric } from '../../inventory/model.ts';
import { buildIr } from '../../orchestrator/ir/build.ts';
import { place } from '../../orchestrator/placement/place.ts';
import type { Policy } from '../../orchestrator/policy/model.ts';
import type { CodegenInput, CodegenOutput } from '../../targets/contract.ts';
import { dpuCodegen } from '../../targets/dpu/codegen.ts';

/** Writes <dir>/devices/<name>/ for every dpu and smartnic; returns each one's input and codegen output. */
export async function writeDpuBundle(dir: string, policy: Policy, fabric: Fabric): Promise<Map<string, { input: CodegenInput; out: CodegenOutput }>> {
  const ir = buildIr(policy, fabric);
  const placement = place(policy, fabric, ir);
  const done = new Map<string, { input: CodegenInput; out: CodegenOutput }>();
  for (const device of fabric.devices.filter((d) => d.kind === 'dpu' || d.kind === 'smartnic')) {
    const devicePlacement = placement.devices.find((p) => p.device === device.name);
    if (!devicePlacement) continue;
    const input: CodegenInput = { policy, fabric, ir, placement, device, devicePlacement };
    const out = await dpuCodegen(input);
    const ddir = join(dir, 'devices', device.name);
    mkdirSync(ddir, { recursive: true });
    for (const f of out.files) writeFileSync(join(ddir, f.path), f.content);
    done.set(device.name, { input, out });
  }
  return done;
}
