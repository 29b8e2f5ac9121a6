// Rollout: plan which devices of a compiled bundle need their artefacts, then
// push each over its own transport (SSH + `weft agent` for hosts and DPUs,
// P4Runtime for P4 switches, gNMI for OpenConfig switches) in waves: switches
// first (their prefilters only ever drop more), then hosts and DPUs. Reads
// only the bundle and the inventory's connection details.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, posix, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { Device } from '../../inventory/model.ts';
import type { TargetName } from '../../targets/contract.ts';
import type { Bundle } from '../compile/bundle.ts';
import type { ManifestDevice } from '../compile/manifest.ts';
import { logger } from '../log.ts';
import { pushSwitch } from './switches.ts';
import { SshSession } from './ssh.ts';

const log = logger('rollout');

export const REPO_ROOT = resolve(import.meta.dirname, '../..');

export type Transport = 'ssh' | 'p4runtime' | 'gnmi';

export function transportOf(target: TargetName): Transport {
  switch (target) {
    case 'host':
    case 'dpu':
      return 'ssh';
    case 'p4':
      return 'p4runtime';
    case 'openconfig':
      return 'gnmi';
  }
}

/** Applied generations per device, kept by whoever runs the rollout. */
export interface RolloutState {
  fabric: string;
  devices: Record<string, { generation: string; at: string }>;
}

export function readRolloutState(path: string): RolloutState | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as RolloutState) : undefined;
}

export function writeRolloutState(path: string, s: RolloutState): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n');
  renameSync(tmp, path);
}

export interface PlanItem {
  device: string;
  target: TargetName;
  transport: Transport;
  address?: string;
  generation: string;
  current?: string;
  action: 'apply' | 'unchanged';
  wave: number;
}

/** Switches in wave 1, hosts and DPUs in wave 2. */
function waveOf(target: TargetName): number {
  return target === 'p4' || target === 'openconfig' ? 1 : 2;
}

export function planRollout(bundle: Bundle, state: RolloutState | undefined, force = false): PlanItem[] {
  const byName = new Map(bundle.fabric.devices.map((d) => [d.name, d]));
  return bundle.manifest.devices
    .map((md): PlanItem => {
      const current = state?.devices[md.name]?.generation;
      return {
        device: md.name,
        target: md.target,
        transport: transportOf(md.target),
        address: byName.get(md.name)?.mgmt.address,
        generation: md.generation,
        current,
        action: !force && current === md.generation ? 'unchanged' : 'apply',
        wave: waveOf(md.target),
      };
    })
    .sort((a, b) => a.wave - b.wave || (a.device < b.device ? -1 : 1));
}

export interface DeviceResult {
  device: string;
  target: TargetName;
  transport: Transport;
  generation: string;
  status: 'applied' | 'unchanged' | 'failed';
  detail: string;
  seconds: number;
}

export interface ApplyOptions {
  bundle: Bundle;
  /** The inventory file the bundle was compiled from: resolves relative key paths. */
  inventoryPath: string;
  /** Client key for SSH; default: the device's mgmt.ssh.identityFile in the inventory, else ~/.ssh/id_ed25519. */
  identity?: string;
  state?: RolloutState;
  force?: boolean;
  /** Called as each device finishes. */
  onResult?: (r: DeviceResult) => void;
}

/** Where bundles are copied on a device unless its inventory entry says otherwise. */
export const DEFAULT_STAGING_DIR = '/var/lib/weft/bundles';

interface SshExtras {
  /** Client key, resolved against the inventory's directory. */
  identityFile?: string;
  /** Where the bundle is copied on the device. */
  stagingDir?: string;
}

/**
 * SSH settings of each device that only the rollout uses (`mgmt.ssh.identityFile`,
 * `mgmt.ssh.stagingDir`), read straight from the inventory file.
 */
function sshExtras(inventoryPath: string): Map<string, SshExtras> {
  const out = new Map<string, SshExtras>();
  const doc = parseDocument(readFileSync(inventoryPath, 'utf8')).toJS() as { spec?: { devices?: { name?: string; mgmt?: { ssh?: SshExtras } }[] } } | null;
  for (const d of doc?.spec?.devices ?? []) {
    const ssh = d.mgmt?.ssh;
    if (!d.name || !ssh) continue;
    const f = ssh.identityFile;
    out.set(d.name, { identityFile: f ? (isAbsolute(f) ? f : resolve(dirname(inventoryPath), f)) : undefined, stagingDir: ssh.stagingDir });
  }
  return out;
}

