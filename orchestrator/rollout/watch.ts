// `weft status --watch`: keeps reading every device back until stopped and
// reports each change of a device's state (in sync, drifted with what
// differs, unreachable). Devices whose driver can stream (OpenConfig over
// gNMI Subscribe) are followed on their stream; a dropped stream is opened
// again with backoff, and the device is read back meanwhile so an unreachable
// switch shows as such. The others are re-read every interval, as many at a
// time as `status` reads. Every read is bounded by the driver's deadline.
// With counters, every device's per-rule counters are read every interval
// too, and reported when they moved.

import type { DriftReport, DriftWatch } from '../../targets/contract.ts';
import { readDeviceCounters, type RuleCounters } from './counters.ts';
import { inPool, message, DEFAULT_PARALLEL } from './rollout.ts';
import { readDevice, statusOf, statusTargets, type DeviceStatus, type StatusOptions, type StatusTarget } from './status.ts';

export type WatchEvent =
  | {
      event: 'state';
      at: string;
      device: string;
      target: DeviceStatus['target'];
      /** How the change was seen: on the device's stream, or by reading it back. */
      via: 'stream' | 'read';
      /** Absent at the first reading. */
      from?: DeviceStatus['state'];
      to: DeviceStatus['state'];
      differences: string[];
      entries?: number;
      detail?: string;
    }
  | { event: 'stream'; at: string; device: string; status: 'open' | 'dropped' | 'unsupported'; detail?: string; retryInMs?: number }
  /** A device's per-rule counters at the first reading, then whenever one moved (`moved`: the rows that did, by how many packets). */
  | { event: 'counters'; at: string; device: string; target: DeviceStatus['target']; rules: RuleCounters[]; moved: { rule: string; kind: RuleCounters['kind']; packets: string }[] }
  | { event: 'end'; at: string; drifted: string[]; unreachable: string[] };

export interface WatchOptions extends StatusOptions {
  /** How often devices without a stream are read back. */
  intervalMs: number;
  /** Stops the watch (SIGINT, SIGTERM, --for). */
  signal: AbortSignal;
  onEvent: (e: WatchEvent) => void;
  /** First wait before a dropped stream is opened again; doubles up to the interval. */
  retryMs?: number;
  /** Also read every device's per-rule counters every interval. */
  counters?: boolean;
}

export interface WatchSummary {
  /** Devices that were drifted at some point of the watch. */
  drifted: string[];
  /** Devices that could not be read at some point (or whose wanted generation is unknown). */
  unreachable: string[];
}

const now = (): string => new Date().toISOString();

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

export async function watchStatus(opts: WatchOptions): Promise<WatchSummary> {
  const { signal, onEvent } = opts;
  const targets = await statusTargets(opts);
  const last = new Map<string, DeviceStatus>();
  const drifted = new Set<string>();
  const unreachable = new Set<string>();

  /** Reports a reading when it changes the device's state (or, while drifted, what differs). */
  const observe = (s: DeviceStatus, via: 'stream' | 'read'): void => {
    const prev = last.get(s.device);
    last.set(s.device, s);
    if (s.state === 'drifted') drifted.add(s.device);
    if (s.state === 'unreachable' || s.state === 'unknown') unreachable.add(s.device);
    if (prev && prev.state === s.state && prev.differences.join('\n') === s.differences.join('\n')) return;
    if (signal.aborted) return;
    onEvent({ event: 'state', at: now(), device: s.device, target: s.target, via, from: prev?.state, to: s.state, differences: s.differences, entries: s.entries, detail: s.detail });
  };

  const polled: StatusTarget[] = targets.filter((t) => !t.wanted || !t.handle.driver.watch);
  const streams = new Map<string, DriftWatch>();
  const retries = new Set<Promise<void>>();

  /** Follows one device on its stream; a drop is reported, the device read back, and the stream opened again after a backoff. */
  const follow = (t: StatusTarget, failures: number): void => {
    if (signal.aborted || !t.wanted || !t.handle.driver.watch) return;
    const name = t.handle.device.name;
    let synced = false;
    const report = (r: DriftReport): void => {
      if (signal.aborted) return;
      if ('readBack' in r) {
        if (!synced) onEvent({ event: 'stream', at: now(), device: name, status: 'open' });
        synced = true;
        observe(statusOf(t, r.readBack), 'stream');
        return;
      }
      streams.delete(name);
      if (r.unsupported) {
        onEvent({ event: 'stream', at: now(), device: name, status: 'unsupported', detail: `${message(r.error)}; read back every interval instead` });
        polled.push(t);
        return;
      }
      const n = synced ? 0 : failures + 1;
      const retryInMs = Math.min(opts.intervalMs, (opts.retryMs ?? 1000) * 2 ** Math.max(0, n - 1));
      onEvent({ event: 'stream', at: now(), device: name, status: 'dropped', detail: message(r.error), retryInMs });
      const retry = (async () => {
        observe(await readDevice(t), 'read');
        await pause(retryInMs, signal);
        follow(t, n);
      })();
      retries.add(retry);
      void retry.finally(() => retries.delete(retry));
    };
    streams.set(name, t.handle.driver.watch(t.ctx, t.wanted.art, report));
  };

  const lastCounts = new Map<string, Map<string, bigint>>();
  /** Reports a device's counters at the first reading and whenever a row moved; unreadable counters are left to the state lines. */
  const countersOf = async (t: StatusTarget): Promise<void> => {
    const c = await readDeviceCounters(t);
    if (c.state !== 'read' || signal.aborted) return;
    const key = (r: RuleCounters): string => `${r.kind} ${r.rule}`;
    const before = lastCounts.get(c.device);
    lastCounts.set(c.device, new Map(c.rules.map((r) => [key(r), BigInt(r.packets)])));
    const moved = c.rules.filter((r) => before?.get(key(r)) !== BigInt(r.packets)).map((r) => ({ rule: r.rule, kind: r.kind, packets: (BigInt(r.packets) - (before?.get(key(r)) ?? 0n)).toString() }));
    if (before && moved.length === 0) return;
    onEvent({ event: 'counters', at: now(), device: c.device, target: c.target, rules: c.rules, moved });
  };

  for (const t of targets) follow(t, 0);
  try {
    while (!signal.aborted) {
      const readings = await inPool([...polled], opts.parallel ?? DEFAULT_PARALLEL, readDevice);
      for (const s of readings) observe(s, 'read');
      if (opts.counters) await inPool(targets.filter((t) => t.wanted), opts.parallel ?? DEFAULT_PARALLEL, countersOf);
      await pause(opts.intervalMs, signal);
    }
  } finally {
    for (const w of streams.values()) w.close();
    await Promise.all(retries);
  }
  const summary = { drifted: [...drifted].sort(), unreachable: [...unreachable].sort() };
  onEvent({ event: 'end', at: now(), ...summary });
  return summary;
}
