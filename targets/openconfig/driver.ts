// Talks to one OpenConfig switch: pushes a compiled device directory
// (set-request.json) in one gNMI Set, reads the result back, and checks a
// running switch for drift from its artefact. When a Set fails the driver
// asks the switch what it now runs, so the caller learns that nothing was
// half-applied (the switch holds the old or the new configuration, whole).
// An artefact whose entries name defined sets is read back with /defined-sets
// and pushed only to a switch that lists openconfig-defined-sets. A push may
// carry the gNMI commit-confirmed extension (the switch reverts by itself
// unless confirmed); a switch whose Capabilities do not list it is refused.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GnmiClient, type GnmiClientOptions } from './client.ts';
import { jsonIetfValue, msDuration, type CapabilityResponse, type CommitExtension, type SetRequest } from './gnmi.ts';
import { aclContentJson, DEFINED_SETS_MODULE, definedSetsContentJson, expandedEntryCount, parseAclConfig, parseDefinedSets, resolveDefinedSets, type AclConfig, type DefinedSets } from './model.ts';
import { readAclConfig } from './verify.ts';
import { buildSetRequest } from './set-request.ts';
import type { Device } from '../../inventory/model.ts';
import type { DriftReport, DriftWatch, DriverContext, PushOptions, ReadBack, TargetDriver } from '../contract.ts';
import { withConnection, type Link } from '../connections.ts';
import { openconfigCounterHits } from './counters.ts';
import { StreamEnded, streamRoots, type RootStream } from './watch.ts';

export interface DeviceArtefacts {
  acl: AclConfig;
  setRequest: SetRequest;
}

/** Read at once: the files are a few kilobytes, and an asynchronous read's four steps cost a thousand-switch rollout more CPU than the reads. */
export async function readDeviceDir(deviceDir: string): Promise<DeviceArtefacts> {
  const acl = readAclConfig(readFileSync(join(deviceDir, 'acl.json'), 'utf8'));
  const setRequest = JSON.parse(readFileSync(join(deviceDir, 'set-request.json'), 'utf8')) as SetRequest;
  return { acl, setRequest };
}

function canonical(c: AclConfig): string {
  return JSON.stringify([aclContentJson(c), c.definedSets ? definedSetsContentJson(c.definedSets) : null]);
}

/** Differences in prefix-sets and port-sets, by name. */
function diffDefinedSets(running: DefinedSets | undefined, wanted: DefinedSets | undefined): string[] {
  const flat = (d: DefinedSets | undefined): Map<string, string> =>
    new Map([
      ...(d?.prefixSets ?? []).map((p) => [`ipv${p.family}-prefix-set ${p.name}`, JSON.stringify(definedSetsContentJson({ prefixSets: [p], portSets: [] }))] as const),
      ...(d?.portSets ?? []).map((p) => [`port-set ${p.name}`, JSON.stringify(p.ports)] as const),
    ]);
  const run = flat(running);
  const want = flat(wanted);
  const out: string[] = [];
  for (const [k, v] of want) {
    if (!run.has(k)) out.push(`${k}: missing`);
    else if (run.get(k) !== v) out.push(`${k}: members differ`);
  }
  for (const k of run.keys()) if (!want.has(k)) out.push(`${k}: not in the artefact`);
  return out;
}

/** Human-readable differences between what runs and what should. */
export function diffAcl(running: AclConfig, wanted: AclConfig): string[] {
  const out: string[] = [];
  const key = (s: { name: string; type: string }): string => `${s.name} ${s.type}`;
  const run = new Map(running.sets.map((s) => [key(s), s]));
  const want = new Map(wanted.sets.map((s) => [key(s), s]));
  for (const [k, s] of want) {
    const r = run.get(k);
    if (!r) out.push(`acl-set ${k}: missing`);
    else if (JSON.stringify(aclContentJson({ sets: [r], interfaces: [] })) !== JSON.stringify(aclContentJson({ sets: [s], interfaces: [] }))) {
      out.push(`acl-set ${k}: entries differ (${r.entries.length} running, ${s.entries.length} wanted)`);
    }
  }
  for (const k of run.keys()) if (!want.has(k)) out.push(`acl-set ${k}: not in the artefact`);
  const bind = (c: AclConfig): Map<string, string> => new Map(c.interfaces.map((i) => [i.id, i.ingress.map((r) => `${r.setName} ${r.type}`).sort().join(', ')]));
  const rb = bind(running);
  const wb = bind(wanted);
  for (const [id, b] of wb) if (rb.get(id) !== b) out.push(`interface ${id}: ingress ${rb.get(id) ?? 'unbound'}, wanted ${b}`);
  for (const id of rb.keys()) if (!wb.has(id)) out.push(`interface ${id}: bound, but not in the artefact`);
  out.push(...diffDefinedSets(running.definedSets, wanted.definedSets));
  return out;
}

