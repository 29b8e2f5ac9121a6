// The OpenConfig switch target: openconfig-acl over gNMI.

import type { Target } from '../contract.ts';
import { planAcl } from './codegen.ts';
import { aclDocumentJson } from './model.ts';
import { buildSetRequest } from './set-request.ts';
import { verifyOpenconfig } from './verify.ts';

export const openconfigTarget: Target = {
  name: 'openconfig',
  capabilities: { ipv6: true, stateful: false, modes: ['exact', 'prefilter'] },
  appliesTo: (device) => device.kind === 'switch' && device.pipeline === 'openconfig',
  async codegen(input) {
    const plan = planAcl(input);
    return {
      files: [
        { path: 'acl.json', content: `${JSON.stringify(aclDocumentJson(plan.config), null, 2)}\n` },
        { path: 'set-request.json', content: `${JSON.stringify(buildSetRequest(plan.config), null, 2)}\n` },
      ],
      notes: plan.notes,
      stats: plan.stats,
    };
  },
  verify: verifyOpenconfig,
  driver: async () => (await import('./driver.ts')).openconfigDriver,
};
