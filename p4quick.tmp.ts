import { generateScenario, generateFlows, makeRng } from './orchestrator/testing/generate.ts';
import { buildIr } from './orchestrator/ir/build.ts';
import { place } from './orchestrator/placement/place.ts';
import { ReferenceEvaluator } from './orchestrator/reference/evaluator.ts';
import { buildAclEntries } from './targets/p4/codegen.ts';
import { AclInterpreter } from './targets/p4/semantics.ts';
import { checkSwitchFlows } from './targets/switch-common/index.ts';
import { describeFlow } from './targets/p4/verify.ts';
for (const seed of [1,2,3,4,5]) {
  const { policy, fabric } = generateScenario(makeRng(seed));
  const ir = buildIr(policy, fabric);
  const pl = place(policy, fabric, ir);
  const ref = new ReferenceEvaluator(policy, fabric);
  const flows = generateFlows(makeRng(seed+100), policy, fabric, 200000);
  for (const dp of pl.devices.filter(d => d.target === 'p4' || d.target==='openconfig')) {
    const t0 = Date.now();
    const prog = buildAclEntries({ policy, ir, devicePlacement: dp });
    const t1 = Date.now();
    const interp = new AclInterpreter(prog.entries);
    const ex = dp.interfaces.filter(i => i.role === 'unmanaged-endpoint').map(i => i.name);
    const ot = dp.interfaces.filter(i => i.role !== 'unmanaged-endpoint').map(i => i.name);
    const r = checkSwitchFlows({ exactPorts: ex, prefilterPorts: ot, flows, ports: 'rotate', reference: f => ref.verdict(f).verdict, evaluate: p => interp.evaluate(p), describe: describeFlow });
    console.log(seed, dp.device, dp.mode, policy.rules.length, 'rules', prog.entries.length, 'entries', ex.join(','), '|', ot.join(','), r.checks, r.mismatches, `${t1-t0}ms/${Date.now()-t1}ms`, r.examples.slice(0,2));
  }
}