/** The subtrees an artefact's configuration lives in. */
const rootsOf = (acl: AclConfig): string[] => (acl.definedSets ? ['/acl', '/defined-sets'] : ['/acl']);

/** Entries the running configuration holds, as read-back reports them. */
const entryCount = (running: AclConfig): number => running.sets.reduce((n, s) => n + s.entries.length, 0);

/** The configuration from the roots' JSON_IETF values. */
function aclOfRoots(values: Map<string, unknown>): AclConfig {
  const ds = values.get('/defined-sets');
  return parseAclConfig(values.get('/acl'), undefined, ds === undefined ? undefined : parseDefinedSets(ds));
}

export class OpenconfigDriver {
  private readonly client: GnmiClient;
  /**
   * The switch's Capabilities, asked once per connection: they describe the
   * software it runs, which a connection does not outlive (a rollout holds
   * one driver per switch for the whole run, and a switch that restarts
   * drops it).
   */
  private caps?: Promise<CapabilityResponse>;

  constructor(address: string, opts: GnmiClientOptions = {}) {
    this.client = new GnmiClient(address, opts);
  }

  /** The switch's running acl configuration (Get /acl, and /defined-sets when `definedSets`). */
  async running(definedSets = false): Promise<AclConfig> {
    if (!definedSets) return parseAclConfig(await this.client.getJson('/acl'));
    const [acl, sets] = await this.client.getJsonOf(['/acl', '/defined-sets']);
    return parseAclConfig(acl, undefined, parseDefinedSets(sets));
  }

  /** Checks the switch speaks openconfig-acl (and openconfig-defined-sets when `definedSets`) in JSON_IETF before anything is written. */
  async checkCapabilities(definedSets = false): Promise<void> {
    const caps = await this.capabilities();
    const models = caps.supportedModels ?? [];
    if (!models.some((m) => m.name === 'openconfig-acl')) {
      throw new Error(`gnmi ${this.client.address}: the switch does not list openconfig-acl among its models`);
    }
    if (definedSets && !models.some((m) => m.name === DEFINED_SETS_MODULE)) {
      throw new Error(
        `gnmi ${this.client.address}: the artefact references ${DEFINED_SETS_MODULE} prefix-sets and port-sets, which the switch does not list among its models; ` +
          'set capabilities: {definedSets: false} on this device in the inventory and compile again',
      );
    }
    if (!(caps.supportedEncodings ?? []).includes('JSON_IETF')) {
      throw new Error(`gnmi ${this.client.address}: the switch does not accept JSON_IETF (has ${(caps.supportedEncodings ?? []).join(', ')})`);
    }
  }

  /** Whether the switch lists the commit-confirmed extension in its Capabilities. */
  async commitConfirmed(): Promise<boolean> {
    return ((await this.capabilities()).extension ?? []).some((e) => e.commit !== undefined);
  }

  private capabilities(): Promise<CapabilityResponse> {
    this.caps ??= this.client.capabilities().catch((e: unknown) => {
      this.caps = undefined;
      throw e;
    });
    return this.caps;
  }

  /** One action on the switch's commit-confirmed slot, in a Set carrying no configuration. */
  async commitAction(id: string, action: 'confirm' | 'cancel'): Promise<void> {
    const commit: CommitExtension = action === 'confirm' ? { id, confirm: {} } : { id, cancel: {} };
    await this.client.set({ extension: [{ commit }] });
  }

  /** set_rollback_duration: the switch's rollback of commit `id` restarts with `withinMs` to go. */
  async extendCommit(id: string, withinMs: number): Promise<void> {
    await this.client.set({ extension: [{ commit: { id, setRollbackDuration: { rollbackDuration: msDuration(withinMs) } } }] });
  }

