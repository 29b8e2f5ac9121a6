// What kind of device the facts describe: the operator's --kind-map rules
// first (a regular expression over the device name or sysDescr), then the
// device's own words (sysDescr naming a DPU or a switch pipeline), then LLDP
// capabilities (bridge or router: a switch; station: a host).

import type { DeviceKind, DpuProfile, Pipeline } from '../model.ts';
import { DEVICE_KINDS, DPU_PROFILES, PIPELINES } from '../fabric.ts';
import { InputError } from '../../orchestrator/diagnostics.ts';
import type { Capability } from './facts.ts';

export interface KindRule {
  pattern: RegExp;
  kind: DeviceKind;
  /** Switches: the pipeline; DPUs and SmartNICs: the profile. */
  variant?: Pipeline | DpuProfile;
  text: string;
}

export interface Classified {
  kind: DeviceKind;
  pipeline?: Pipeline;
  profile?: DpuProfile;
  /** Which rule decided, for the report. */
  reason: string;
}

const KIND_MAP_HINT = `valid: REGEX=KIND or REGEX=KIND/VARIANT, KIND one of ${DEVICE_KINDS.join(', ')}, VARIANT a pipeline (${PIPELINES.join(', ')}) for switches or a profile (${DPU_PROFILES.join(', ')}) for dpu/smartnic`;

/** Parses `--kind-map REGEX=KIND[/VARIANT]`; the last `=` separates the pattern. */
export function parseKindRule(text: string): KindRule {
  const bad = (why: string): InputError => new InputError([{ code: 'bad-kind-map', severity: 'error', message: `--kind-map "${text}": ${why}`, hint: KIND_MAP_HINT }]);
  const eq = text.lastIndexOf('=');
  if (eq <= 0) throw bad('no "=" between pattern and kind');
  const [kind, variant, ...extra] = text.slice(eq + 1).split('/');
  if (extra.length > 0) throw bad('more than one "/" after the kind');
  if (!(DEVICE_KINDS as readonly string[]).includes(kind)) throw bad(`unknown kind "${kind}"`);
  if (variant !== undefined) {
    const ok = kind === 'switch' ? (PIPELINES as readonly string[]).includes(variant) : kind === 'dpu' || kind === 'smartnic' ? (DPU_PROFILES as readonly string[]).includes(variant) : false;
    if (!ok) throw bad(`"${variant}" is no variant of ${kind}`);
  }
  let pattern: RegExp;
  try {
    pattern = new RegExp(text.slice(0, eq), 'i');
  } catch (e) {
    throw bad(`bad regular expression: ${(e as Error).message}`);
  }
  return { pattern, kind: kind as DeviceKind, ...(variant ? { variant: variant as Pipeline | DpuProfile } : {}), text };
}

const DPU_RE = /\b(dpu|smartnic|bluefield|agilio|netronome|nfp|pensando|ipu)\b/i;
const P4_RE = /\b(p4|p4runtime|bmv2|tofino)\b/i;

function profileOf(descr: string): DpuProfile {
  if (/bluefield/i.test(descr)) return 'bluefield';
  if (/\b(nfp|agilio|netronome)\b/i.test(descr)) return 'nfp';
  return 'generic';
}

/** A switch's pipeline from its words: P4 when it says so, else OpenConfig (what network OSes speak). */
function pipelineOf(descr: string): Pipeline {
  return P4_RE.test(descr) ? 'p4' : 'openconfig';
}

export function classify(name: string, sysDescr: string | undefined, caps: Capability[] | undefined, rules: KindRule[]): Classified {
  const descr = sysDescr ?? '';
  for (const r of rules) {
    if (!r.pattern.test(name) && !r.pattern.test(descr)) continue;
    const out: Classified = { kind: r.kind, reason: `--kind-map ${r.text}` };
    if (r.kind === 'switch') out.pipeline = (r.variant as Pipeline | undefined) ?? pipelineOf(descr);
    if (r.kind === 'dpu' || r.kind === 'smartnic') out.profile = (r.variant as DpuProfile | undefined) ?? profileOf(descr);
    return out;
  }
  if (DPU_RE.test(descr)) {
    const kind: DeviceKind = /smartnic/i.test(descr) ? 'smartnic' : 'dpu';
    return { kind, profile: profileOf(descr), reason: 'sysDescr names a DPU' };
  }
  const c = new Set(caps ?? []);
  if ((c.has('bridge') || c.has('router')) && !c.has('station')) return { kind: 'switch', pipeline: pipelineOf(descr), reason: `LLDP capabilities ${[...c].join(',')}` };
  if (c.has('station')) return { kind: 'host', reason: 'LLDP capability station' };
  return { kind: 'host', reason: 'no LLDP capabilities: a host' };
}
