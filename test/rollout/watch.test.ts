// `weft status --watch` and `weft status --counters` against a simulated
// fleet on loopback (test/rollout/fleet.ts): a P4 switch and an OpenConfig
// switch run Weft's own P4Runtime and gNMI agents over an in-memory datapath,
// and a host is a simulated SSH agent. Drift is made behind Weft's back (a
// direct gNMI Set, a direct P4Runtime write) while the watch runs, and must
// be reported within seconds, then the restore; a stopped switch must show
// its dropped subscription and come back. Counters are moved by packets run
// through each switch's own datapath (and the simulated agent's counters).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '../../orchestrator/compile/bundle.ts';
import type { Flow } from '../../orchestrator/flow.ts';
import { parseIp } from '../../orchestrator/net/ip.ts';
import type { DeviceCounters } from '../../orchestrator/rollout/counters.ts';
import type { WatchEvent } from '../../orchestrator/rollout/watch.ts';
import { GnmiClient } from '../../targets/openconfig/client.ts';
import { buildSetRequest } from '../../targets/openconfig/set-request.ts';
import type { SetRequest } from '../../targets/openconfig/gnmi.ts';
import { P4RuntimeClient } from '../../targets/p4/client.ts';
import type { EntriesDocument } from '../../targets/p4/entries.ts';
import type { WireEntry } from '../../targets/p4/table-entry.ts';
import { Fleet } from './fleet.ts';
import { runWeft, weftArgv, type Run } from './weft-run.ts';

const work = mkdtempSync(join(tmpdir(), `weft-watch-${process.pid}-`));
const statePath = join(work, 'state/rollout.json');
let fleet: Fleet;
let v1: Bundle;


const argsFor = (args: string[]): string[] => weftArgv(fleet.inventoryPath, statePath, args);

/** Runs `weft` with the fleet's inventory and state. */
const weft = (args: string[]): Promise<Run> => runWeft(argsFor(args));

/** A running `weft status --watch` whose JSON lines are read as they come. */
class Watch {
  readonly events: { e: WatchEvent; ms: number }[] = [];
  private readonly child: ChildProcess;
  private readonly exit: Promise<number>;
  private readonly started = Date.now();
  private err = '';

  constructor(args: string[]) {
    this.child = spawn(process.execPath, argsFor(['status', '--watch', ...args]), { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        this.events.push({ e: JSON.parse(buf.slice(0, i)) as WatchEvent, ms: Date.now() - this.started });
        buf = buf.slice(i + 1);
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.err += d.toString()));
    this.exit = new Promise((res) => this.child.on('close', (code) => res(code ?? -1)));
  }

