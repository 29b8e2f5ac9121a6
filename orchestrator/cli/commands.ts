// The list of CLI verbs, in the order `weft --help` shows them. An entry holds
// what the top-level help prints (name, summary) and imports the verb's module
// only when that verb runs, so `weft --help` and `weft validate` never load
// gRPC, SSH or the eBPF loader. Add a verb here, one line, and nowhere else.

import type { CliCommand } from './command.ts';

export interface VerbEntry {
  name: string;
  /** Equal to the loaded command's summary (checked by the CLI tests). */
  summary: string;
  load(): Promise<CliCommand>;
}

export const COMMANDS: VerbEntry[] = [
  { name: 'validate', summary: 'check a policy against an inventory and report errors and warnings', load: async () => (await import('./validate.ts')).validateCommand },
  { name: 'compile', summary: 'compile a policy for every device of an inventory into a bundle directory', load: async () => (await import('./compile.ts')).compileCommand },
  { name: 'explain', summary: 'explain the verdict for one flow and where it is enforced', load: async () => (await import('./explain.ts')).explainCommand },
  { name: 'verify', summary: "check a bundle's artefacts against the reference evaluator on generated flows", load: async () => (await import('./verify.ts')).verifyCommand },
  { name: 'lab', summary: 'deploy, apply to, probe, inspect and destroy a lab of network namespaces (e2e: all of it)', load: async () => (await import('./lab.ts')).labCommand },
  { name: 'agent', summary: 'install, inspect or remove the datapath of a host or DPU on this machine', load: async () => (await import('./agent.ts')).agentCommand },
  { name: 'plan', summary: 'show per device what a rollout would push, over which transport, in which wave, and what changes', load: async () => (await import('./rollout.ts')).planCommand },
  { name: 'apply', summary: 'push a compiled policy to every device over its transport (SSH, P4Runtime, gNMI)', load: async () => (await import('./rollout.ts')).applyCommand },
  { name: 'confirm', summary: 'keep the rollout awaiting confirmation (apply --confirm-within), or put its devices back now with --cancel', load: async () => (await import('./confirm.ts')).confirmCommand },
  { name: 'status', summary: 'read back what every device runs: in sync, drifted (entry by entry) or unreachable; --watch follows it, --counters reports per-rule hits', load: async () => (await import('./status.ts')).statusCommand },
  { name: 'rollback', summary: 'undo an interrupted run, or apply the previous (or a named) kept bundle again; --list shows the kept ones', load: async () => (await import('./rollback.ts')).rollbackCommand },
  { name: 'diff', summary: 'per device, what an apply would change against what runs (unchanged / changed / added / removed)', load: async () => (await import('./diff.ts')).diffCommand },
  { name: 'report', summary: 'write one self-contained HTML page about a compiled bundle', load: async () => (await import('./report.ts')).reportCommand },
  { name: 'discover', summary: 'walk a fabric over SNMP/SSH and LLDP; write, update or compare a fabric.yaml', load: async () => (await import('./discover.ts')).discoverCommand },
  { name: 'import', summary: 'write a policy.yaml from Kubernetes or Cilium policies, or a fabric.yaml from NetBox', load: async () => (await import('./import.ts')).importCommand },
];