async function pushHost(bundle: Bundle, device: Device, md: ManifestDevice, key: string, stagingDir: string): Promise<string> {
  const ssh = device.mgmt.ssh ?? { user: 'root', port: 22 };
  if (!device.mgmt.address) throw new Error(`device ${device.name} has no mgmt.address`);
  const session = await SshSession.connect({
    name: device.name,
    host: device.mgmt.address,
    port: ssh.port,
    user: ssh.user,
    privateKey: readFileSync(key),
    hostKey: ssh.hostKey,
  });
  try {
    const remote = posix.join(stagingDir, `${device.name}-${md.generation.slice(0, 16)}`);
    const files = await session.upload(bundle.dir, remote);
    const cmd = `${process.execPath} ${join(REPO_ROOT, 'bin/weft.js')} agent apply ${remote} --device ${device.name} --json`;
    const r = await session.exec(cmd);
    if (r.code !== 0) throw new Error(`weft agent apply on ${device.name} exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
    return `${files} files copied, agent applied ${md.generation.slice(0, 12)}`;
  } finally {
    session.close();
  }
}

export async function applyRollout(opts: ApplyOptions): Promise<DeviceResult[]> {
  const { bundle } = opts;
  const plan = planRollout(bundle, opts.state, opts.force);
  const byName = new Map(bundle.fabric.devices.map((d) => [d.name, d]));
  const extras = sshExtras(opts.inventoryPath);
  const results: DeviceResult[] = [];
  for (const wave of [...new Set(plan.map((p) => p.wave))]) {
    const items = plan.filter((p) => p.wave === wave);
    const waveResults = await Promise.all(
      items.map(async (p): Promise<DeviceResult> => {
        const t0 = performance.now();
        const base = { device: p.device, target: p.target, transport: p.transport, generation: p.generation };
        if (p.action === 'unchanged') return { ...base, status: 'unchanged', detail: 'generation already applied', seconds: 0 };
        const device = byName.get(p.device);
        const md = bundle.manifest.devices.find((d) => d.name === p.device) as ManifestDevice;
        try {
          if (!device) throw new Error(`device ${p.device} is in the manifest but not in the inventory`);
          let detail: string;
          switch (p.transport) {
            case 'ssh': {
              const x = extras.get(device.name) ?? {};
              const key = opts.identity ?? x.identityFile ?? join(process.env.HOME ?? '/root', '.ssh/id_ed25519');
              detail = await pushHost(bundle, device, md, key, x.stagingDir ?? DEFAULT_STAGING_DIR);
              break;
            }
            case 'p4runtime':
            case 'gnmi':
              detail = await pushSwitch(p.transport, device, bundle.deviceDir(device.name), dirname(opts.inventoryPath));
              break;
          }
          const r: DeviceResult = { ...base, status: 'applied', detail, seconds: (performance.now() - t0) / 1000 };
          opts.onResult?.(r);
          return r;
        } catch (e) {
          const r: DeviceResult = { ...base, status: 'failed', detail: e instanceof Error ? e.message : String(e), seconds: (performance.now() - t0) / 1000 };
          log.error({ device: p.device, err: r.detail }, 'push failed');
          opts.onResult?.(r);
          return r;
        }
      }),
    );
    results.push(...waveResults);
    // A failed wave stops the rollout: later waves would build on a fabric in an unknown state.
    if (waveResults.some((r) => r.status === 'failed')) break;
  }
  if (opts.state) {
    for (const r of results) if (r.status === 'applied') opts.state.devices[r.device] = { generation: r.generation, at: new Date().toISOString() };
  }
  return results;
}

export function formatResults(results: DeviceResult[]): string {
  const lines = results.map((r) => `  ${r.device.padEnd(12)} ${r.target.padEnd(10)} ${r.transport.padEnd(9)} ${r.status.padEnd(9)} ${r.seconds.toFixed(2)}s  ${r.detail}`);
  const failed = results.filter((r) => r.status === 'failed').length;
  lines.push(`${results.filter((r) => r.status === 'applied').length} applied, ${results.filter((r) => r.status === 'unchanged').length} unchanged, ${failed} failed`);
  return lines.join('\n');
}
