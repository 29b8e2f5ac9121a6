// Rollout: plan which devices of a compiled bundle need their artefacts, then
// push each over its own transport (SSH + `weft agent` for hosts and DPUs,
// P4Runtime for P4 switches, gNMI for OpenConfig switches) in waves: switches
// first (their prefilters only ever drop more), then hosts and DPUs. Reads
// only the bundle and the inventory's connection details. When a device
// fails, the rollout stops after its wave and the devices this run had
// already changed get back the artefacts they ran before (from the kept
// bundle their state names), hosts first, then switches.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, posix, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { readInventoryFile } from '../../inventory/load.ts';
import type { Device } from '../../inventory/model.ts';
import type { TargetName } from '../../targets/contract.ts';
import type { Bundle } from '../compile/bundle.ts';
import type { ManifestDevice } from '../compile/manifest.ts';
import { logger } from '../log.ts';
import { agentCommandLine, remoteAgentDir, shipAgent } from '../../targets/host/agent-ship.ts';
import { bundleDigest } from './history.ts';
import { pushSwitch } from './switches.ts';
import { SshSession } from './ssh.ts';

const log = logger('rollout');

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

/** A bundle kept in the rollout history (history.ts). */
export interface KeptGeneration {
  /** sha256 of the bundle's manifest. */
  digest: string;
  policy: string;
  /** When it last became the current generation. */
  at: string;
  how: 'apply' | 'rollback';
}

