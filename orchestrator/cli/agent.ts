// `weft agent apply|status|logs|confirm|remove`: the host-side agent, also
// shipped on its own as `weft-agent` (targets/host/agent-main.ts). It reads
// only the bundle's devices/<NAME>/ files; the work is in targets/host/.

import { flag, num, str, UsageError, type CliCommand, type CliIo } from './command.ts';
import type { AgentOptions, ApplyResult, RemoveResult, StatusResult } from '../../targets/host/agent.ts';
import type { ConfirmedApplyResult } from '../../targets/host/confirm.ts';

/** revert-unconfirmed is the confirm timer's own verb, run by the agent itself. */
const SUBVERBS = ['apply', 'status', 'logs', 'confirm', 'remove', 'revert-unconfirmed'] as const;

function printApply(io: CliIo, r: ApplyResult): void {
  const what = {
    load: 'loaded',
    reload: 'reloaded (new object or larger maps; conntrack kept)',
    delta: `switched (${r.entriesWritten} entries written, ${r.entriesDeleted} deleted)`,
    unchanged: 'unchanged',
  }[r.action];
  io.out(`${r.device} [${r.scope}]: generation ${r.generation} ${what} in ${r.ms.toFixed(1)} ms (${r.cpuMs.toFixed(1)} ms CPU)`);
  const c = r as Partial<ConfirmedApplyResult>;
  if (c.confirmBy) {
    io.out(`  confirm by ${c.confirmBy} (weft agent confirm --device ${r.device}), else ${c.revertsTo === null ? 'the datapath is removed' : `generation ${c.revertsTo} comes back`}`);
  }
  for (const a of r.attach) io.out(`  ${a.iface.padEnd(12)} ${a.hook.padEnd(11)} prog ${a.progId}${a.mode ? ` (${a.mode})` : ''}`);
}

function printStatus(io: CliIo, s: StatusResult): void {
  io.out(`${s.device} [${s.scope}]: generation ${s.generation} (slot ${s.activeSlot}), applied ${s.appliedAt} from ${s.bundle} by weft-agent ${s.agentVersion}`);
  if (s.pendingConfirm) io.out(`  awaiting confirmation until ${s.pendingConfirm.deadline} (weft agent confirm --device ${s.device})`);
  io.out('attach points:');
  for (const a of s.attach) io.out(`  ${a.iface.padEnd(12)} ${a.hook.padEnd(11)} prog ${a.progId}${a.mode ? ` (${a.mode})` : ''} ${a.attached ? 'attached' : 'MISSING'}`);
  io.out('rule hits (packets, bytes):');
  for (const r of s.rules) io.out(`  ${String(r.index).padStart(4)} ${r.name.padEnd(28)} ${r.action.padEnd(6)} ${r.packets.padStart(10)} ${r.bytes.padStart(12)}${r.log ? '  log' : ''}`);
  const d = s.ruleCounters.default;
  io.out(`     - ${'(default action)'.padEnd(28)} ${''.padEnd(6)} ${d.packets.padStart(10)} ${d.bytes.padStart(12)}`);
  io.out(`flow logs: at most ${s.logRate} events per second per CPU`);
  io.out('counters:');
  for (const [k, v] of Object.entries(s.counters)) io.out(`  ${k.padEnd(16)} ${v}`);
  io.out(`map memory: ${s.mapMemoryBytes} bytes`);
}

function printRemove(io: CliIo, r: RemoveResult): void {
  io.out(`${r.device ?? '(no agent state)'} [${r.scope}]: ${r.detached.length} attach points detached, ${r.unpinned.length} pinned objects removed`);
}

export interface AgentProgram {
  /** How messages and help name the program. */
  title: string;
  /** The argv after `node` that runs this program's agent verbs again (for the confirm timer). */
  self: string[];
}

