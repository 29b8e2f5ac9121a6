// `weft lab deploy|apply|probe|inspect|destroy|generate`: thin verbs over the
// netns emulator (lab/), the rollout (orchestrator/rollout/) and the probe.

import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkLabName, deploy, destroy, inspect, labNameOf, type InspectResult } from '../../lab/emulator.ts';
import { formatLabApply, labApply } from '../../lab/apply.ts';
import { runE2e } from '../../lab/e2e.ts';
import { P4_CHOICES, type P4Choice } from '../../lab/p4-leaves.ts';
import { formatProbe, probeLab } from '../../lab/probe.ts';
import { readState, type LabState } from '../../lab/state.ts';
import { loadTopology } from '../../lab/topology.ts';
import { fabricToContainerlab, loadInventory } from '../../inventory/load.ts';
import { num, str, UsageError, type CliCommand, type CliIo, type ParsedArgs } from './command.ts';

const SUBVERBS = ['deploy', 'apply', 'probe', 'inspect', 'destroy', 'generate', 'e2e'] as const;
type Subverb = (typeof SUBVERBS)[number];

function topologyArg(args: ParsedArgs): string {
  const t = str(args, 'topology');
  if (!t) throw new UsageError('missing required option -t/--topology');
  return t;
}

/** The lab name: --name, else the topology's own name. */
function labName(args: ParsedArgs): string {
  const name = str(args, 'name');
  if (name) return checkLabName(name);
  return labNameOf(loadTopology(topologyArg(args)));
}

/** --p4: what runs the P4 leaves. */
function p4Choice(args: ParsedArgs): P4Choice {
  const v = str(args, 'p4') ?? 'auto';
  if (!(P4_CHOICES as readonly string[]).includes(v)) throw new UsageError(`--p4 ${v}: valid: ${P4_CHOICES.join(', ')}`);
  return v as P4Choice;
}

/** One line saying what runs the P4 leaves (bmv2 or the emulation) and why, or nothing in a lab without any. */
export function formatP4Leaves(p4: LabState['p4'], nodes: { name: string; p4Switch?: string }[]): string[] {
  if (!p4) return [];
  const leaves = nodes.filter((n) => n.p4Switch !== undefined).map((n) => n.name);
  const what = p4.kind === 'bmv2' ? 'bmv2 (simple_switch_grpc running p4c\'s weft.p4)' : 'the emulation (P4Runtime agent enforcing with nftables)';
  return [`  P4 leaves ${leaves.join(', ')}: ${what}; ${p4.reason}`];
}

