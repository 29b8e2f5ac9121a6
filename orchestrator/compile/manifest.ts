// The bundle manifest: a typed, versioned description of everything
// `weft compile` wrote. It is validated when written and when read, so apply
// and verify can trust a bundle without the policy source, and a bundle made
// by a newer Weft is refused with a recognisable error instead of misread.

import { createHash } from 'node:crypto';
import type { DeviceKind } from '../../inventory/model.ts';
import type { EnforcementMode, TargetName } from '../../targets/contract.ts';

export const MANIFEST_API_VERSION = 'weft.dev/v1';
export const MANIFEST_KIND = 'Bundle';
/** Bumped on a change readers of an older Weft cannot follow. */
export const MANIFEST_SCHEMA_VERSION = 1;

export const DEVICE_KINDS: readonly DeviceKind[] = ['host', 'dpu', 'smartnic', 'switch'];
export const TARGET_NAMES: readonly TargetName[] = ['host', 'dpu', 'p4', 'openconfig'];
export const MODES: readonly EnforcementMode[] = ['exact', 'prefilter'];

export interface ManifestFile {
  /** Relative to devices/<name>/. */
  path: string;
  sha256: string;
  bytes: number;
}

export interface ManifestDevice {
  name: string;
  kind: DeviceKind;
  target: TargetName;
  mode: EnforcementMode;
  /** sha256 over this device's files (paths and contents): equal when its artefacts are equal. */
  generation: string;
  /** sha256 of everything the device's codegen read (reuse.ts): a recompile with equal inputs keeps its files. Absent in bundles of older Weft. */
  inputs?: string;
  files: ManifestFile[];
  notes: string[];
  stats: Record<string, number>;
}

export interface Manifest {
  apiVersion: typeof MANIFEST_API_VERSION;
  kind: typeof MANIFEST_KIND;
  schemaVersion: number;
  generator: string;
  fabric: { name: string; digest: string; source: string };
  policy: { name: string; digest: string; source: string };
  /** Counts of analysis warnings by code, so a reader sees them without recompiling. */
  warnings: Record<string, number>;
  devices: ManifestDevice[];
}

export function sha256(content: string | Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}

/**
 * Device files that describe what the device runs but change nothing it
 * does: where each rule is written (targets/host/share.ts). A rule moved in
 * its file, or a policy rewritten as JSON, must not redeploy every host.
 */
const DESCRIPTIVE_FILES = new Set(['rule-sources.json']);

/** A device's generation: equal exactly when its set of files (names and contents) is equal, descriptive files aside. */
export function generationDigest(files: ManifestFile[]): string {
  const h = createHash('sha256');
  for (const f of [...files].filter((x) => !DESCRIPTIVE_FILES.has(x.path)).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    h.update(`${f.path}\0${f.sha256}\n`);
  }
  return h.digest('hex');
}

