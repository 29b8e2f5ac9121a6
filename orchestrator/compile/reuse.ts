// Recompiling into a previous bundle: a device whose codegen inputs are the
// same as when that bundle was written keeps its artefacts (hard-linked into
// the new bundle) instead of running its codegen again. A one-rule edit so
// regenerates the devices the rule is on, not the fabric.
//
// Each device's inputs are summed up in one digest, kept in the manifest
// (ManifestDevice.inputs). It covers what the device's codegen reads, and
// more rather than less:
//   - Weft's own code (every module and datapath source of this install), so
//     an upgrade or a local edit of Weft regenerates everything;
//   - the target, the device as the inventory gives it, its placement;
//   - hosts and DPUs: the address table (identities, their groups and
//     families, every LPM entry), the default action, the endpoints they
//     enforce for, and, in policy order, every rule whose `from` or `to` is
//     `any` or names a group of one of their local identities: the only rules
//     their share walks (orchestrator/ir/share.ts). A DPU also reads the
//     other NICs in front of its host.
//   - switches: the whole policy, the whole inventory and the whole
//     placement, since their shares read rules by what they deny anywhere.
// Source positions (`span`) of devices and endpoints are left out: they only
// appear in diagnostics, which a reused device does not produce (refused
// devices are never in a bundle). A rule's span is kept: rule-sources.json
// carries it.

import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, copyFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Device, Fabric } from '../../inventory/model.ts';
import type { TargetName } from '../../targets/contract.ts';
import { localEndpointsOf, resolveIdentity } from '../../targets/host/share.ts';
import type { Ir } from '../ir/model.ts';
import { irReach, type IrReach } from '../ir/reach.ts';
import { logger } from '../log.ts';
import { packagePath } from '../package-root.ts';
import type { DevicePlacement } from '../placement/model.ts';
import type { Policy } from '../policy/model.ts';
import { DEVICES_DIR, MANIFEST_FILE } from './bundle.ts';
import { validateManifest, type ManifestDevice } from './manifest.ts';

const log = logger('compile');

/** JSON text of a model object (addresses hold bigints), without its source positions unless asked. */
function jsonOf(value: unknown, spans = false): string {
  return JSON.stringify(value, (k, v: unknown) => (k === 'span' && !spans ? undefined : typeof v === 'bigint' ? v.toString(16) : v));
}

let code: string | undefined;

/**
 * A digest of Weft's own code: the compiled modules under dist/, the
 * TypeScript sources where they are (a checkout), and the datapath and P4
 * sources codegen builds from. Any change to any of them regenerates every
 * device, so artefacts never outlive the code that made them; a checkout
 * running its sources and its built command shares one digest.
 */
