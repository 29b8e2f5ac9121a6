// The host (and DPU) driver: reaches a device over SSH with its pinned host
// key, ships the agent there when the device's copy differs
// (agent-ship.ts), copies the device's part of the bundle over SFTP and runs
// the agent on it; reads back what the agent runs (`agent status`), and
// compares two generations' maps.json entry by entry for plans and diffs.
// Commit-confirmed is the agent's own timer: the push runs `agent apply
// --confirm-within`, the confirm runs `agent confirm`.

import { readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { MANIFEST_FILE } from '../../orchestrator/compile/bundle.ts';
import type { Manifest } from '../../orchestrator/compile/manifest.ts';
import { SshSession, type SshTarget } from '../../orchestrator/rollout/ssh.ts';
import { withConnection, type Link } from '../connections.ts';
import type { ArtefactChange, DeviceArtefacts, DriverContext, PushOptions, ReadBack, RuleHits, SelfRevert, TargetDriver } from '../contract.ts';
import { hitsOfAgentStatus } from './counters.ts';
import { agentCommandLine, remoteAgentDir, shipAgent } from './agent-ship.ts';
import { readHostEntries, readHostRules } from './share.ts';

/** The command line that runs the agent already on the device (the one place that says how the agent is started there). */
function remoteAgentCommand(ctx: DriverContext, args: string[]): string {
  return agentCommandLine(remoteAgentDir(ctx.ssh.stagingDir), args);
}

function sshTarget(ctx: DriverContext): SshTarget {
  const { device } = ctx;
  const ssh = device.mgmt.ssh ?? { user: 'root', port: 22 };
  if (!device.mgmt.address) throw new Error(`${device.name}: no mgmt.address in the inventory (needed to reach it over SSH)`);
  return { name: device.name, host: device.mgmt.address, port: ssh.port, user: ssh.user, privateKey: readFileSync(ctx.ssh.identityFile), hostKey: ssh.hostKey };
}

/** The rollout driver's SSH session to a device; held by a run, it serves the device's push and its end-of-run read-back. */
const sessionLink = (ctx: DriverContext): Link<SshSession> => ({
  open: () => SshSession.connect(sshTarget(ctx), ctx.timeoutMs),
  usable: (s) => s.usable,
  close: (s) => s.close(),
});

const withSession = <T>(ctx: DriverContext, f: (s: SshSession) => Promise<T>): Promise<T> => withConnection(ctx.connections, ctx.device.name, sessionLink(ctx), f);

/** Where a generation's bundle is copied on the device: its name says which generation the agent runs. */
function remoteBundleDir(ctx: DriverContext, generation: string): string {
  return posix.join(ctx.ssh.stagingDir, `${ctx.device.name}-${generation.slice(0, 16)}`);
}

/** The last manifest read, by bundle directory: a rollout asks once per host, and the manifest grows with the fabric. */
let manifestCache: { key: string; manifest: Manifest } | undefined;

/**
 * The bundle's manifest with only this device's entry, as the device gets
 * it: the whole manifest names every device of the fabric (about 2 kB
 * each), which no device reads, and copying it to each host would make a
 * rollout's traffic grow with hosts times devices.
 */
function manifestExcerpt(bundleDir: string, device: string): Uint8Array {
  const path = join(bundleDir, MANIFEST_FILE);
  const st = statSync(path);
  const key = `${path}\0${st.mtimeMs}\0${st.size}`;
  if (manifestCache?.key !== key) manifestCache = { key, manifest: JSON.parse(readFileSync(path, 'utf8')) as Manifest };
  const { manifest } = manifestCache;
  return Buffer.from(`${JSON.stringify({ ...manifest, devices: manifest.devices.filter((d) => d.name === device) }, null, 2)}\n`);
}

const lastLines = (r: { stdout: string; stderr: string }): string => (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');

/** Asks the agent on an open session what it runs and compares it with `art`. */
async function compareStatus(session: SshSession, ctx: DriverContext, art: DeviceArtefacts): Promise<ReadBack> {
  const r = await session.exec(remoteAgentCommand(ctx, ['status', '--device', ctx.device.name, '--json']));
  if (r.code !== 0) return { differences: [`agent status exited ${r.code}: ${lastLines(r)}`], entries: 0 };
  const status = JSON.parse(r.stdout) as { bundle: string; rules?: { name: string; action: string }[]; drops?: unknown[] };
  const differences: string[] = [];
  const dir = remoteBundleDir(ctx, art.generation);
  // The agent may report the directory resolved (symlinks, a trailing slash): its generation-named last part is what counts.
  if (posix.basename(posix.normalize(status.bundle)) !== posix.basename(dir)) differences.push(`agent runs bundle ${status.bundle}, not ${dir}`);
  // A NIC prefilter's agent (targets/dpu/agent.ts) reports its drops per rule, not the host's rule list: the generation-named bundle is what it runs.
  if (!status.rules) return { differences, entries: status.drops?.length ?? 0 };
  const wanted = readHostRules(art.deviceDir);
  const show = (rs: { name: string; action: string }[]): string[] => rs.map((x) => `${x.name}:${x.action}`);
  const [have, want] = [show(status.rules), show(wanted)];
  for (const x of want.filter((w) => !have.includes(w))) differences.push(`rule ${x}: missing`);
  for (const x of have.filter((h) => !want.includes(h))) differences.push(`rule ${x}: not in the artefacts`);
  if (differences.length === 0 && have.join(',') !== want.join(',')) differences.push(`rules run in another order: ${have.join(', ')}`);
  return { differences, entries: status.rules.length };
}

async function push(ctx: DriverContext, art: DeviceArtefacts, opts?: PushOptions): Promise<string> {
  return withSession(ctx, async (session) => {
    const remote = remoteBundleDir(ctx, art.generation);
    // The agent reads only its own device directory; the manifest excerpt says which bundle it came from.
    const own = `devices/${ctx.device.name}`;
    const manifest = { path: MANIFEST_FILE, data: manifestExcerpt(art.bundleDir, ctx.device.name) };
    const files = await session.upload(art.bundleDir, remote, (rel) => rel === 'devices' || rel === own || rel.startsWith(`${own}/`), [manifest]);
    const shipped = await shipAgent(session, remoteAgentDir(ctx.ssh.stagingDir), ctx.device.name);
    const confirm = opts?.confirm ? ['--confirm-within', `${Math.max(1, Math.floor(opts.confirm.withinMs))}ms`] : [];
    const r = await session.exec(agentCommandLine(shipped.agentDir, ['apply', remote, '--device', ctx.device.name, ...confirm, '--json']));
    if (r.code !== 0) throw new Error(`${ctx.device.name}: weft agent apply exited ${r.code}: ${lastLines(r)}`);
    const rb = await compareStatus(session, ctx, art);
    if (rb.differences.length) throw new Error(`${ctx.device.name}: the agent applied, but runs something else: ${rb.differences.slice(0, 3).join('; ')}`);
    return `${files} files copied, agent applied ${art.generation.slice(0, 12)}${opts?.confirm ? ' (its timer reverts unless confirmed)' : ''}, ${rb.entries} rules read back`;
  });
}

const readBack = (ctx: DriverContext, art: DeviceArtefacts): Promise<ReadBack> => withSession(ctx, (session) => compareStatus(session, ctx, art));

async function remove(ctx: DriverContext): Promise<string> {
  return withSession(ctx, async (session) => {
    const r = await session.exec(remoteAgentCommand(ctx, ['remove', '--json']));
    if (r.code !== 0) throw new Error(`${ctx.device.name}: weft agent remove exited ${r.code}: ${lastLines(r)}`);
    return 'agent removed';
  });
}

/** Entries of `a` not in `b`, counted with multiplicity. */
function missingFrom(a: string[], b: string[]): number {
  const left = new Map<string, number>();
  for (const k of b) left.set(k, (left.get(k) ?? 0) + 1);
  let n = 0;
  for (const k of a) {
    const c = left.get(k) ?? 0;
    if (c > 0) left.set(k, c - 1);
    else n++;
  }
  return n;
}

async function diff(beforeDir: string, afterDir: string): Promise<ArtefactChange> {
  const [before, after] = [readHostEntries(beforeDir), readHostEntries(afterDir)];
  const key = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  const parts: string[] = [];
  let added = 0;
  let removed = 0;
  const count = (name: string, b: string[], a: string[]): void => {
    const [plus, minus] = [missingFrom(a, b), missingFrom(b, a)];
    added += plus;
    removed += minus;
    if (plus || minus || name === 'rules') parts.push(`${name} +${plus} -${minus}`);
  };
  count('rules', before.rules.map(key), after.rules.map(key));
  for (const name of [...new Set([...Object.keys(before.maps), ...Object.keys(after.maps)])].sort()) count(name, before.maps[name] ?? [], after.maps[name] ?? []);
  const modified = before.defaultAction !== after.defaultAction ? 1 : 0;
  if (modified) parts.unshift(`default ${before.defaultAction} -> ${after.defaultAction}`);
  return { added, removed, modified, summary: `maps.json: ${parts.join(', ')}` };
}

/** Per-rule counters from the agent's status (targets/host/counters.ts). */
const counters = (ctx: DriverContext): Promise<RuleHits[]> =>
  withSession(ctx, async (session) => {
    const r = await session.exec(remoteAgentCommand(ctx, ['status', '--device', ctx.device.name, '--json']));
    if (r.code !== 0) throw new Error(`${ctx.device.name}: weft agent status exited ${r.code}: ${lastLines(r)}`);
    return hitsOfAgentStatus(JSON.parse(r.stdout));
  });


/** The agent's confirm timer; a plain push supersedes it, so there is no cancel. */
export const agentSelfRevert: SelfRevert = {
  unsupported: async () => undefined,
  confirm: (ctx) =>
    withSession(ctx, async (session) => {
      const r = await session.exec(remoteAgentCommand(ctx, ['confirm', '--device', ctx.device.name, '--json']));
      if (r.code !== 0) throw new Error(`${ctx.device.name}: weft agent confirm exited ${r.code}: ${lastLines(r)}`);
      return `agent confirmed generation ${(JSON.parse(r.stdout) as { generation: number }).generation}`;
    }),
  extend: (ctx, _id, withinMs) =>
    withSession(ctx, async (session) => {
      const r = await session.exec(remoteAgentCommand(ctx, ['confirm', '--device', ctx.device.name, '--extend', `${Math.max(1, Math.floor(withinMs))}ms`, '--json']));
      if (r.code !== 0) throw new Error(`${ctx.device.name}: weft agent confirm --extend exited ${r.code}: ${lastLines(r)}`);
      return `agent timer moved to ${(JSON.parse(r.stdout) as { confirmBy: string }).confirmBy}`;
    }),
};

export const hostDriver: TargetDriver = { transport: 'ssh', wave: 2, push, readBack, remove, diff, counters, selfRevert: agentSelfRevert };