/** A manifest that is malformed or from an incompatible Weft. */
export class ManifestError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
    readonly code: 'bad-manifest' | 'newer-manifest' = 'bad-manifest',
  ) {
    super(`${file}: ${code === 'newer-manifest' ? '' : 'invalid bundle manifest: '}${problems.join('; ')}`);
    this.name = 'ManifestError';
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

type Check = (cond: boolean, what: string) => void;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkDevice(d: unknown, at: string, check: Check): void {
  if (!isObject(d)) return check(false, `${at} must be an object`);
  check(typeof d.name === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(d.name), `${at}.name must be a device name (letters, digits, . _ -)`);
  check(DEVICE_KINDS.includes(d.kind as DeviceKind), `${at}.kind must be one of ${DEVICE_KINDS.join('|')}`);
  check(TARGET_NAMES.includes(d.target as TargetName), `${at}.target must be one of ${TARGET_NAMES.join('|')}`);
  check(MODES.includes(d.mode as EnforcementMode), `${at}.mode must be one of ${MODES.join('|')}`);
  check(typeof d.generation === 'string' && HEX64.test(d.generation), `${at}.generation must be a sha256 hex digest`);
  check(d.inputs === undefined || (typeof d.inputs === 'string' && HEX64.test(d.inputs)), `${at}.inputs must be a sha256 hex digest`);
  if (!Array.isArray(d.files)) check(false, `${at}.files must be a list`);
  else
    d.files.forEach((f: unknown, i: number) => {
      const fa = `${at}.files[${i}]`;
      if (!isObject(f)) return check(false, `${fa} must be an object`);
      check(
        typeof f.path === 'string' && f.path.length > 0 && !f.path.startsWith('/') && !f.path.split('/').includes('..'),
        `${fa}.path must be a relative path inside the device directory`,
      );
      check(typeof f.sha256 === 'string' && HEX64.test(f.sha256), `${fa}.sha256 must be a sha256 hex digest`);
      check(Number.isInteger(f.bytes) && (f.bytes as number) >= 0, `${fa}.bytes must be a non-negative integer`);
    });
  check(Array.isArray(d.notes) && d.notes.every((n) => typeof n === 'string'), `${at}.notes must be a list of strings`);
  check(isObject(d.stats) && Object.values(d.stats).every((v) => typeof v === 'number'), `${at}.stats must map names to numbers`);
}

/** Throws ManifestError unless `value` is a manifest this Weft can read. */
export function validateManifest(value: unknown, file = 'manifest.json'): Manifest {
  if (!isObject(value)) throw new ManifestError(file, ['the manifest must be a JSON object']);
  // Version first: a newer manifest may legitimately fail every other check.
  const api = value.apiVersion;
  if (typeof api === 'string' && /^weft\.dev\/v[0-9]+$/.test(api) && api !== MANIFEST_API_VERSION) {
    const major = Number(api.slice('weft.dev/v'.length));
    if (major > 1) {
      throw new ManifestError(file, [`bundle apiVersion ${api} is newer than this Weft understands (${MANIFEST_API_VERSION}); upgrade Weft or recompile the bundle`], 'newer-manifest');
    }
  }
  const sv = value.schemaVersion;
  if (typeof sv === 'number' && Number.isInteger(sv) && sv > MANIFEST_SCHEMA_VERSION) {
    throw new ManifestError(file, [`bundle schemaVersion ${sv} is newer than this Weft understands (${MANIFEST_SCHEMA_VERSION}); upgrade Weft or recompile the bundle`], 'newer-manifest');
  }
  const problems: string[] = [];
  const check: Check = (cond, what) => {
    if (!cond) problems.push(what);
  };
  check(api === MANIFEST_API_VERSION, `apiVersion must be ${MANIFEST_API_VERSION}`);
  check(value.kind === MANIFEST_KIND, `kind must be ${MANIFEST_KIND}`);
  check(sv === MANIFEST_SCHEMA_VERSION, `schemaVersion must be ${MANIFEST_SCHEMA_VERSION}`);
  check(typeof value.generator === 'string', 'generator must be a string');
  for (const part of ['fabric', 'policy'] as const) {
    const v = value[part];
    if (!isObject(v)) {
      check(false, `${part} must be an object`);
      continue;
    }
    check(typeof v.name === 'string' && v.name.length > 0, `${part}.name must be a non-empty string`);
    check(typeof v.digest === 'string' && HEX64.test(v.digest), `${part}.digest must be a sha256 hex digest`);
    check(typeof v.source === 'string' && v.source.startsWith('source/'), `${part}.source must be a path under source/`);
  }
  check(isObject(value.warnings) && Object.values(value.warnings).every((v) => Number.isInteger(v)), 'warnings must map codes to counts');
  if (!Array.isArray(value.devices)) check(false, 'devices must be a list');
  else {
    value.devices.forEach((d, i) => checkDevice(d, `devices[${i}]`, check));
    const names = value.devices.map((d) => (isObject(d) ? d.name : undefined));
    check(new Set(names).size === names.length, 'device names must be unique');
  }
  if (problems.length) throw new ManifestError(file, problems);
  return value as unknown as Manifest;
}