/** The verb, for `weft agent` or for the shipped `weft-agent` (which has no verb in front). */
export function agentCommandFor(program: AgentProgram): CliCommand {
  const p = program.title;
  return {
    name: 'agent',
    summary: 'install, inspect or remove the host datapath on this machine',
    usage: [
      `${p} apply BUNDLE_DIR --device NAME [--netns NS] [--confirm-within DUR] [--log-rate N]`,
      `${p} status [--device NAME] [--netns NS]`,
      `${p} logs [--netns NS] [--follow]`,
      `${p} confirm --device NAME [--netns NS]`,
      `${p} remove [--netns NS]`,
    ].join(' | '),
    options: [
      { name: 'device', type: 'string', help: 'the device of the bundle this machine is' },
      { name: 'netns', type: 'string', help: 'act inside this network namespace (ip netns name)' },
      { name: 'confirm-within', type: 'string', help: 'apply: go back to the previous generation unless `confirm` comes within this time (30s, 2m)' },
      { name: 'log-rate', type: 'number', help: 'apply: flow log events per second per CPU, also the burst [default: 100]' },
      { name: 'follow', type: 'boolean', help: 'logs: keep printing events as they come (until interrupted)' },
      { name: 'token', type: 'string', help: 'revert-unconfirmed: the timer the apply started (internal)' },
    ],
    async run(args, io) {
      const [sub, ...rest] = args.positional;
      if (!sub || !(SUBVERBS as readonly string[]).includes(sub)) {
        throw new UsageError(`expected a sub-command: ${SUBVERBS.slice(0, -1).join('|')}${sub ? ` (got "${sub}")` : ''}`);
      }
      const logRate = num(args, 'log-rate');
      if (logRate !== undefined && (!Number.isInteger(logRate) || logRate < 1 || logRate > 1_000_000)) {
        throw new UsageError(`--log-rate must be a whole number of events per second from 1 to 1000000, got ${logRate}`);
      }
      const opts: AgentOptions = { netns: str(args, 'netns'), logRate };
      const json = flag(args, 'json');
      // Loaded here: the agent needs libbpf, other verbs do not.
      const agent = await import('../../targets/host/agent.ts');
      const confirm = await import('../../targets/host/confirm.ts');
      const device = str(args, 'device');
      switch (sub as (typeof SUBVERBS)[number]) {
        case 'apply': {
          const bundle = rest[0];
          if (!bundle) throw new UsageError('apply needs the bundle directory');
          if (!device) throw new UsageError('apply needs --device NAME');
          const within = str(args, 'confirm-within');
          let withinMs: number | undefined;
          try {
            withinMs = within === undefined ? undefined : confirm.parseDuration(within);
          } catch (e) {
            throw new UsageError(`--confirm-within: ${(e as Error).message}`);
          }
          const r = withinMs === undefined ? confirm.applyNow(bundle, device, opts) : confirm.applyConfirmed(bundle, device, opts, withinMs, program.self);
          if (json) io.out(JSON.stringify(r, null, 2));
          else printApply(io, r);
          return 0;
        }
        case 'status': {
          const scopes = opts.netns !== undefined ? [opts.netns] : agent.agentScopes(opts).map((s) => (s === 'host' ? undefined : s));
          if (scopes.length === 0) scopes.push(undefined);
          const all = scopes.map((ns) => agent.agentStatus({ ...opts, netns: ns }));
          const shown = device ? all.filter((s) => s.device === device) : all;
          if (device && shown.length === 0) throw new Error(`no agent state for device ${device} (present: ${all.map((s) => s.device).join(', ')})`);
          if (json) io.out(JSON.stringify(opts.netns !== undefined || device ? shown[0] : shown, null, 2));
          else shown.forEach((s) => printStatus(io, s));
          return 0;
        }
        case 'logs': {
          const { FlowLogReader, formatFlowEvent } = await import('../../targets/host/flowlog.ts');
          const reader = new FlowLogReader(opts);
          const show = (e: Parameters<typeof formatFlowEvent>[0]) => io.out(json ? JSON.stringify(e) : formatFlowEvent(e));
          try {
            if (!flag(args, 'follow')) {
              reader.drain().forEach(show);
              return 0;
            }
            const stop = new AbortController();
            const onSignal = () => stop.abort();
            process.once('SIGINT', onSignal);
            process.once('SIGTERM', onSignal);
            try {
              await reader.follow(show, stop.signal);
            } finally {
              process.off('SIGINT', onSignal);
              process.off('SIGTERM', onSignal);
            }
            return 0;
          } finally {
            reader.close();
          }
        }
        case 'confirm': {
          if (!device) throw new UsageError('confirm needs --device NAME');
          const r = confirm.agentConfirm(device, opts);
          if (json) io.out(JSON.stringify(r, null, 2));
          else io.out(`${r.device} [${r.scope}]: generation ${r.generation} confirmed`);
          return 0;
        }
        case 'remove': {
          const r = agent.agentRemove(opts);
          if (json) io.out(JSON.stringify(r, null, 2));
          else printRemove(io, r);
          return 0;
        }
        case 'revert-unconfirmed': {
          const token = str(args, 'token');
          if (!token) throw new UsageError('revert-unconfirmed needs --token');
          const r = await confirm.revertUnconfirmed(opts, token);
          io.out(JSON.stringify({ at: new Date().toISOString(), ...r }));
          return 0;
        }
        default: {
          const never: never = sub as never;
          return never;
        }
      }
    },
  };
}

export const agentCommand: CliCommand = agentCommandFor({ title: 'weft agent', self: [process.argv[1], 'agent'] });