  /**
   * Pushes a compiled device directory in one Set and confirms the switch runs it; `entries` is what the device programs (the expansion).
   * With `commit`, the Set carries the commit-confirmed extension: the switch goes back unless confirmed within `withinMs`.
   */
  async apply(deviceDir: string, commit?: { id: string; withinMs: number }): Promise<{ entries: number }> {
    const art = await readDeviceDir(deviceDir);
    const sets = art.acl.definedSets !== undefined;
    await this.checkCapabilities(sets);
    if (commit && !(await this.commitConfirmed())) {
      throw new Error(`gnmi ${this.client.address}: the switch does not list the commit-confirmed extension in its Capabilities, so it cannot revert by itself`);
    }
    const request: SetRequest = commit ? { ...art.setRequest, extension: [{ commit: { id: commit.id, commit: { rollbackDuration: msDuration(commit.withinMs) } } }] } : art.setRequest;
    try {
      await this.client.set(request);
    } catch (e) {
      throw new Error(`${e instanceof Error ? e.message : String(e)}; ${await this.stateAfterFailure(art.acl)}`);
    }
    const diff = diffAcl(await this.running(sets), art.acl);
    if (diff.length > 0) throw new Error(`gnmi ${this.client.address}: the switch accepted the Set but runs something else: ${diff.join('; ')}`);
    return { entries: expandedEntryCount(art.acl) };
  }

  private async stateAfterFailure(wanted: AclConfig): Promise<string> {
    try {
      const running = await this.running(wanted.definedSets !== undefined);
      return canonical(running) === canonical(wanted)
        ? 'the switch runs the new configuration in full (the reply was lost)'
        : 'the switch still runs its previous configuration, unchanged';
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      return `the switch cannot be read back (${why}); a gNMI Set is all or nothing, so it runs either the previous or the new configuration: apply again to converge`;
    }
  }

  /** Drift check: Subscribe ONCE to /acl (and /defined-sets when the artefact names sets) and compare with the artefact. */
  async drift(deviceDir: string): Promise<string[]> {
    const art = await readDeviceDir(deviceDir);
    const roots = rootsOf(art.acl);
    const notes = await this.client.once(roots);
    const ups = notes.flatMap((n) => n.update ?? []).filter((x) => x.val?.jsonIetfVal !== undefined);
    const at = (root: string) => ups.find((x) => x.path?.elem?.[0]?.name === root.slice(1));
    const missing = roots.filter((r) => !at(r));
    if (missing.length > 0) return missing.map((r) => `the switch sent no ${r} configuration`);
    return diffAcl(aclOfRoots(new Map(roots.map((r) => [r, jsonIetfValue(at(r)!.val)]))), art.acl);
  }

  /**
   * Streams drift: Subscribe STREAM (ON_CHANGE) to the roots the artefact
   * uses, and a read-back against it at the sync and after each change;
   * closes itself (and the client) when the stream ends.
   */
  watch(deviceDir: string, timeoutMs: number, report: (r: DriftReport) => void): DriftWatch {
    let closed = false;
    let stream: RootStream | undefined;
    const stop = (): void => {
      closed = true;
      stream?.close();
      this.close();
    };
    const fail = (e: unknown): void => {
      if (closed) return;
      report({ error: e instanceof Error ? e : new Error(String(e)), unsupported: e instanceof StreamEnded && e.unsupported });
      stop();
    };
    void readDeviceDir(deviceDir).then((art) => {
      if (closed) return;
      const sets = art.acl.definedSets !== undefined;
      const readBack = (running: AclConfig): ReadBack => ({ differences: diffAcl(running, art.acl), entries: entryCount(running) });
      stream = streamRoots(
        this.client,
        rootsOf(art.acl),
        timeoutMs,
        async (values) => {
          const running = values ? aclOfRoots(values) : await this.running(sets);
          if (!closed) report({ readBack: readBack(running) });
        },
        fail,
      );
    }, fail);
    return { close: stop };
  }

  /** Per-entry matched-packets counters, keyed "interface/set/type/seq". */
  async counters(): Promise<Map<string, bigint>> {
    const path = '/acl/interfaces/interface/ingress-acl-sets/ingress-acl-set/acl-entries/acl-entry/state/matched-packets';
    const notes = await this.client.once([path]);
    const out = new Map<string, bigint>();
    for (const u of notes.flatMap((n) => n.update ?? [])) {
      const e = u.path?.elem ?? [];
      const k = `${e[2]?.key?.id}/${e[4]?.key?.['set-name']}/${e[4]?.key?.type}/${e[6]?.key?.['sequence-id']}`;
      out.set(k, BigInt(u.val?.uintVal ?? 0));
    }
    return out;
  }

