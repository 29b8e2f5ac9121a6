// The DPU target object (targets/contract.ts). Verification needs libbpf and
// the driver SSH: each is imported when used, so compiling never loads them.

import type { Target } from '../contract.ts';
import { dpuCodegen } from './codegen.ts';

export const dpuTarget: Target = {
  name: 'dpu',
  capabilities: { ipv6: true, stateful: true, modes: ['exact', 'prefilter'] },
  appliesTo: (device) => device.kind === 'dpu' || device.kind === 'smartnic',
  codegen: dpuCodegen,
  verify: async (deviceDir, input, opts) => (await import('./verify.ts')).verifyDpu(deviceDir, input, opts),
  driver: async () => (await import('./driver.ts')).dpuDriver,
};
