// dpu.json: what a DPU device directory holds and how the agent installs it
// (its profile's attach kind, its mode, its ports). Written by codegen, read
// by the agent and by verification.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EnforcementMode } from '../contract.ts';
import type { AttachKind, ProfileSpec } from './profiles.ts';

export const DEVICE_FILE = 'dpu.json';
export const DEVICE_FORMAT = 'weft.dpu.device/v1';
export const OFFLOAD_OBJECT = 'offload.bpf.o';

/** dpu.json: what the agent installs and where. */
export interface DpuDeviceJson {
  format: typeof DEVICE_FORMAT;
  device: string;
  profile: ProfileSpec['name'];
  attach: AttachKind;
  mode: EnforcementMode;
  /** Ports of the DPU; a prefilter attaches XDP to each (one program per port). */
  interfaces: { name: string; role: string }[];
}

export function readDeviceJson(deviceDir: string): DpuDeviceJson {
  const file = join(deviceDir, DEVICE_FILE);
  const d = JSON.parse(readFileSync(file, 'utf8')) as DpuDeviceJson;
  if (d.format !== DEVICE_FORMAT) throw new Error(`${file}: format "${String(d.format)}" is not ${DEVICE_FORMAT} (recompile the bundle with this weft)`);
  return d;
}

