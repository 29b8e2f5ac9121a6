// The one list of targets. The CLI, the compile driver and the docs find
// targets here; adding a target touches this file and its own folder only.

import type { Device } from '../inventory/model.ts';
import type { Target } from './contract.ts';
import { hostTarget } from './host/index.ts';
import { p4Target } from './p4/index.ts';
import { openconfigTarget } from './openconfig/index.ts';

export const TARGETS: Target[] = [hostTarget, p4Target, openconfigTarget];

/** Device kinds with no target of their own yet, and the target whose datapath they run. */
const BORROWED: Partial<Record<Device['kind'], Target>> = { dpu: hostTarget, smartnic: hostTarget };

/** Why a device runs another target's artefacts, for the compile notes; undefined when it runs its own. */
export function borrowedNote(device: Device): string | undefined {
  if (TARGETS.some((t) => t.appliesTo(device))) return undefined;
  const t = BORROWED[device.kind];
  return t ? `${device.kind} runs the ${t.name} datapath` : undefined;
}

export function targetFor(device: Device): Target {
  const own = TARGETS.find((t) => t.appliesTo(device));
  if (own) return own;
  const borrowed = BORROWED[device.kind];
  if (borrowed) return borrowed;
  const what = device.kind === 'switch' ? `switch pipeline "${device.pipeline ?? '(none)'}"` : `device kind "${device.kind}"`;
  throw new Error(`${device.name}: no target for ${what} (supported targets: ${TARGETS.map((t) => t.name).join(', ')})`);
}
