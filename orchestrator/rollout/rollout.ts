// Rollout: plan which devices of a compiled bundle need their artefacts, then
// push each through its target's driver (targets/contract.ts) in waves:
// switches first (their prefilters only ever drop more), then hosts and DPUs,
// at most `parallel` devices at a time, optionally a canary batch of each
// wave first. Every push is read back (by the driver, on the same
// connection) before the device counts as changed, and once every wave is
// through, every changed device is read back again (a switch that rebooted
// empty meanwhile fails the run). When anything fails
// the rollout stops and the devices it touched get back what they ran before
// (from the kept bundle their state names), hosts first, then switches. Each
// step is journaled (journal.ts) before it happens. A commit-confirmed run
// (confirm.ts) arms each device's own revert with its push, and leaves the
// state to `weft confirm`.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { readInventoryFile } from '../../inventory/load.ts';
import { DiagnosticBag } from '../diagnostics.ts';
import { isMap, isScalar, isSeq, type MapNode } from '../yaml/node.ts';
import { YamlSource } from '../yaml/source.ts';
import type { Device } from '../../inventory/model.ts';
import type { DeviceArtefacts, DriverContext, PushOptions, TargetDriver, TargetName, Transport } from '../../targets/contract.ts';
import { targetFor } from '../../targets/registry.ts';
import { HeldConnections } from '../../targets/connections.ts';
import type { Bundle } from '../compile/bundle.ts';
import { logger } from '../log.ts';
import { bundleDigest } from './history.ts';
import type { Journal } from './journal.ts';

const log = logger('rollout');

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

/** How many devices are pushed at once unless --parallel says otherwise: enough to hide network round trips, few enough for one orchestrator's sockets. */
export const DEFAULT_PARALLEL = 32;
/** Deadline of each remote call unless --timeout says otherwise. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** A device of a bundle with its target's driver. */
export interface DeviceHandle {
  device: Device;
  target: TargetName;
  driver: TargetDriver;
}

