// The host target object (targets/contract.ts). Verification needs libbpf;
// it is imported when used, so compiling never loads it.

import type { Target } from '../contract.ts';
import { hostCodegen } from './codegen.ts';

export const hostTarget: Target = {
  name: 'host',
  capabilities: { ipv6: true, stateful: true, modes: ['exact'] },
  appliesTo: (device) => device.kind === 'host',
  codegen: hostCodegen,
  verify: async (deviceDir, input, opts) => (await import('./verify.ts')).verifyHost(deviceDir, input, opts),
  driver: async () => (await import('./driver.ts')).hostDriver,
};
