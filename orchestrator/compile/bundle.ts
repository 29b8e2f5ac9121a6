// Reading a compiled bundle (out/): everything verify and apply need comes
// from this directory alone, checked against its manifest so a bundle that
// was edited or half-copied is refused rather than deployed.

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Device, Fabric } from '../../inventory/model.ts';
import { loadInventory } from '../../inventory/load.ts';
import type { CodegenInput } from '../../targets/contract.ts';
import { irFromJson } from '../ir/json.ts';
import type { Ir } from '../ir/model.ts';
import { placementFromJson } from '../placement/compact.ts';
import type { Placement } from '../placement/model.ts';
import { loadPolicy } from '../policy/load.ts';
import type { Policy } from '../policy/model.ts';
import { generationDigest, ManifestError, sha256, validateManifest, type Manifest } from './manifest.ts';

export const MANIFEST_FILE = 'manifest.json';
export const PLACEMENT_FILE = 'placement.json';
export const IR_FILE = 'ir.json';
export const DEVICES_DIR = 'devices';

/** Where compile keeps a copy of the policy; the suffix keeps a JSON policy read as JSON. */
export function sourcePolicyPath(policyPath: string): string {
  return /\.json$/i.test(policyPath) ? 'source/policy.json' : 'source/policy.yaml';
}

/** Where compile keeps a copy of the inventory; the suffix tells the loader a containerlab file from a fabric file, and JSON from YAML. */
export function sourceInventoryPath(inventoryPath: string): string {
  if (/\.json$/i.test(inventoryPath)) return 'source/inventory.json';
  return /\.clab\.ya?ml$/i.test(inventoryPath) ? 'source/inventory.clab.yml' : 'source/inventory.yaml';
}

export interface Bundle {
  dir: string;
  manifest: Manifest;
  policy: Policy;
  fabric: Fabric;
  ir: Ir;
  placement: Placement;
  deviceDir(name: string): string;
}

function readText(dir: string, rel: string): string {
  const p = join(dir, rel);
  if (!existsSync(p)) throw new ManifestError(join(dir, MANIFEST_FILE), [`${rel} is missing from the bundle`]);
  return readFileSync(p, 'utf8');
}

function readJson(dir: string, rel: string): unknown {
  const text = readText(dir, rel);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ManifestError(join(dir, rel), [`not valid JSON: ${(e as Error).message}`]);
  }
}

/** Reads and checks a bundle: manifest schema, source digests, and every artefact's sha256. */
export async function readBundle(dirArg: string): Promise<Bundle> {
  const dir = resolve(dirArg);
  if (!existsSync(join(dir, MANIFEST_FILE))) {
    throw new ManifestError(join(dir, MANIFEST_FILE), [`${dirArg} is not a Weft bundle (no ${MANIFEST_FILE}; create one with weft compile)`]);
  }
  const manifestFile = join(dir, MANIFEST_FILE);
  const manifest = validateManifest(readJson(dir, MANIFEST_FILE), manifestFile);
  const problems: string[] = [];

  readText(dir, manifest.policy.source);
  readText(dir, manifest.fabric.source);
  const policy = loadPolicy(join(dir, manifest.policy.source));
  const fabric = loadInventory(join(dir, manifest.fabric.source));
  if (policy.digest !== manifest.policy.digest) problems.push(`${manifest.policy.source} does not match the policy digest in the manifest`);
  if (fabric.digest !== manifest.fabric.digest) problems.push(`${manifest.fabric.source} does not match the fabric digest in the manifest`);

  const ir = irFromJson(readJson(dir, IR_FILE));
  if (ir.policyDigest !== manifest.policy.digest) problems.push(`${IR_FILE} was compiled from another policy`);
  const placement = placementFromJson(readJson(dir, PLACEMENT_FILE));

  for (const d of manifest.devices) {
    for (const f of d.files) {
      const p = join(dir, DEVICES_DIR, d.name, f.path);
      if (!existsSync(p)) {
        problems.push(`${DEVICES_DIR}/${d.name}/${f.path} is missing`);
        continue;
      }
      if (sha256(readFileSync(p)) !== f.sha256) problems.push(`${DEVICES_DIR}/${d.name}/${f.path} changed after compile (sha256 differs)`);
    }
    if (generationDigest(d.files) !== d.generation) problems.push(`device ${d.name}: generation digest does not match its files`);
  }
  if (problems.length) throw new ManifestError(manifestFile, problems);

  return {
    dir,
    manifest,
    policy,
    fabric,
    ir,
    placement,
    deviceDir: (name: string) => join(dir, DEVICES_DIR, name),
  };
}

/** What a target's codegen saw for one device, rebuilt from a bundle (for verify and apply). */
export function inputFor(bundle: Bundle, deviceName: string): CodegenInput {
  const device: Device | undefined = bundle.fabric.devices.find((d) => d.name === deviceName);
  const devicePlacement = bundle.placement.devices.find((d) => d.device === deviceName);
  if (!device || !devicePlacement) {
    throw new ManifestError(join(bundle.dir, MANIFEST_FILE), [`device ${deviceName} is not in this bundle (devices: ${bundle.manifest.devices.map((d) => d.name).join(', ')})`]);
  }
  return { policy: bundle.policy, fabric: bundle.fabric, ir: bundle.ir, placement: bundle.placement, device, devicePlacement };
}
