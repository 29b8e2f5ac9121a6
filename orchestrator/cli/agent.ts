// `weft agent apply|status|remove`: the host-side agent. It reads only the
// bundle's devices/<NAME>/ files; the work is in targets/host/agent.ts.

import { flag, str, UsageError, type CliCommand, type CliIo } from './command.ts';
import type { AgentOptions, ApplyResult, RemoveResult, StatusResult } from '../../targets/host/agent.ts';

const SUBVERBS = ['apply', 'status', 'remove'] as const;

function printApply(io: CliIo, r: ApplyResult): void {
  const what = {
    load: 'loaded',
    reload: 'reloaded (new object or larger maps; conntrack kept)',
    delta: `switched (${r.entriesWritten} entries written, ${r.entriesDeleted} deleted)`,
    unchanged: 'unchanged',
  }[r.action];
  io.out(`${r.device} [${r.scope}]: generation ${r.generation} ${what} in ${r.ms.toFixed(1)} ms (${r.cpuMs.toFixed(1)} ms CPU)`);
  for (const a of r.attach) io.out(`  ${a.iface.padEnd(12)} ${a.hook.padEnd(11)} prog ${a.progId}${a.mode ? ` (${a.mode})` : ''}`);
}

function printStatus(io: CliIo, s: StatusResult): void {
  io.out(`${s.device} [${s.scope}]: generation ${s.generation} (slot ${s.activeSlot}), applied ${s.appliedAt} from ${s.bundle}`);
  io.out('attach points:');
  for (const a of s.attach) io.out(`  ${a.iface.padEnd(12)} ${a.hook.padEnd(11)} prog ${a.progId}${a.mode ? ` (${a.mode})` : ''} ${a.attached ? 'attached' : 'MISSING'}`);
  io.out('rule hits:');
  for (const r of s.rules) io.out(`  ${String(r.index).padStart(4)} ${r.name.padEnd(28)} ${r.action.padEnd(6)} ${r.hits}`);
  io.out(`     - ${'(default action)'.padEnd(28)} ${''.padEnd(6)} ${s.defaultHits}`);
  io.out('counters:');
  for (const [k, v] of Object.entries(s.counters)) io.out(`  ${k.padEnd(16)} ${v}`);
  io.out(`map memory: ${s.mapMemoryBytes} bytes`);
}

function printRemove(io: CliIo, r: RemoveResult): void {
  io.out(`${r.device ?? '(no agent state)'} [${r.scope}]: ${r.detached.length} attach points detached, ${r.unpinned.length} pinned objects removed`);
}

export const agentCommand: CliCommand = {
  name: 'agent',
  summary: 'install, inspect or remove the host datapath on this machine',
  usage: 'weft agent apply BUNDLE_DIR --device NAME [--netns NS] | weft agent status [--device NAME] [--netns NS] | weft agent remove [--netns NS]',
  options: [
    { name: 'device', type: 'string', help: 'the device of the bundle this machine is' },
    { name: 'netns', type: 'string', help: 'act inside this network namespace (ip netns name)' },
  ],
  async run(args, io) {
    const [sub, ...rest] = args.positional;
    if (!sub || !(SUBVERBS as readonly string[]).includes(sub)) {
      throw new UsageError(`expected a sub-command: ${SUBVERBS.join('|')}${sub ? ` (got "${sub}")` : ''}`);
    }
    const opts: AgentOptions = { netns: str(args, 'netns') };
    const json = flag(args, 'json');
    // Loaded here: the agent needs libbpf, other verbs do not.
    const agent = await import('../../targets/host/agent.ts');
    switch (sub as (typeof SUBVERBS)[number]) {
      case 'apply': {
        const bundle = rest[0];
        const device = str(args, 'device');
        if (!bundle) throw new UsageError('apply needs the bundle directory');
        if (!device) throw new UsageError('apply needs --device NAME');
        const r = agent.agentApply(bundle, device, opts);
        if (json) io.out(JSON.stringify(r, null, 2));
        else printApply(io, r);
        return 0;
      }
      case 'status': {
        const scopes = opts.netns !== undefined ? [opts.netns] : agent.agentScopes(opts).map((s) => (s === 'host' ? undefined : s));
        if (scopes.length === 0) scopes.push(undefined);
        const all = scopes.map((ns) => agent.agentStatus({ ...opts, netns: ns }));
        const device = str(args, 'device');
        const shown = device ? all.filter((s) => s.device === device) : all;
        if (device && shown.length === 0) throw new Error(`no agent state for device ${device} (present: ${all.map((s) => s.device).join(', ')})`);
        if (json) io.out(JSON.stringify(opts.netns !== undefined || device ? shown[0] : shown, null, 2));
        else shown.forEach((s) => printStatus(io, s));
        return 0;
      }
      case 'remove': {
        const r = agent.agentRemove(opts);
        if (json) io.out(JSON.stringify(r, null, 2));
        else printRemove(io, r);
        return 0;
      }
      default: {
        const never: never = sub as never;
        return never;
      }
    }
  },
};
