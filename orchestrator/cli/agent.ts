// `weft agent apply|status|logs|confirm|remove`: the agent on a host or DPU,
// also shipped on its own as `weft-agent` (targets/host/agent-main.ts). It
// reads only the bundle's devices/<NAME>/ files; the work is in
// targets/host/, or targets/dpu/agent.ts for a NIC prefilter (a device
// directory whose dpu.json names an XDP attach kind; a bluefield DPU runs the
// host agent).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseDuration } from '../duration.ts';
import { duration, flag, num, str, UsageError, type CliCommand, type CliIo } from './command.ts';
import type { AgentOptions, ApplyResult, RemoveResult, StatusResult } from '../../targets/host/agent.ts';
import type { ConfirmedApplyResult } from '../../targets/host/confirm.ts';
import type { DpuApplyResult, DpuRemoveResult, DpuStatusResult } from '../../targets/dpu/agent.ts';
import { DEVICE_FILE, readDeviceJson } from '../../targets/dpu/device.ts';

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

function printDpuPorts(io: CliIo, ports: DpuApplyResult['ports']): void {
  for (const p of ports) {
    io.out(`  ${p.iface.padEnd(12)} xdp ${p.mode.padEnd(8)} prog ${p.progId}`);
    for (const r of p.refused) io.out(`    not ${r.mode}: ${r.reason}`);
  }
}

function printDpuApply(io: CliIo, r: DpuApplyResult): void {
  io.out(`${r.device} [${r.scope}]: ${r.profile} prefilter generation ${r.generation} loaded in ${r.ms.toFixed(1)} ms (${r.entriesWritten} entries written)`);
  printDpuPorts(io, r.ports);
}

function printDpuStatus(io: CliIo, s: DpuStatusResult): void {
  io.out(`${s.device} [${s.scope}]: ${s.profile} prefilter generation ${s.generation}, applied ${s.appliedAt} from ${s.bundle}`);
  io.out('ports:');
  for (const p of s.ports) {
    io.out(`  ${p.iface.padEnd(12)} xdp ${p.mode.padEnd(8)} prog ${p.progId} ${p.attached ? 'attached' : 'MISSING'}, map memory ${p.mapMemoryBytes} bytes`);
    for (const r of p.refused) io.out(`    not ${r.mode}: ${r.reason}`);
    for (const [k, v] of Object.entries(p.counters)) io.out(`    ${k.padEnd(16)} ${v}`);
  }
  io.out('drops at the NIC:');
  for (const d of s.drops) io.out(`  ${d.index < 0 ? '   -' : String(d.index).padStart(4)} ${d.name.padEnd(28)} ${d.drops}`);
}