function formatInspect(r: InspectResult): string {
  const lines = [`lab ${r.lab} (${r.phase}) from ${r.topology}`, `  management: ${r.mgmtSubnet} in netns ${r.mgmtNetns}`];
  if (r.inventory) lines.push(`  inventory: ${r.inventory}`);
  lines.push(...formatP4Leaves(r.p4, r.nodes));
  const rows = r.nodes.map((n) => [
    n.name,
    n.p4Switch ? `${n.role} (${n.p4Switch})` : n.role,
    n.mgmt ?? (n.addresses ? n.addresses.join(',') : '-'),
    n.services.map((s) => `${s.service}:${s.running ? s.pid : 'down'}`).join(' ') || '-',
    n.applied?.slice(0, 12) ?? '-',
    n.ports.map((p) => (n.blockedPorts.includes(p) ? `${p}(blocked)` : p)).join(',') + (n.present ? '' : '  [netns missing]'),
  ]);
  const header = ['node', 'role', 'mgmt', 'services', 'applied', 'ports'];
  // Endpoints list all their addresses in the mgmt column, so widths follow the content.
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}`;
  lines.push('', line(header), ...rows.map(line));
  return lines.join('\n');
}

async function runSubverb(sub: Subverb, args: ParsedArgs, io: CliIo): Promise<number> {
  const json = args.options.json === true;
  switch (sub) {
    case 'deploy': {
      const topo = loadTopology(topologyArg(args));
      const t0 = performance.now();
      const state = await deploy(topo, { name: str(args, 'name'), p4: p4Choice(args) });
      const seconds = (performance.now() - t0) / 1000;
      const p4Switches = Object.fromEntries(state.nodes.filter((n) => n.p4Switch).map((n) => [n.name, n.p4Switch]));
      if (json) io.out(JSON.stringify({ lab: state.lab, inventory: state.inventory, seconds, nodes: state.nodes.length, p4: state.p4, p4Switches }));
      else io.out([`lab ${state.lab} deployed in ${seconds.toFixed(1)}s: ${state.nodes.length} nodes`, ...formatP4Leaves(state.p4, state.nodes), `inventory written to ${state.inventory}`].join('\n'));
      return 0;
    }
    case 'destroy': {
      const lab = labName(args);
      const t0 = performance.now();
      const r = await destroy(lab);
      const seconds = (performance.now() - t0) / 1000;
      if (json) io.out(JSON.stringify({ lab, ...r, seconds }));
      else io.out(`lab ${lab} destroyed in ${seconds.toFixed(1)}s: ${r.namespaces.length} namespaces, ${r.processes} processes removed`);
      return 0;
    }
    case 'inspect': {
      const lab = labName(args);
      const r = await inspect(lab);
      if (!r) {
        if (json) io.out(JSON.stringify({ lab, deployed: false }));
        else io.out(`lab ${lab} is not deployed`);
        return 1;
      }
      io.out(json ? JSON.stringify(r) : formatInspect(r));
      return r.nodes.every((n) => n.present && n.services.every((s) => s.running)) ? 0 : 1;
    }
    case 'generate': {
      const inv = str(args, 'inventory');
      if (!inv) throw new UsageError('generate needs --inventory FABRIC.yaml');
      const text = fabricToContainerlab(loadInventory(inv));
      const out = str(args, 'out');
      if (out) {
        writeFileSync(out, text);
        io.out(json ? JSON.stringify({ topology: resolve(out) }) : `topology written to ${out}`);
      } else io.out(text);
      return 0;
    }
    case 'apply': {
      const policy = str(args, 'policy');
      if (!policy) throw new UsageError('apply needs --policy P');
      const topoPath = topologyArg(args);
      const lab = labName(args);
      if (!readState(lab)) throw new Error(`lab ${lab} is not deployed (run weft lab deploy -t ${topoPath})`);
      const r = await labApply({ lab, policyPath: policy, outDir: str(args, 'out') });
      io.out(json ? JSON.stringify(r) : formatLabApply(r));
      return r.code === 0 ? 0 : 1;
    }
    case 'probe': {
      const policy = str(args, 'policy');
      if (!policy) throw new UsageError('probe needs --policy P');
      const lab = labName(args);
      const report = await probeLab({ lab, policyPath: policy, seed: num(args, 'seed') ?? 1, extraPorts: num(args, 'extra-ports') ?? 2 });
      io.out(json ? JSON.stringify(report) : formatProbe(report));
      return report.differences === 0 ? 0 : 1;
    }
    case 'e2e': {
      const policy = str(args, 'policy');
      if (!policy) throw new UsageError('e2e needs --policy P');
      const r = await runE2e({
        topologyPath: topologyArg(args),
        policyPath: policy,
        name: str(args, 'name'),
        p4: p4Choice(args),
        seed: num(args, 'seed'),
        extraPorts: num(args, 'extra-ports'),
        say: json ? undefined : (l) => io.out(l),
      });
      if (json) io.out(JSON.stringify(r));
      return r.ok ? 0 : 1;
    }
  }
}

export const labCommand: CliCommand = {
  name: 'lab',
  summary: 'deploy, apply to, probe, inspect and destroy a lab of network namespaces (e2e: all of it)',
  usage: `weft lab ${SUBVERBS.filter((s) => s !== 'generate').join('|')} -t TOPOLOGY.clab.yml [--policy P] [--name LAB] [--p4 ${P4_CHOICES.join('|')}] | weft lab generate --inventory I --out FILE`,
  options: [
    { name: 'topology', type: 'string', help: 'containerlab topology file (-t)' },
    { name: 'policy', type: 'string', help: 'policy file (apply, probe, e2e)' },
    { name: 'name', type: 'string', help: 'lab name (default: the topology name); two labs of one file need two names' },
    { name: 'p4', type: 'string', help: `deploy, e2e: what runs the P4 leaves: ${P4_CHOICES.join('|')} (auto: bmv2 when simple_switch_grpc is available, else the emulation)`, default: 'auto' },
    { name: 'inventory', type: 'string', help: 'generate: the fabric.yaml to turn into a topology' },
    { name: 'out', type: 'string', help: 'generate: topology file to write; apply: bundle directory to compile into' },
    { name: 'seed', type: 'number', help: 'probe, e2e: seed for the sample of other ports', default: 1 },
    { name: 'extra-ports', type: 'number', help: 'probe, e2e: ports the policy does not name, sampled per protocol', default: 2 },
  ],
  async run(args, io) {
    const sub = args.positional[0];
    if (!sub || !(SUBVERBS as readonly string[]).includes(sub)) {
      throw new UsageError(`lab needs a sub-command: ${SUBVERBS.join(', ')}${sub ? ` (got "${sub}")` : ''}`);
    }
    return runSubverb(sub as Subverb, args, io);
  },
};
