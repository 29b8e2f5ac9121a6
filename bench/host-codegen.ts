// Host and DPU codegen per device on the data-center shapes of
// bench/scenarios.ts: the CPU time of the target's codegen (share, record
// files, digests) for the first hosts and bluefield DPUs of the fabric, with
// each device's table sizes, after one parse, IR build and placement (not
// timed). The compile benchmark times the whole `weft compile`; this one
// shows what one device costs and how it grows with the scale. Run alone:
//   node bin/run-ts.js bench/host-codegen.ts [SHAPE] [--scale 0.1] [--devices 8]

import { shapeYaml, SHAPE_DEFAULTS, type Shape } from './scenarios.ts';
import { parsePolicy } from '../orchestrator/policy/load.ts';
import { parseInventory } from '../inventory/load.ts';
import { buildIr } from '../orchestrator/ir/build.ts';
import { place } from '../orchestrator/placement/place.ts';
import { hostCodegen } from '../targets/host/codegen.ts';
import { dpuCodegen } from '../targets/dpu/codegen.ts';
import { STATS_VALUE } from '../targets/host/abi.ts';

const cpuMs = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 0;
}

export async function run(shape: Shape = 'correlated', scale = 0.1, count = 8): Promise<Record<string, unknown>> {
  const o = SHAPE_DEFAULTS;
  const scaled = (n: number) => Math.max(1, Math.round(n * scale));
  const files = shapeYaml(shape, { ...o, rules: scaled(o.rules), endpoints: scaled(o.endpoints), devices: Math.max(60, scaled(o.devices)) });
  const policy = parsePolicy(files.policy, 'policy.yaml');
  const fabric = parseInventory(files.fabric, 'fabric.yaml');
  const ir = buildIr(policy, fabric);
  const placement = place(policy, fabric, ir);
  const deviceOf = new Map(fabric.devices.map((d) => [d.name, d]));
  const figures: Record<string, unknown> = { shape, scale, identities: ir.identities.length, lpmEntries: ir.lpm.length, rules: ir.rules.length };
  for (const kind of ['host', 'dpu'] as const) {
    const picked = placement.devices.filter((dp) => deviceOf.get(dp.device)!.kind === kind).slice(0, kind === 'host' ? count : Math.max(1, count >> 2));
    const ms: number[] = [];
    const policyEntries: number[] = [];
    const id4Entries: number[] = [];
    const countedRules: number[] = [];
    const statsBytes: number[] = [];
    for (const dp of picked) {
      const input = { policy, fabric, ir, placement, device: deviceOf.get(dp.device)!, devicePlacement: dp };
      const c0 = cpuMs();
      const out = await (kind === 'host' ? hostCodegen(input) : dpuCodegen(input));
      ms.push(cpuMs() - c0);
      policyEntries.push(out.stats.policyEntries ?? 0);
      id4Entries.push(out.stats.id4Entries ?? 0);
      countedRules.push(out.stats.countedRules ?? 0);
      statsBytes.push((out.stats.statsMaxEntries ?? 0) * STATS_VALUE);
    }
    figures[`${kind}Devices`] = picked.length;
    figures[`${kind}CodegenCpuMsMedian`] = Math.round(median(ms));
    figures[`${kind}CodegenCpuMsMax`] = Math.round(Math.max(0, ...ms));
    figures[`${kind}PolicyEntriesMedian`] = median(policyEntries);
    figures[`${kind}Id4EntriesMedian`] = median(id4Entries);
    // Rule hit counters: per possible CPU, so a 64-CPU host holds 64 times this.
    figures[`${kind}CountedRulesMedian`] = median(countedRules);
    figures[`${kind}CountersBytesPerCpuMedian`] = median(statsBytes);
  }
  figures.peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  return figures;
}

if (process.argv[1]?.endsWith('host-codegen.ts')) {
  const args = process.argv.slice(2);
  const option = (name: string, dflt: number): number => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const shape = (args.find((a) => !a.startsWith('--') && !/^[\d.]+$/.test(a)) ?? 'correlated') as Shape;
  console.log(JSON.stringify(await run(shape, option('--scale', 0.1), option('--devices', 8)), null, 2));
}