  /** Replaces every acl-set and binding by none. */
  async removeAll(): Promise<void> {
    await this.client.set(buildSetRequest({ sets: [], interfaces: [] }));
  }

  get usable(): boolean {
    return this.client.usable;
  }

  close(): void {
    this.client.close();
  }
}

export function gnmiAddress(device: Device): string {
  const a = device.mgmt.address;
  if (!a || !device.mgmt.gnmi) throw new Error(`${device.name}: no mgmt.address / mgmt.gnmi in the inventory (needed to reach its gNMI server)`);
  return `${a.includes(':') ? `[${a}]` : a}:${device.mgmt.gnmi.port}`;
}

/** The rollout driver's gNMI channel to a switch; held by a run, it serves the device's push and its end-of-run read-back. */
const switchLink = (ctx: DriverContext): Link<OpenconfigDriver> => ({
  open: async () => new OpenconfigDriver(gnmiAddress(ctx.device), { timeoutMs: ctx.timeoutMs }),
  usable: (d) => d.usable,
  close: (d) => d.close(),
});

const withDriver = <T>(ctx: DriverContext, f: (d: OpenconfigDriver) => Promise<T>): Promise<T> => withConnection(ctx.connections, ctx.device.name, switchLink(ctx), f);

/** Entries as the device programs them: a changed set member shows as changed entries. */
const entryKeys = (c: AclConfig): string[] =>
  resolveDefinedSets(c).sets.flatMap((s) => s.entries.map((e) => `${s.name} ${s.type} ${JSON.stringify(e, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x))}`));

/** The OpenConfig target's side of the rollout contract (targets/contract.ts). */
export const openconfigDriver: TargetDriver = {
  transport: 'gnmi',
  wave: 1,
  push: (ctx, art, opts?: PushOptions) =>
    withDriver(ctx, async (d) => `gNMI Set of ${(await d.apply(art.deviceDir, opts?.confirm)).entries} acl entries${opts?.confirm ? ` (commit ${opts.confirm.id}, rolls back unless confirmed)` : ''}, read back identical`),
  selfRevert: {
    unsupported: (ctx) => withDriver(ctx, async (d) => ((await d.commitConfirmed()) ? undefined : 'its gNMI Capabilities do not list the commit-confirmed extension')),
    confirm: (ctx, id) => withDriver(ctx, async (d) => (await d.commitAction(id, 'confirm'), `gNMI commit ${id} confirmed`)),
    cancel: (ctx, id) => withDriver(ctx, async (d) => (await d.commitAction(id, 'cancel'), `gNMI commit ${id} cancelled: the switch went back`)),
    extend: (ctx, id, withinMs) => withDriver(ctx, async (d) => (await d.extendCommit(id, withinMs), `gNMI commit ${id}: set_rollback_duration ${Math.ceil(withinMs / 1000)}s`)),
  },
  readBack: (ctx, art) =>
    withDriver(ctx, async (d) => {
      const wanted = (await readDeviceDir(art.deviceDir)).acl;
      // Set references resolve only against the switch's own defined-sets, read with the acl.
      const running = await d.running(wanted.definedSets !== undefined);
      return { differences: diffAcl(running, wanted), entries: entryCount(running) };
    }),
  remove: (ctx) => withDriver(ctx, async (d) => (await d.removeAll(), 'acl-sets and bindings replaced by none')),
  counters: (ctx, art) =>
    withDriver(ctx, async (d) => {
      const sets = (await readDeviceDir(art.deviceDir)).acl.definedSets !== undefined;
      return openconfigCounterHits(await d.running(sets), await d.counters());
    }),
  watch: (ctx, art, report) => new OpenconfigDriver(gnmiAddress(ctx.device), { timeoutMs: ctx.timeoutMs }).watch(art.deviceDir, ctx.timeoutMs, report),
  async diff(beforeDir, afterDir) {
    const [b, a] = [(await readDeviceDir(beforeDir)).acl, (await readDeviceDir(afterDir)).acl];
    const [kb, ka] = [new Set(entryKeys(b)), new Set(entryKeys(a))];
    const added = [...ka].filter((k) => !kb.has(k)).length;
    const removed = [...kb].filter((k) => !ka.has(k)).length;
    const details = diffAcl(b, a);
    return { added, removed, modified: 0, summary: `acl entries +${added} -${removed}${details.length ? `; ${details.join('; ')}` : ''}` };
  },
};