function printRemove(io: CliIo, r: RemoveResult | DpuRemoveResult): void {
  if (!('unpinned' in r)) {
    io.out(`${r.device ?? '(no agent state)'} [${r.scope}]: ${r.detached.length} ports detached`);
    return;
  }
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
    summary: 'install, inspect or remove the datapath of a host or DPU on this machine',
    usage: [
      `${p} apply BUNDLE_DIR --device NAME [--netns NS] [--confirm-within DUR] [--log-rate N] [--require-offload]`,
      `${p} status [--device NAME] [--netns NS]`,
      `${p} logs [--netns NS] [--follow]`,
      `${p} confirm --device NAME [--netns NS] [--extend DUR]`,
      `${p} remove [--netns NS]`,
    ].join(' | '),
    options: [
      { name: 'device', type: 'string', help: 'the device of the bundle this machine is' },
      { name: 'netns', type: 'string', help: 'act inside this network namespace (ip netns name)' },
      { name: 'confirm-within', type: 'string', help: 'apply: go back to the previous generation unless `confirm` comes within this time (30s, 2m)' },
      { name: 'log-rate', type: 'number', help: 'apply: flow log events per second per CPU, also the burst [default: 100]' },
      { name: 'require-offload', type: 'boolean', help: 'apply, NIC prefilter: fail unless every port runs it on the NIC (no native or generic fallback)' },
      { name: 'extend', type: 'string', help: 'confirm: instead of confirming, move the deadline to this time from now (30s, 2m)' },
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
      // Loaded here: the agents need libbpf, other verbs do not.
      const agent = await import('../../targets/host/agent.ts');
      const confirm = await import('../../targets/host/confirm.ts');
      const dpu = await import('../../targets/dpu/agent.ts');
      const device = str(args, 'device');
      switch (sub as (typeof SUBVERBS)[number]) {
        case 'apply': {
          const bundle = rest[0];
          if (!bundle) throw new UsageError('apply needs the bundle directory');
          if (!device) throw new UsageError('apply needs --device NAME');
          const descriptor = join(bundle, 'devices', device, DEVICE_FILE);
          const attach = existsSync(descriptor) ? readDeviceJson(join(bundle, 'devices', device)).attach : undefined;
          if (attach === 'xdp-offload' || attach === 'xdp-native') {
            if (str(args, 'confirm-within') !== undefined) throw new UsageError(`--confirm-within: ${device} is a NIC prefilter, which keeps no previous generation to go back to`);
            const r = dpu.dpuAgentApply(bundle, device, { ...opts, requireOffload: flag(args, 'require-offload') });
            if (json) io.out(JSON.stringify(r, null, 2));
            else printDpuApply(io, r);
            return 0;
          }
          if (flag(args, 'require-offload')) throw new UsageError(`--require-offload: ${device} is not a NIC prefilter (nfp or generic profile); it runs the host datapath`);
          if (dpu.hasDpuState(opts)) throw new Error(`scope ${opts.netns ?? 'host'} runs a NIC prefilter; remove it first (weft agent remove${opts.netns ? ` --netns ${opts.netns}` : ''})`);
          const within = str(args, 'confirm-within');
          let withinMs: number | undefined;
          try {
            withinMs = within === undefined ? undefined : parseDuration(within);
          } catch (e) {
            throw new UsageError(`--confirm-within: ${(e as Error).message}`);
          }
          const r = withinMs === undefined ? confirm.applyNow(bundle, device, opts) : confirm.applyConfirmed(bundle, device, opts, withinMs, program.self);
          if (json) io.out(JSON.stringify(r, null, 2));
          else printApply(io, r);
          return 0;
        }
        case 'status': {
          const scopes = opts.netns !== undefined ? [opts.netns] : [...new Set([...agent.agentScopes(opts), ...dpu.dpuScopes(opts)])].map((s) => (s === 'host' ? undefined : s));
          if (scopes.length === 0) scopes.push(undefined);
          const all: (StatusResult | DpuStatusResult)[] = scopes.map((ns) => (dpu.hasDpuState({ ...opts, netns: ns }) ? dpu.dpuAgentStatus({ ...opts, netns: ns }) : agent.agentStatus({ ...opts, netns: ns })));
          const shown = device ? all.filter((s) => s.device === device) : all;
          if (device && shown.length === 0) throw new Error(`no agent state for device ${device} (present: ${all.map((s) => s.device).join(', ')})`);
          if (json) io.out(JSON.stringify(opts.netns !== undefined || device ? shown[0] : shown, null, 2));
          else shown.forEach((s) => ('ports' in s ? printDpuStatus(io, s) : printStatus(io, s)));
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
          const withinMs = duration(args, 'extend');
          if (withinMs !== undefined) {
            const x = confirm.agentExtend(device, opts, withinMs, program.self);
            if (json) io.out(JSON.stringify(x, null, 2));
            else io.out(`${x.device} [${x.scope}]: generation ${x.generation} awaits confirmation until ${x.confirmBy}`);
            return 0;
          }
          const r = confirm.agentConfirm(device, opts);
          if (json) io.out(JSON.stringify(r, null, 2));
          else io.out(`${r.device} [${r.scope}]: generation ${r.generation} confirmed`);
          return 0;
        }
        case 'remove': {
          const r = dpu.hasDpuState(opts) ? dpu.dpuAgentRemove(opts) : agent.agentRemove(opts);
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