/** Applied generations per device, kept by whoever runs the rollout. */
export interface RolloutState {
  fabric: string;
  /** Per device: its artefacts' generation, and the kept bundle (manifest digest) they came from. */
  devices: Record<string, { generation: string; at: string; bundle?: string }>;
  /** The bundle last applied on every device. */
  current?: string;
  /** Kept bundles, oldest first. */
  generations?: KeptGeneration[];
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
  /** rolled-back: applied in this run, then restored to its earlier generation because another device failed. */
  status: 'applied' | 'unchanged' | 'failed' | 'rolled-back';
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
  /** A kept bundle by manifest digest: what a device is restored from when the run fails. */
  keptBundle?: (digest: string) => Promise<Bundle | undefined>;
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
  const doc = parseDocument(readInventoryFile(inventoryPath)).toJS() as { spec?: { devices?: { name?: string; mgmt?: { ssh?: SshExtras } }[] } } | null;
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
    const cmd = await hostAgentCommand(session, device.name, stagingDir, ['apply', remote, '--device', device.name, '--json']);
    const r = await session.exec(cmd);
    if (r.code !== 0) throw new Error(`weft agent apply on ${device.name} exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
    return `${files} files copied, agent applied ${md.generation.slice(0, 12)}`;
  } finally {
    session.close();
  }
}

/** Ships the host agent beside the staging directory if the host's copy differs; returns the command running it there. */
async function hostAgentCommand(session: SshSession, device: string, stagingDir: string, args: string[]): Promise<string> {
  const shipped = await shipAgent(session, remoteAgentDir(stagingDir), device);
  return agentCommandLine(shipped.agentDir, args);
}

/** Pushes one device's artefacts from `bundle` over its transport; returns what happened. */
async function pushDevice(bundle: Bundle, name: string, transport: Transport, opts: ApplyOptions, extras: Map<string, SshExtras>): Promise<string> {
  const device = bundle.fabric.devices.find((d) => d.name === name);
  const md = bundle.manifest.devices.find((d) => d.name === name);
  if (!device || !md) throw new Error(`device ${name} is in the manifest but not in the inventory`);
  switch (transport) {
    case 'ssh': {
      const x = extras.get(device.name) ?? {};
      const key = opts.identity ?? x.identityFile ?? join(process.env.HOME ?? '/root', '.ssh/id_ed25519');
      return pushHost(bundle, device, md, key, x.stagingDir ?? DEFAULT_STAGING_DIR);
    }
    case 'p4runtime':
    case 'gnmi':
      return pushSwitch(transport, device, bundle.deviceDir(device.name), dirname(opts.inventoryPath));
  }
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export async function applyRollout(opts: ApplyOptions): Promise<DeviceResult[]> {
  const { bundle } = opts;
  const plan = planRollout(bundle, opts.state, opts.force);
  const extras = sshExtras(opts.inventoryPath);
  const results: DeviceResult[] = [];
  for (const wave of [...new Set(plan.map((p) => p.wave))]) {
    const items = plan.filter((p) => p.wave === wave);
    const waveResults = await Promise.all(
      items.map(async (p): Promise<DeviceResult> => {
        const t0 = performance.now();
        const base = { device: p.device, target: p.target, transport: p.transport, generation: p.generation };
        if (p.action === 'unchanged') return { ...base, status: 'unchanged', detail: 'generation already applied', seconds: 0 };
        try {
          const detail = await pushDevice(bundle, p.device, p.transport, opts, extras);
          const r: DeviceResult = { ...base, status: 'applied', detail, seconds: (performance.now() - t0) / 1000 };
          opts.onResult?.(r);
          return r;
        } catch (e) {
          const r: DeviceResult = { ...base, status: 'failed', detail: message(e), seconds: (performance.now() - t0) / 1000 };
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
  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length) await restore(results, failed, opts, extras);
  if (opts.state) {
    const at = new Date().toISOString();
    const digest = bundleDigest(bundle);
    for (const r of results) {
      // After a clean run every device runs this bundle, unchanged ones included.
      if (r.status === 'applied' || (r.status === 'unchanged' && failed.length === 0)) opts.state.devices[r.device] = { generation: r.generation, at, bundle: digest };
    }
  }
  return results;
}

/**
 * Puts the devices this run changed back on the generation their state names,
 * in the reverse of the wave order (hosts, then switches), so the fabric is
 * again what it was before the run. A device whose earlier bundle is not kept,
 * or whose restore fails, stays applied (and is recorded so).
 */
async function restore(results: DeviceResult[], failed: DeviceResult[], opts: ApplyOptions, extras: Map<string, SshExtras>): Promise<void> {
  const why = `${failed.map((f) => f.device).join(', ')} failed`;
  const changed = results.filter((r) => r.status === 'applied');
  for (const wave of [...new Set(changed.map((r) => waveOf(r.target)))].sort((a, b) => b - a)) {
    await Promise.all(
      changed
        .filter((r) => waveOf(r.target) === wave)
        .map(async (r) => {
          const t0 = performance.now();
          const before = opts.state?.devices[r.device];
          const kept = before?.bundle ? await opts.keptBundle?.(before.bundle) : undefined;
          if (!before || !kept || !kept.manifest.devices.some((d) => d.name === r.device && d.generation === before.generation)) {
            r.detail += `; ${why}, but no earlier generation of ${r.device} is kept to restore`;
            return;
          }
          try {
            const detail = await pushDevice(kept, r.device, r.transport, opts, extras);
            r.status = 'rolled-back';
            r.detail = `${why}: restored ${before.generation.slice(0, 12)} (${detail})`;
            r.generation = before.generation;
          } catch (e) {
            // Every push is all-or-nothing, so the device still runs this run's generation.
            r.detail += `; ${why}, and restoring ${before.generation.slice(0, 12)} failed: ${message(e)}`;
            log.error({ device: r.device, err: r.detail }, 'restore failed');
          }
          r.seconds += (performance.now() - t0) / 1000;
          opts.onResult?.(r);
        }),
    );
  }
}

export function formatResults(results: DeviceResult[]): string {
  const lines = results.map((r) => `  ${r.device.padEnd(12)} ${r.target.padEnd(10)} ${r.transport.padEnd(9)} ${r.status.padEnd(9)} ${r.seconds.toFixed(2)}s  ${r.detail}`);
  const failed = results.filter((r) => r.status === 'failed').length;
  const count = (st: DeviceResult['status']): number => results.filter((r) => r.status === st).length;
  lines.push(`${count('applied')} applied, ${count('unchanged')} unchanged, ${failed} failed${count('rolled-back') ? `, ${count('rolled-back')} rolled back` : ''}`);
  return lines.join('\n');
}
