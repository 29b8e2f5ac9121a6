// The whole lab story in one call: deploy a topology, apply a policy over the
// real transports, probe every endpoint pair against the reference evaluator,
// destroy. The lab is destroyed whatever happens in between.

import { formatLabApply, labApply, type LabApplyResult } from './apply.ts';
import { deploy, destroy, labNameOf } from './emulator.ts';
import type { P4Choice } from './p4-leaves.ts';
import { formatProbe, probeLab, type ProbeReport } from './probe.ts';
import { loadTopology } from './topology.ts';

export interface E2eOptions {
  topologyPath: string;
  policyPath: string;
  name?: string;
  /** What runs the P4 leaves (default auto). */
  p4?: P4Choice;
  seed?: number;
  extraPorts?: number;
  /** Progress lines for humans. */
  say?: (line: string) => void;
}

export interface E2eResult {
  lab: string;
  /** What ran the P4 leaves. */
  p4Switch?: string;
  deploySeconds: number;
  apply?: LabApplyResult;
  probe?: ProbeReport;
  destroySeconds: number;
  totalSeconds: number;
  ok: boolean;
}

export async function runE2e(opts: E2eOptions): Promise<E2eResult> {
  const say = opts.say ?? (() => undefined);
  const t0 = performance.now();
  const topo = loadTopology(opts.topologyPath);
  const lab = labNameOf(topo, opts.name);
  const result: E2eResult = { lab, deploySeconds: 0, destroySeconds: 0, totalSeconds: 0, ok: false };
  try {
    const state = await deploy(topo, { name: lab, p4: opts.p4 });
    result.deploySeconds = (performance.now() - t0) / 1000;
    result.p4Switch = state.p4?.kind;
    say(`deployed lab ${lab} in ${result.deploySeconds.toFixed(1)}s (${state.nodes.length} nodes${state.p4 ? `, P4 leaves on ${state.p4.kind}: ${state.p4.reason}` : ''}), inventory ${state.inventory}`);
    result.apply = await labApply({ lab, policyPath: opts.policyPath });
    say(formatLabApply(result.apply));
    if (result.apply.code === 0) {
      result.probe = await probeLab({ lab, policyPath: opts.policyPath, seed: opts.seed ?? 1, extraPorts: opts.extraPorts ?? 2 });
      say(formatProbe(result.probe));
    }
  } finally {
    const t1 = performance.now();
    await destroy(lab);
    result.destroySeconds = (performance.now() - t1) / 1000;
    say(`destroyed lab ${lab} in ${result.destroySeconds.toFixed(1)}s`);
  }
  result.totalSeconds = (performance.now() - t0) / 1000;
  result.ok = result.apply?.code === 0 && result.probe?.differences === 0;
  say(
    `e2e ${result.ok ? 'ok' : 'FAILED'}${result.p4Switch ? ` (P4 leaves on ${result.p4Switch})` : ''}: deploy ${result.deploySeconds.toFixed(1)}s, apply ${result.apply?.seconds.toFixed(1) ?? '-'}s, probe ${result.probe?.seconds.toFixed(1) ?? '-'}s (${result.probe?.probes ?? 0} probes, ${result.probe?.differences ?? '-'} differences), destroy ${result.destroySeconds.toFixed(1)}s, total ${result.totalSeconds.toFixed(1)}s`,
  );
  return result;
}
