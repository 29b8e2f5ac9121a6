// Holds a built NIC program against its profile's limits, at compile time and
// again in `weft verify --target dpu` (on the bundle's own object). A
// violation at compile time is an input error naming the C line that breaks
// the rule, so nothing is written; the report travels in the bundle as
// offload-check.json, so what was checked is on record beside the object.

import type { Device } from '../../inventory/model.ts';
import { InputError, type Diagnostic } from '../../orchestrator/diagnostics.ts';
import type { ArtefactFile } from '../contract.ts';
import { checkOffload, ElfError, type OffloadCheckReport } from './offload-check/index.ts';
import type { ProfileSpec } from './profiles.ts';

export const OFFLOAD_CHECK_FILE = 'offload-check.json';
/** The XDP program the prefilter object holds (bpf/dpu/offload.bpf.c). */
const PROGRAM = 'xdp';

/** The checker's report on `object`, or undefined for a profile with no offload limits (generic, bluefield). */
export function offloadReport(spec: ProfileSpec, object: Uint8Array, device: string): OffloadCheckReport | undefined {
  if (!spec.limits) return undefined;
  try {
    return checkOffload(object, spec.limits, { program: PROGRAM });
  } catch (e) {
    if (e instanceof ElfError) throw new Error(`${device}: the ${spec.name} program is not a BPF object the offload checker can read: ${e.message}`);
    throw e;
  }
}

/** One diagnostic per violation, at the C line the checker found for it. */
export function violationDiagnostics(device: Device, spec: ProfileSpec, r: OffloadCheckReport): Diagnostic[] {
  return r.violations.map((v) => ({
    code: 'offload-violation',
    severity: 'error',
    message: `${device.name}: the ${spec.name} program breaks the profile rule ${v.rule}: ${v.message}${v.source?.text ? ` (${v.source.text.trim()})` : ''}`,
    span: v.source ? { file: v.source.file, line: v.source.line, col: Math.max(1, v.source.col) } : device.span,
    hint: `valid: what targets/dpu/profiles.ts declares for ${spec.name}`,
  }));
}

/** Compile-time gate: the report file for the bundle, or an InputError when the program cannot run on the NIC. */
export function gateOffload(device: Device, spec: ProfileSpec, object: Uint8Array): ArtefactFile | undefined {
  const r = offloadReport(spec, object, device.name);
  if (!r) return undefined;
  if (!r.ok) throw new InputError(violationDiagnostics(device, spec, r));
  return { path: OFFLOAD_CHECK_FILE, content: `${JSON.stringify({ profile: spec.name, ...r }, null, 2)}\n` };
}
