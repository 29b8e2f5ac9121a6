// `weft lab apply`: compiles a policy against the lab's own inventory and runs
// `weft apply` (the same code a real fabric uses) inside the lab's management
// namespace, so every push travels the lab's management network over the real
// transports. Records the generations applied in the lab state, then asks
// every DPU and SmartNIC's agent what it loaded, on which ports and in which
// mode (`weft agent status` inside the node).

import { join } from 'node:path';
import { loadInventory } from '../inventory/load.ts';
import { compileBundle } from '../orchestrator/compile/driver.ts';
import type { EnforcementMode, TargetName } from '../targets/contract.ts';
import { formatResults, type DeviceResult } from '../orchestrator/rollout/rollout.ts';
import { WEFT_BIN } from '../orchestrator/package-root.ts';
import { formatAttach, readAgentStatus, type AgentAttach } from './agent-status.ts';
import { recordApplied } from './emulator.ts';
import { run } from './exec.ts';
import { labDir, readState } from './state.ts';

export interface LabApplyOptions {
  lab: string;
  policyPath: string;
  outDir?: string;
}

export interface LabApplyResult {
  lab: string;
  bundle: string;
  seconds: number;
  /** Exit code of `weft apply`. */
  code: number;
  results: DeviceResult[];
  /** What each DPU and SmartNIC runs after the rollout, as its agent reports it. */
  dpus: DpuLoad[];
}

export interface DpuLoad {
  device: string;
  kind: 'dpu' | 'smartnic';
  profile: string;
  /** The bundle's target and enforcement mode for the device. */
  target: TargetName;
  mode: EnforcementMode;
  /** From the agent: the generation it runs and where its programs are attached (none when it could not report). */
  generation?: number;
  attach: AgentAttach[];
  /** Why the agent's status could not be read. */
  statusError?: string;
}

export async function labApply(opts: LabApplyOptions): Promise<LabApplyResult> {
  const state = readState(opts.lab);
  if (!state?.inventory || state.phase !== 'ready') throw new Error(`lab ${opts.lab} is not deployed`);
  const t0 = performance.now();
  const outDir = opts.outDir ?? join(labDir(opts.lab), 'bundle');
  const manifest = await compileBundle({ policyPath: opts.policyPath, inventoryPath: state.inventory, outDir });
  const argv = [
    'netns', 'exec', state.mgmtNetns,
    process.execPath, WEFT_BIN, 'apply',
    '--bundle', outDir,
    '--inventory', state.inventory,
    '--state', join(labDir(opts.lab), 'rollout.json'),
    '--json',
  ];
  const { code, stdout, stderr } = await run(['ip', ...argv], { allowFail: true });
  let results: DeviceResult[];
  try {
    results = (JSON.parse(stdout) as { results: DeviceResult[] }).results;
  } catch {
    throw new Error(`weft apply in ${state.mgmtNetns} failed (exit ${code}): ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
  }
  const running = new Set<string>();
  for (const r of results) {
    if (r.status !== 'applied' && r.status !== 'unchanged') continue;
    recordApplied(opts.lab, r.device, r.generation);
    running.add(r.device);
  }
  const dpus: DpuLoad[] = [];
  for (const d of loadInventory(state.inventory).devices) {
    const md = manifest.devices.find((m) => m.name === d.name);
    if ((d.kind !== 'dpu' && d.kind !== 'smartnic') || !md || !running.has(d.name)) continue;
    const base = { device: d.name, kind: d.kind, profile: d.profile ?? 'generic', target: md.target, mode: md.mode };
    try {
      const s = await readAgentStatus(state, d.name);
      dpus.push({ ...base, generation: s.generation, attach: s.attach });
    } catch (e) {
      dpus.push({ ...base, attach: [], statusError: e instanceof Error ? e.message : String(e) });
    }
  }
  return { lab: opts.lab, bundle: outDir, seconds: (performance.now() - t0) / 1000, code: code ?? 1, results, dpus };
}

export function formatLabApply(r: LabApplyResult): string {
  const lines = [`lab ${r.lab}: bundle ${r.bundle}, pushed from the management namespace in ${r.seconds.toFixed(1)}s`, formatResults(r.results)];
  if (r.dpus.length > 0) lines.push('DPUs and SmartNICs (weft agent status in the node):');
  for (const d of r.dpus) {
    const runs = d.statusError === undefined ? `generation ${d.generation}: ${formatAttach(d.attach)}` : `agent status unavailable: ${d.statusError}`;
    lines.push(`  ${d.device.padEnd(12)} ${d.kind} ${d.profile}, ${d.mode} (${d.target} target), ${runs}`);
  }
  return lines.join('\n');
}
