// `weft agent apply|status|remove`: the agent on a host or DPU. It reads only
// the bundle's devices/<NAME>/ files; the work is in targets/host/agent.ts,
// or targets/dpu/agent.ts for a NIC prefilter (a device directory whose
// dpu.json names an XDP attach kind; a bluefield DPU runs the host agent).

import { flag, str, UsageError, type CliCommand, type CliIo } from './command.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentOptions, ApplyResult, RemoveResult, StatusResult } from '../../targets/host/agent.ts';
import type { DpuApplyResult, DpuRemoveResult, DpuStatusResult } from '../../targets/dpu/agent.ts';
import { DEVICE_FILE, readDeviceJson } from '../../targets/dpu/device.ts';

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

export const agentCommand: CliCommand = {
  name: 'agent',
  summary: 'install, inspect or remove the datapath of a host or DPU on this machine',
  usage: 'weft agent apply BUNDLE_DIR --device NAME [--netns NS] [--require-offload] | weft agent status [--device NAME] [--netns NS] | weft agent remove [--netns NS]',
  options: [
    { name: 'device', type: 'string', help: 'the device of the bundle this machine is' },
    { name: 'netns', type: 'string', help: 'act inside this network namespace (ip netns name)' },
    { name: 'require-offload', type: 'boolean', help: 'NIC prefilter: fail unless every port runs it on the NIC (no native or generic fallback)' },
  ],
  async run(args, io) {
    const [sub, ...rest] = args.positional;
    if (!sub || !(SUBVERBS as readonly string[]).includes(sub)) {
      throw new UsageError(`expected a sub-command: ${SUBVERBS.join('|')}${sub ? ` (got "${sub}")` : ''}`);
    }
    const opts: AgentOptions = { netns: str(args, 'netns') };
    const json = flag(args, 'json');
    // Loaded here: the agents need libbpf, other verbs do not.
    const agent = await import('../../targets/host/agent.ts');
    const dpu = await import('../../targets/dpu/agent.ts');
    switch (sub as (typeof SUBVERBS)[number]) {
      case 'apply': {
        const bundle = rest[0];
        const device = str(args, 'device');
        if (!bundle) throw new UsageError('apply needs the bundle directory');
        if (!device) throw new UsageError('apply needs --device NAME');
        const descriptor = join(bundle, 'devices', device, DEVICE_FILE);
        const attach = existsSync(descriptor) ? readDeviceJson(join(bundle, 'devices', device)).attach : undefined;
        if (attach === 'xdp-offload' || attach === 'xdp-native') {
          const r = dpu.dpuAgentApply(bundle, device, { ...opts, requireOffload: flag(args, 'require-offload') });
          if (json) io.out(JSON.stringify(r, null, 2));
          else printDpuApply(io, r);
          return 0;
        }
        if (flag(args, 'require-offload')) throw new UsageError(`--require-offload: ${device} is not a NIC prefilter (nfp or generic profile); it runs the host datapath`);
        if (dpu.hasDpuState(opts)) throw new Error(`scope ${opts.netns ?? 'host'} runs a NIC prefilter; remove it first (weft agent remove${opts.netns ? ` --netns ${opts.netns}` : ''})`);
        const r = agent.agentApply(bundle, device, opts);
        if (json) io.out(JSON.stringify(r, null, 2));
        else printApply(io, r);
        return 0;
      }
      case 'status': {
        const scopes = opts.netns !== undefined ? [opts.netns] : [...new Set([...agent.agentScopes(opts), ...dpu.dpuScopes(opts)])].map((s) => (s === 'host' ? undefined : s));
        if (scopes.length === 0) scopes.push(undefined);
        const all: (StatusResult | DpuStatusResult)[] = scopes.map((ns) => (dpu.hasDpuState({ ...opts, netns: ns }) ? dpu.dpuAgentStatus({ ...opts, netns: ns }) : agent.agentStatus({ ...opts, netns: ns })));
        const device = str(args, 'device');
        const shown = device ? all.filter((s) => s.device === device) : all;
        if (device && shown.length === 0) throw new Error(`no agent state for device ${device} (present: ${all.map((s) => s.device).join(', ')})`);
        if (json) io.out(JSON.stringify(opts.netns !== undefined || device ? shown[0] : shown, null, 2));
        else shown.forEach((s) => ('ports' in s ? printDpuStatus(io, s) : printStatus(io, s)));
        return 0;
      }
      case 'remove': {
        const r = dpu.hasDpuState(opts) ? dpu.dpuAgentRemove(opts) : agent.agentRemove(opts);
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