export function codeDigest(): string {
  if (code !== undefined) return code;
  const h = createHash('sha256');
  for (const root of ['dist', 'orchestrator', 'targets', 'inventory', 'bpf', 'p4', 'package.json']) {
    const top = packagePath(root);
    if (!existsSync(top)) continue;
    const files = statSync(top).isDirectory()
      ? readdirSync(top, { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => join(e.parentPath ?? e.path, e.name))
      : [top];
    for (const f of files.sort()) h.update(`${relative(packagePath(), f)}\0`).update(readFileSync(f)).update('\0');
  }
  return (code = h.digest('hex'));
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Input digests of a compile's devices: the parts every device shares are digested once. */
export class InputDigests {
  /** Identities (id, groups, families) and the LPM table: what addresses resolve to. */
  private readonly addressTable: string;
  /** One short digest per rule, by rule position. */
  private readonly ruleDigests: string[];
  /** Rules with `any` on a side: on every host's share. */
  private readonly wildcardRules: number[] = [];
  /** Rules naming each group on either side. */
  private readonly rulesOfGroup = new Map<string, number[]>();
  private readonly whole: string;
  /** Identity positions (irReach), looked up per endpoint address. */
  private readonly reach: IrReach;

  constructor(
    private readonly ir: Ir,
    policy: Policy,
    private readonly fabric: Fabric,
    placementText: string,
    /** Options of the compile that decide artefacts or refusals (the share budget). */
    options: string,
  ) {
    this.reach = irReach(ir);
    const h = createHash('sha256').update(codeDigest()).update(options);
    for (const i of ir.identities) h.update(`${i.id}|${i.groups.join(',')}|${(i.families ?? [4, 6]).join(',')}\n`);
    for (const e of ir.lpm) h.update(`${e.prefix.family}|${e.prefix.addr.toString(16)}/${e.prefix.len}=${e.id}\n`);
    this.addressTable = h.update(`${ir.defaultAction}|${ir.policyName}`).digest('hex');
    this.ruleDigests = ir.rules.map((r, i) => {
      if (r.from === 'any' || r.to === 'any') this.wildcardRules.push(i);
      for (const side of [r.from, r.to]) {
        if (side === 'any') continue;
        for (const g of side.groups) {
          const l = this.rulesOfGroup.get(g);
          if (!l) this.rulesOfGroup.set(g, [i]);
          else if (l[l.length - 1] !== i) l.push(i);
        }
      }
      return sha(jsonOf(r, true)).slice(0, 32);
    });
    this.whole = sha(`${codeDigest()}|${options}|${policy.digest}|${fabric.digest}|${sha(placementText)}`);
  }

  /** The digest of everything `device`'s codegen for `target` reads. */
  of(device: Device, dp: DevicePlacement, target: TargetName): string {
    const h = createHash('sha256').update(`${target}\0${jsonOf(device)}\0${jsonOf(dp)}\0`);
    if (target !== 'host' && target !== 'dpu') return h.update(this.whole).digest('hex');
    h.update(this.addressTable);
    const endpoints = localEndpointsOf(this.fabric, device);
    const groups = new Set<string>();
    for (const e of endpoints) {
      h.update(jsonOf(e)).update('\n');
      for (const a of e.addresses) {
        const at = this.reach.pos.get(resolveIdentity(this.ir, a));
        if (at !== undefined) for (const g of this.ir.identities[at].groups) groups.add(g);
      }
    }
    if (target === 'dpu') {
      // A NIC checks how many offloaded programs sit in front of its host.
      for (const d of this.fabric.devices) if (d.attachedTo !== undefined && d.attachedTo === device.attachedTo) h.update(jsonOf(d)).update('\n');
    }
    const rules = new Set(this.wildcardRules);
    for (const g of groups) for (const r of this.rulesOfGroup.get(g) ?? []) rules.add(r);
    for (const r of [...rules].sort((a, b) => a - b)) h.update(this.ruleDigests[r]);
    return h.digest('hex');
  }
}

/** The devices of the bundle already at --out, by name, when it was written by this very Weft. */
export interface PreviousBundle {
  dir: string;
  devices: Map<string, ManifestDevice>;
}

/** The bundle at `outDir` if it can lend artefacts: a valid manifest from the same generator; else undefined. */
export function previousBundle(outDir: string, generator: string): PreviousBundle | undefined {
  const file = join(outDir, MANIFEST_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const m = validateManifest(JSON.parse(readFileSync(file, 'utf8')), file);
    if (m.generator !== generator) return undefined;
    return { dir: outDir, devices: new Map(m.devices.filter((d) => d.inputs !== undefined).map((d) => [d.name, d])) };
  } catch (e) {
    // A bundle that cannot be read lends nothing; it is replaced as a whole.
    log.debug({ err: (e as Error).message }, 'previous bundle unreadable; every device is compiled');
    return undefined;
  }
}

/**
 * The previous bundle's entry for a device with these inputs, if its files
 * are all there at their recorded sizes. Their contents are not hashed here
 * (a fabric's bundle is gigabytes); every reader of a bundle checks each
 * file's sha256 against the manifest (bundle.ts), so a file altered in place
 * is refused there, never deployed.
 */
export function reusableDevice(prev: PreviousBundle, name: string, inputs: string): ManifestDevice | undefined {
  const d = prev.devices.get(name);
  if (!d || d.inputs !== inputs) return undefined;
  for (const f of d.files) {
    const p = join(prev.dir, DEVICES_DIR, name, f.path);
    if (!existsSync(p) || statSync(p).size !== f.bytes) return undefined;
  }
  return d;
}

/** Puts a reused device's files into the bundle being assembled: hard links (the same filesystem), else copies. */
export function linkDeviceFiles(prev: PreviousBundle, tmp: string, d: ManifestDevice): void {
  mkdirSync(join(tmp, DEVICES_DIR, d.name), { recursive: true });
  for (const f of d.files) {
    const from = join(prev.dir, DEVICES_DIR, d.name, f.path);
    const to = join(tmp, DEVICES_DIR, d.name, f.path);
    mkdirSync(dirname(to), { recursive: true });
    try {
      linkSync(from, to);
    } catch {
      copyFileSync(from, to);
    }
  }
}
