// `weft validate`: parse a policy and an inventory, build the IR and report
// every diagnostic (errors exit 2, warnings such as shadowed rules exit 0).

import { loadInventory } from '../../inventory/load.ts';
import { analyze } from '../analysis/analyze.ts';
import { formatDiagnostic, InputError, type Diagnostic } from '../diagnostics.ts';
import { buildIr } from '../ir/build.ts';
import { loadPolicy } from '../policy/load.ts';
import { flag, str, type CliCommand } from './command.ts';

export const validateCommand: CliCommand = {
  name: 'validate',
  summary: 'check a policy against an inventory and report errors and warnings',
  usage: 'weft validate --policy P --inventory I [--json]',
  options: [
    { name: 'policy', type: 'string', help: 'policy.yaml', required: true },
    { name: 'inventory', type: 'string', help: 'fabric.yaml or a containerlab .clab.yml', required: true },
  ],
  async run(args, io) {
    const json = flag(args, 'json');
    let diagnostics: Diagnostic[];
    let summary: { policy: string; fabric: string; rules: number; groups: number; identities: number; wildcardRules: number } | undefined;
    // Unknown keys in a file that loaded still matter when the other file fails.
    const fileWarnings: Diagnostic[] = [];
    try {
      const policy = loadPolicy(str(args, 'policy')!);
      fileWarnings.push(...(policy.warnings ?? []));
      const fabric = loadInventory(str(args, 'inventory')!);
      fileWarnings.push(...(fabric.warnings ?? []));
      const ir = buildIr(policy, fabric);
      diagnostics = [...fileWarnings, ...analyze(policy, fabric, ir)];
      summary = { policy: policy.name, fabric: fabric.name, rules: policy.rules.length, groups: policy.groups.size, identities: ir.identities.length, wildcardRules: ir.rules.filter((r) => r.from === 'any' || r.to === 'any').length };
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      diagnostics = [...fileWarnings, ...e.diagnostics];
    }
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    const warnings = diagnostics.length - errors;
    if (json) {
      io.out(JSON.stringify({ ok: errors === 0, errors, warnings, ...(summary && errors === 0 ? { summary } : {}), diagnostics }, null, 2));
    } else {
      for (const d of diagnostics) (d.severity === 'error' ? io.err : io.out)(formatDiagnostic(d));
      if (errors === 0 && summary) {
        io.out(
          `ok: policy ${summary.policy} (${plural(summary.rules, 'rule')}, ${plural(summary.groups, 'group')}) on fabric ${summary.fabric}: ` +
            `${plural(summary.identities, 'identity', 'identities')}, ${plural(summary.wildcardRules, 'rule')} with an \`any\` side, ${plural(warnings, 'warning')}`,
        );
      } else {
        io.err(`${plural(errors, 'error')}, ${plural(warnings, 'warning')}`);
      }
    }
    return errors ? 2 : 0;
  },
};

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