  /** The first event (from index `from` on) that `match` accepts, within `ms`; fails with everything seen so far. */
  async next(match: (e: WatchEvent) => boolean, ms: number, from = 0): Promise<{ e: WatchEvent; ms: number; index: number }> {
    const deadline = Date.now() + ms;
    for (;;) {
      const index = this.events.findIndex((x, i) => i >= from && match(x.e));
      if (index >= 0) return { ...this.events[index], index };
      if (Date.now() > deadline) throw new Error(`no matching event within ${ms} ms; seen:\n${this.events.map((x) => JSON.stringify(x.e)).join('\n')}\nstderr: ${this.err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  get stderr(): string {
    return this.err;
  }

  code(): Promise<number> {
    return this.exit;
  }

  kill(): void {
    this.child.kill('SIGTERM');
  }
}

const stateOf = (device: string, to: string) => (e: WatchEvent) => e.event === 'state' && e.device === device && e.to === to;

const ip = (text: string) => {
  const a = parseIp(text);
  if (!a) throw new Error(text);
  return a;
};
const tcp = (src: string, dst: string, dport: number): Flow => ({ src: ip(src), dst: ip(dst), proto: 6, sport: 40000, dport });

/** The switch's set-request.json of v1: what Weft pushes to it. */
const setRequestOf = (b: Bundle, device: string): SetRequest => JSON.parse(readFileSync(join(b.deviceDir(device), 'set-request.json'), 'utf8')) as SetRequest;

async function gnmiSet(device: string, req: SetRequest): Promise<void> {
  const sw = fleet.switches.find((s) => s.name === device)!;
  const client = new GnmiClient(`127.0.0.1:${sw.port}`, { timeoutMs: 3000 });
  try {
    await client.set(req);
  } finally {
    client.close();
  }
}

/** A P4Runtime write by another controller (a higher election id than Weft's reads use). */
async function p4Write(device: string, updates: object[]): Promise<void> {
  const sw = fleet.switches.find((s) => s.name === device)!;
  const client = await P4RuntimeClient.connect({ address: `127.0.0.1:${sw.port}`, deviceId: 1, electionId: 7n, name: `${device}-intruder`, timeoutMs: 3000 });
  try {
    await client.write(updates);
  } finally {
    client.close();
  }
}

/** The entries of one table as the switch holds them, read by another controller. */
async function p4Read(device: string, tableId: number): Promise<WireEntry[]> {
  const sw = fleet.switches.find((s) => s.name === device)!;
  const client = await P4RuntimeClient.connect({ address: `127.0.0.1:${sw.port}`, deviceId: 1, electionId: 7n, name: `${device}-reader`, timeoutMs: 3000 });
  try {
    return await client.readTableEntries(tableId);
  } finally {
    client.close();
  }
}

beforeAll(async () => {
  fleet = await Fleet.start(join(work, 'fleet'), 2, 1);
  v1 = await fleet.compile(1);
  const r = await weft(['apply', '--bundle', v1.dir]);
  expect(r.code, r.err).toBe(0);
}, 120_000);

afterAll(async () => {
  await fleet?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('weft status --counters and --watch on a simulated fleet', { timeout: 120_000 }, () => {
  it('reports per-rule hits from every target, summed back to the policy rules, with where each rule is written', async () => {
    // Packets through each switch's own datapath: web -> db on the allowed port, on a denied port, and on one only the default decides.
    const counts: Record<string, { allowed: number; denied: number; byDefault: number }> = { sw0000: { allowed: 3, denied: 2, byDefault: 4 }, sw0001: { allowed: 5, denied: 1, byDefault: 2 } };
    fleet.switches.forEach((sw, i) => {
      const [web, db] = [`10.1.${i}.11`, `10.101.${i}.21`];
      const c = counts[sw.name];
      const send = (n: number, dport: number, want: 'permit' | 'deny'): void => {
        for (let k = 0; k < n; k++) expect(sw.datapath.offer({ inPort: 'eth1', flow: tcp(web, db, dport) }), `${sw.name} tcp ${dport}`).toBe(want);
      };
      send(c.allowed, 5001, 'permit');
      send(c.denied, 6000, 'deny');
      send(c.byDefault, 9999, 'deny');
    });
    fleet.hosts[0].hit(0, 7, 700);
    fleet.hosts[0].hit('default', 2, 120);

    const r = await weft(['status', '--counters', '--bundle', v1.dir, '--json', '--timeout', '5']);
    expect(r.code, r.err).toBe(0);
    const devices = (JSON.parse(r.out) as { devices: DeviceCounters[] }).devices;
    const hits = (device: string, kind: string, rule: string) => devices.find((d) => d.device === device)?.rules.find((x) => x.kind === kind && x.rule === rule);
    for (const [name, c] of Object.entries(counts)) {
      expect(devices.find((d) => d.device === name)?.state).toBe('read');
      expect(hits(name, 'rule', 'web-to-db')).toMatchObject({ action: 'allow', packets: String(c.allowed) });
      expect(hits(name, 'rule', 'web-to-db')?.source).toMatch(/policy-1\.yaml:\d+:\d+$/);
    }
    // The OpenConfig switch keeps deny-0 as entries of its own; the P4 exact block leaves it out (the default denies the same flows), so there the default counts them.
    expect(hits('sw0001', 'rule', 'deny-0')).toMatchObject({ action: 'deny', packets: String(counts.sw0001.denied) });
    expect(hits('sw0001', 'default', 'default')).toMatchObject({ action: 'deny', packets: String(counts.sw0001.byDefault) });
    expect(hits('sw0000', 'rule', 'deny-0')).toBeUndefined();
    expect(hits('sw0000', 'default', 'default')).toMatchObject({ action: 'deny', packets: String(counts.sw0000.denied + counts.sw0000.byDefault) });
    // P4 counts bytes too (the in-memory datapath counts none); OpenConfig's matched-packets has no bytes beside it.
    expect(hits('sw0000', 'rule', 'web-to-db')?.bytes).toBe('0');
    expect(hits('sw0001', 'rule', 'web-to-db')?.bytes).toBeUndefined();
    expect(hits('h0000', 'rule', 'web-to-db')).toMatchObject({ packets: '7', bytes: '700', action: 'allow' });
    expect(hits('h0000', 'default', 'default')).toMatchObject({ packets: '2', bytes: '120', action: 'deny' });

    const text = await weft(['status', '--counters', '--bundle', v1.dir]);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/^sw0000 \(p4\)$/m);
    expect(text.out).toMatch(new RegExp(`^  web-to-db +allow +\\S*policy-1\\.yaml:\\d+:\\d+ +${counts.sw0000.allowed} pkts +0 bytes$`, 'm'));
    expect(text.out).toMatch(new RegExp(`^  deny-0 +deny +\\S*policy-1\\.yaml:\\d+:\\d+ +${counts.sw0001.denied} pkts$`, 'm'));
    expect(text.out).toContain('3 devices read, 0 unreachable');
  });

  it('reports drift made behind its back within seconds (gNMI on its stream, P4 on a re-read), then the restore, and exits 2', async () => {
    // Generous start-up waits: the machine running the tests may be busy; what is timed is the drift, from the write on.
    const w = new Watch(['--bundle', v1.dir, '--interval', '1s', '--for', '25s', '--timeout', '3']);
    try {
      for (const d of ['sw0000', 'sw0001', 'h0000']) await w.next(stateOf(d, 'in-sync'), 30_000);
      const opened = await w.next((e) => e.event === 'stream' && e.device === 'sw0001' && e.status === 'open', 1000);
      expect(opened.e).toMatchObject({ status: 'open' });

      await gnmiSet('sw0001', buildSetRequest({ sets: [], interfaces: [] }));
      const drift = await w.next(stateOf('sw0001', 'drifted'), 3000);
      expect(drift.e).toMatchObject({ via: 'stream', from: 'in-sync' });
      expect(drift.e.event === 'state' && drift.e.differences.some((x) => /acl-set .*: missing/.test(x))).toBe(true);
      await gnmiSet('sw0001', setRequestOf(v1, 'sw0001'));
      const back = await w.next(stateOf('sw0001', 'in-sync'), 3000, drift.index);
      expect(back.e).toMatchObject({ via: 'stream', from: 'drifted' });

      // The entry as the switch holds it: in whichever policy generation the switch has active.
      const entries = JSON.parse(readFileSync(join(v1.deviceDir('sw0000'), 'entries.json'), 'utf8')) as EntriesDocument;
      const written = entries.updates[entries.updates.length - 1].entity.tableEntry as { tableId: number; priority?: number; metadata?: string };
      const held = (await p4Read('sw0000', written.tableId)).find((e) => e.priority === written.priority && e.metadata === written.metadata);
      expect(held).toBeDefined();
      const victim = { tableEntry: held };
      await p4Write('sw0000', [{ type: 'DELETE', entity: victim }]);
      const p4drift = await w.next(stateOf('sw0000', 'drifted'), 5000);
      expect(p4drift.e).toMatchObject({ via: 'read', from: 'in-sync' });
      expect(p4drift.e.event === 'state' && p4drift.e.differences.some((x) => x.startsWith('INSERT table'))).toBe(true);
      await p4Write('sw0000', [{ type: 'INSERT', entity: victim }]);
      await w.next(stateOf('sw0000', 'in-sync'), 5000, p4drift.index);

      expect(await w.code()).toBe(2);
      const end = await w.next((e) => e.event === 'end', 0);
      expect(end.e).toMatchObject({ drifted: ['sw0000', 'sw0001'], unreachable: [] });
      // The host never changed: one reading, no change after it.
      expect(w.events.filter((x) => x.e.event === 'state' && x.e.device === 'h0000').length).toBe(1);
    } finally {
      w.kill();
    }
  });

  it('says when a subscription drops, shows the switch unreachable, subscribes again when it is back, and stops on SIGTERM', async () => {
    const w = new Watch(['--bundle', v1.dir, '--interval', '1s', '--timeout', '2']);
    try {
      await w.next((e) => e.event === 'stream' && e.device === 'sw0001' && e.status === 'open', 30_000);
      await w.next(stateOf('sw0001', 'in-sync'), 5000);
      await fleet.stop('sw0001');
      const dropped = await w.next((e) => e.event === 'stream' && e.device === 'sw0001' && e.status === 'dropped', 3000);
      expect(dropped.e.event === 'stream' && dropped.e.retryInMs).toBeGreaterThan(0);
      await w.next(stateOf('sw0001', 'unreachable'), 5000);
      // It comes back empty, as a rebooted switch does: subscribed again, and drifted.
      await fleet.restart('sw0001');
      const again = await w.next((e) => e.event === 'stream' && e.device === 'sw0001' && e.status === 'open', 15_000, dropped.index + 1);
      const empty = await w.next(stateOf('sw0001', 'drifted'), 3000, again.index);
      expect(empty.e).toMatchObject({ via: 'stream', from: 'unreachable' });
      await gnmiSet('sw0001', setRequestOf(v1, 'sw0001'));
      await w.next(stateOf('sw0001', 'in-sync'), 3000, empty.index);
      w.kill();
      expect(await w.code()).toBe(2);
      expect((await w.next((e) => e.event === 'end', 0)).e).toMatchObject({ drifted: ['sw0001'], unreachable: ['sw0001'] });
    } finally {
      w.kill();
    }
  });

  it('with --counters, reports the rows that moved as packets pass', async () => {
    const w = new Watch(['--bundle', v1.dir, '--interval', '1s', '--timeout', '3', '--counters']);
    try {
      const first = await w.next((e) => e.event === 'counters' && e.device === 'sw0001', 30_000);
      const total = (e: WatchEvent, rule: string): bigint => BigInt((e.event === 'counters' && e.rules.find((r) => r.kind === 'rule' && r.rule === rule)?.packets) || '0');
      const sw = fleet.switches.find((s) => s.name === 'sw0001')!;
      for (let k = 0; k < 4; k++) expect(sw.datapath.offer({ inPort: 'eth1', flow: tcp('10.1.1.11', '10.101.1.21', 5001) })).toBe('permit');
      const moved = await w.next((e) => e.event === 'counters' && e.device === 'sw0001', 5000, first.index + 1);
      expect(moved.e.event === 'counters' && moved.e.moved).toEqual([{ rule: 'web-to-db', kind: 'rule', packets: '4' }]);
      expect(total(moved.e, 'web-to-db') - total(first.e, 'web-to-db')).toBe(4n);
      // Nothing else moved: no more counter events for the other devices after their first.
      expect(w.events.filter((x) => x.e.event === 'counters' && x.e.device === 'sw0000').length).toBe(1);
    } finally {
      w.kill();
    }
    expect(await w.code()).toBe(0);
  });

  it('refuses a bad duration as bad input', async () => {
    const r = await weft(['status', '--watch', '--bundle', v1.dir, '--for', 'soon']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--for: "soon" is not a duration (valid: a number with ms, s, m or h, e.g. 30s; a bare number is seconds)');
    const c = await weft(['status', '--watch', '--bundle', v1.dir, '--interval', '0s']);
    expect(c.code).toBe(2);
    expect(c.err).toContain('--interval: "0s" is not a positive duration');
  });
});
