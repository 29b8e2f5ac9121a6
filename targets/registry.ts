// The one list of targets. The CLI, the compile driver and the docs find
// targets here; adding a target touches this file and its own folder only.

import type { Device } from '../inventory/model.ts';
import type { Target } from './contract.ts';
import { hostTarget } from './host/index.ts';
import { dpuTarget } from './dpu/index.ts';
import { p4Target } from './p4/index.ts';
import { openconfigTarget } from './openconfig/index.ts';

export const TARGETS: Target[] = [hostTarget, dpuTarget, p4Target, openconfigTarget];

export function targetFor(device: Device): Target {
  const own = TARGETS.find((t) => t.appliesTo(device));
  if (own) return own;
  const what = device.kind === 'switch' ? `switch pipeline "${device.pipeline ?? '(none)'}"` : `device kind "${device.kind}"`;
  throw new Error(`${device.name}: no target for ${what} (supported targets: ${TARGETS.map((t) => t.name).join(', ')})`);
}