/** Every device of the bundle's manifest with its driver, in manifest order. */
export async function deviceHandles(bundle: Bundle): Promise<DeviceHandle[]> {
  const byName = new Map(bundle.fabric.devices.map((d) => [d.name, d]));
  return Promise.all(
    bundle.manifest.devices.map(async (md) => {
      const device = byName.get(md.name);
      if (!device) throw new Error(`device ${md.name} is in the manifest but not in the bundle's inventory`);
      return { device, target: md.target, driver: await targetFor(device).driver() };
    }),
  );
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

export function planRollout(bundle: Bundle, handles: DeviceHandle[], state: RolloutState | undefined, opts: { force?: boolean; selected?: Set<string> } = {}): PlanItem[] {
  const gen = new Map(bundle.manifest.devices.map((d) => [d.name, d.generation]));
  return handles
    .filter((h) => !opts.selected || opts.selected.has(h.device.name))
    .map((h): PlanItem => {
      const generation = gen.get(h.device.name) as string;
      const current = state?.devices[h.device.name]?.generation;
      return {
        device: h.device.name,
        target: h.target,
        transport: h.driver.transport,
        address: h.device.mgmt.address,
        generation,
        current,
        action: !opts.force && current === generation ? 'unchanged' : 'apply',
        wave: h.driver.wave,
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

/** What a rollout reports as it goes: each device as it finishes, and each wave as it starts and ends. */
export type ProgressEvent =
  | { event: 'wave'; wave: number; phase: 'start' | 'canary-passed' | 'done' | 'stopped'; total: number; done: number; failed: number; remaining: number }
  | { event: 'device'; wave: number; device: string; status: DeviceResult['status']; detail: string; seconds: number }
  | { event: 'confirm'; devices: number; failed: number }
  | { event: 'restore'; devices: number };

export interface ApplyOptions {
  bundle: Bundle;
  /** The inventory file the bundle was compiled from: resolves relative key paths. */
  inventoryPath: string;
  /** Client key for SSH; default: the device's mgmt.ssh.identityFile in the inventory, else ~/.ssh/id_ed25519. */
  identity?: string;
  state?: RolloutState;
  force?: boolean;
  /** Devices to touch (--limit); default every device. */
  selected?: Set<string>;
  /** Devices pushed at once; default DEFAULT_PARALLEL. */
  parallel?: number;
  /** Per wave, this many devices go first and must pass before the others go. */
  canary?: number;
  timeoutMs?: number;
  journal?: Journal;
  onProgress?: (e: ProgressEvent) => void;
  /** A kept bundle by manifest digest: what a device is restored from when the run fails. */
  keptBundle?: (digest: string) => Promise<Bundle | undefined>;
  /** Commit-confirmed: devices named in `selfHeld` are pushed with their own revert armed for `deadline` (epoch ms); the state is left as it was. */
  confirm?: { id: string; deadline: number; selfHeld: Set<string> };
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
 * `mgmt.ssh.stagingDir`), read straight from the inventory file. Read
 * through Weft's own YAML reader: its fast path keeps this a small part of
 * a large fleet's rollout, where the `yaml` package cost as much as loading
 * the whole inventory.
 */
function sshExtras(inventoryPath: string): Map<string, SshExtras> {
  const out = new Map<string, SshExtras>();
  const bag = new DiagnosticBag();
  const src = YamlSource.parse(readInventoryFile(inventoryPath), inventoryPath, bag);
  // The inventory was loaded (and its errors reported) with the bundle; what cannot be read here has no SSH settings.
  if (!src || !isMap(src.root)) return out;
  const text = (m: MapNode, key: string): string | undefined => {
    const v = src.get(m, key);
    return isScalar(v) && typeof v.value === 'string' ? v.value : undefined;
  };
  const map = (m: MapNode | undefined, key: string): MapNode | undefined => {
    const v = m && src.get(m, key);
    return isMap(v) ? v : undefined;
  };
  const spec = map(src.root, 'spec');
  const devices = spec && src.get(spec, 'devices');
  if (!isSeq(devices)) return out;
  for (const d of devices.items) {
    if (!isMap(d)) continue;
    const name = text(d, 'name');
    const ssh = map(map(d, 'mgmt'), 'ssh');
    if (!name || !ssh) continue;
    const f = text(ssh, 'identityFile');
    out.set(name, { identityFile: f ? (isAbsolute(f) ? f : resolve(dirname(inventoryPath), f)) : undefined, stagingDir: text(ssh, 'stagingDir') });
  }
  return out;
}

/** Builds each device's driver context from the inventory and the command line. */
export function contextMaker(opts: { inventoryPath: string; identity?: string; timeoutMs?: number }): (device: Device) => DriverContext {
  const extras = sshExtras(opts.inventoryPath);
  const inventoryDir = dirname(resolve(opts.inventoryPath));
  return (device) => {
    const x = extras.get(device.name) ?? {};
    return {
      device,
      inventoryDir,
      ssh: { identityFile: opts.identity ?? x.identityFile ?? join(process.env.HOME ?? '/root', '.ssh/id_ed25519'), stagingDir: x.stagingDir ?? DEFAULT_STAGING_DIR },
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    };
  };
}

export function artefactsOf(bundle: Bundle, device: string): DeviceArtefacts {
  const md = bundle.manifest.devices.find((d) => d.name === device);
  if (!md) throw new Error(`${device} is not in bundle ${bundle.dir}`);
  return { bundleDir: bundle.dir, deviceDir: bundle.deviceDir(device), generation: md.generation };
}

export const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Runs f over items, at most `n` at a time, in order of start. */
export async function inPool<T, R>(items: T[], n: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  return out;
}

/** The push options of a device in a commit-confirmed run: its own revert armed for what is left of the window. */
function armedPush(opts: ApplyOptions, device: string): PushOptions | undefined {
  const c = opts.confirm;
  if (!c || !c.selfHeld.has(device)) return undefined;
  const withinMs = c.deadline - Date.now();
  if (withinMs <= 0) throw new Error(`the confirm window closed at ${new Date(c.deadline).toISOString()} before ${device} was pushed; give --confirm-within more time`);
  return { confirm: { id: c.id, withinMs } };
}

export async function applyRollout(opts: ApplyOptions): Promise<DeviceResult[]> {
  const { bundle } = opts;
  const handles = await deviceHandles(bundle);
  const byName = new Map(handles.map((h) => [h.device.name, h]));
  const plan = planRollout(bundle, handles, opts.state, opts);
  // One connection per device for the whole run: its push, the read-back at the end, and a restore.
  const connections = new HeldConnections();
  const contextOf = contextMaker(opts);
  const ctxOf = (device: Device): DriverContext => ({ ...contextOf(device), connections });
  try {
    return await pushAll(opts, plan, byName, ctxOf);
  } finally {
    connections.close();
  }
}

/** applyRollout's waves, end-of-run read-back, restore on failure and state update. */
async function pushAll(opts: ApplyOptions, plan: PlanItem[], byName: Map<string, DeviceHandle>, ctxOf: (device: Device) => DriverContext): Promise<DeviceResult[]> {
  const { bundle, journal } = opts;
  const parallel = opts.parallel ?? DEFAULT_PARALLEL;
  const results: DeviceResult[] = [];
  /** Devices this run sent something to: restored if the run fails. */
  const touched: DeviceResult[] = [];

  const pushOne = async (p: PlanItem): Promise<DeviceResult> => {
    const t0 = performance.now();
    const base = { device: p.device, target: p.target, transport: p.transport, generation: p.generation };
    if (p.action === 'unchanged') return { ...base, status: 'unchanged', detail: 'generation already applied', seconds: 0 };
    const h = byName.get(p.device) as DeviceHandle;
    const before = opts.state?.devices[p.device];
    await journal?.append({ step: 'intent', device: p.device, generation: p.generation, from: before ? { generation: before.generation, bundle: before.bundle } : undefined });
    let r: DeviceResult;
    try {
      const detail = await h.driver.push(ctxOf(h.device), artefactsOf(bundle, p.device), armedPush(opts, p.device));
      journal?.note({ step: 'verified', device: p.device, generation: p.generation });
      r = { ...base, status: 'applied', detail, seconds: (performance.now() - t0) / 1000 };
    } catch (e) {
      r = { ...base, status: 'failed', detail: message(e), seconds: (performance.now() - t0) / 1000 };
      log.error({ device: p.device, err: r.detail }, 'push failed');
      journal?.note({ step: 'failed', device: p.device, generation: p.generation, detail: r.detail });
    }
    touched.push(r);
    return r;
  };

  let stopped = false;
  for (const wave of [...new Set(plan.map((p) => p.wave))]) {
    const items = plan.filter((p) => p.wave === wave);
    const todo = items.filter((p) => p.action === 'apply').length;
    let done = 0;
    let failed = 0;
    const waveEvent = (phase: 'start' | 'canary-passed' | 'done' | 'stopped'): void =>
      opts.onProgress?.({ event: 'wave', wave, phase, total: todo, done, failed, remaining: todo - done - failed });
    waveEvent('start');
    const run = async (p: PlanItem): Promise<DeviceResult> => {
      const r = await pushOne(p);
      if (p.action === 'apply') {
        if (r.status === 'failed') failed++;
        else done++;
        opts.onProgress?.({ event: 'device', wave, device: r.device, status: r.status, detail: r.detail, seconds: r.seconds });
      }
      return r;
    };
    const canaries = opts.canary ? items.filter((p) => p.action === 'apply').slice(0, opts.canary) : [];
    const batches = canaries.length ? [canaries, items.filter((p) => !canaries.includes(p))] : [items];
    for (const [i, batch] of batches.entries()) {
      const rs = await inPool(batch, parallel, run);
      results.push(...rs);
      if (rs.some((r) => r.status === 'failed')) {
        // A failed device stops the rollout: later devices would build on a fabric in an unknown state.
        stopped = true;
        break;
      }
      if (canaries.length && i === 0) waveEvent('canary-passed');
    }
    waveEvent(stopped ? 'stopped' : 'done');
    if (stopped) break;
  }

  if (!stopped) stopped = !(await confirmAll(touched, opts, byName, ctxOf, parallel));
  if (stopped) await restore(touched, opts, byName, ctxOf, parallel);
  // A commit-confirmed run's devices count as applied only once `weft confirm` says so.
  if (opts.state && !opts.confirm) {
    const at = new Date().toISOString();
    const digest = bundleDigest(bundle);
    for (const r of results) {
      // After a clean run every device runs this bundle, unchanged ones included.
      if (r.status === 'applied' || (r.status === 'unchanged' && !stopped)) opts.state.devices[r.device] = { generation: r.generation, at, bundle: digest };
    }
  }
  return results;
}

/**
 * The gate at the end of a run: every device it changed is read back once
 * more, so one that lost its configuration after its push (a reboot) fails
 * the run instead of being recorded as applied. True when all still run it.
 */
async function confirmAll(
  touched: DeviceResult[],
  opts: ApplyOptions,
  byName: Map<string, DeviceHandle>,
  ctxOf: (d: Device) => DriverContext,
  parallel: number,
): Promise<boolean> {
  const applied = touched.filter((r) => r.status === 'applied');
  let failed = 0;
  await inPool(applied, parallel, async (r) => {
    const h = byName.get(r.device) as DeviceHandle;
    try {
      const rb = await h.driver.readBack(ctxOf(h.device), artefactsOf(opts.bundle, r.device));
      if (rb.differences.length) throw new Error(`no longer runs generation ${r.generation.slice(0, 12)} at the end of the run (rebooted or changed by someone else?): ${rb.differences.slice(0, 3).join('; ')}`);
      // In a commit-confirmed run, "confirmed" is the operator's word (`weft confirm`), not this read-back.
      opts.journal?.note({ step: opts.confirm ? 'verified' : 'confirmed', device: r.device, generation: r.generation });
    } catch (e) {
      failed++;
      r.status = 'failed';
      r.detail = `${r.device}: ${message(e)}`;
      log.error({ device: r.device, err: r.detail }, 'confirm failed');
      opts.journal?.note({ step: 'failed', device: r.device, generation: r.generation, detail: r.detail });
    }
  });
  opts.onProgress?.({ event: 'confirm', devices: applied.length, failed });
  return failed === 0;
}

/**
 * Puts the devices this run touched back on the generation their state names
 * (or removes Weft's configuration from a device that ran none before), in
 * the reverse of the wave order (hosts, then switches), and reads each back.
 * A device whose earlier bundle is not kept, or whose restore fails, keeps
 * its status and says so.
 */
async function restore(
  touched: DeviceResult[],
  opts: ApplyOptions,
  byName: Map<string, DeviceHandle>,
  ctxOf: (d: Device) => DriverContext,
  parallel: number,
): Promise<void> {
  const failedNames = touched.filter((r) => r.status === 'failed').map((r) => r.device);
  const why = `${failedNames.length ? failedNames.join(', ') : 'the run'} failed`;
  opts.onProgress?.({ event: 'restore', devices: touched.length });
  for (const wave of [...new Set(touched.map((r) => (byName.get(r.device) as DeviceHandle).driver.wave))].sort((a, b) => b - a)) {
    await inPool(
      touched.filter((r) => (byName.get(r.device) as DeviceHandle).driver.wave === wave),
      parallel,
      async (r) => {
        const t0 = performance.now();
        const h = byName.get(r.device) as DeviceHandle;
        const before = opts.state?.devices[r.device];
        const outcome = await restoreDevice(h, ctxOf(h.device), before, { ...opts, cancelCommit: opts.confirm?.selfHeld.has(r.device) ? opts.confirm.id : undefined });
        if ('error' in outcome) {
          r.detail += `; ${why}, and ${outcome.error}`;
          log.error({ device: r.device, err: r.detail }, 'restore failed');
        } else {
          opts.journal?.note({ step: 'restored', device: r.device, generation: before?.generation, detail: outcome.detail });
          // A device whose own push failed ran the old generation all along: it stays "failed", with what restoring found.
          if (r.status !== 'failed') {
            r.status = 'rolled-back';
            r.generation = before?.generation ?? r.generation;
            r.detail = `${why}: ${outcome.detail}`;
          } else r.detail += `; ${outcome.detail}`;
        }
        r.seconds += (performance.now() - t0) / 1000;
        opts.onProgress?.({ event: 'device', wave, device: r.device, status: r.status, detail: r.detail, seconds: r.seconds });
      },
    );
  }
}

/** Puts one device back on `before` (or removes Weft's configuration when it ran nothing); read back when pushed. */
export async function restoreDevice(
  h: DeviceHandle,
  ctx: DriverContext,
  before: { generation: string; bundle?: string } | undefined,
  opts: Pick<ApplyOptions, 'keptBundle'> & { cancelCommit?: string },
): Promise<{ detail: string } | { error: string }> {
  try {
    // A device holding an armed revert of this commit refuses other writes until it is cancelled (gNMI), or goes back at once.
    if (opts.cancelCommit && h.driver.selfRevert?.cancel) {
      try {
        await h.driver.selfRevert.cancel(ctx, opts.cancelCommit);
      } catch (e) {
        log.warn({ device: h.device.name, err: message(e) }, 'cancel of the armed revert failed (already gone?); restoring by a push');
      }
    }
    if (!before) return { detail: `ran nothing of Weft's before: ${await h.driver.remove(ctx)}` };
    const kept = before.bundle ? await opts.keptBundle?.(before.bundle) : undefined;
    if (!kept || !kept.manifest.devices.some((d) => d.name === h.device.name && d.generation === before.generation)) {
      return { error: `no bundle holding ${h.device.name}'s earlier generation ${before.generation.slice(0, 12)} is kept to restore it from` };
    }
    const detail = await h.driver.push(ctx, artefactsOf(kept, h.device.name));
    return { detail: `restored ${before.generation.slice(0, 12)} (${detail})` };
  } catch (e) {
    return { error: `restoring ${before ? before.generation.slice(0, 12) : 'the empty configuration'} failed: ${message(e)}` };
  }
}

export function formatResults(results: DeviceResult[]): string {
  const lines = results.map((r) => `  ${r.device.padEnd(12)} ${r.target.padEnd(10)} ${r.transport.padEnd(9)} ${r.status.padEnd(11)} ${r.seconds.toFixed(2)}s  ${r.detail}`);
  const count = (st: DeviceResult['status']): number => results.filter((r) => r.status === st).length;
  lines.push(`${count('applied')} applied, ${count('unchanged')} unchanged, ${count('failed')} failed${count('rolled-back') ? `, ${count('rolled-back')} rolled back` : ''}`);
  return lines.join('\n');
}
