// The P4 switch target: Weft's classify-then-match ACL stage (p4/weft_acl.p4)
// filled with P4Runtime entries computed from the policy. Artefacts per
// device: p4info.txtpb (the pipeline the entries are for) and entries.json
// (INSERT updates: classifier entries, then ACL entries).

import type { Device } from '../../inventory/model.ts';
import type { CodegenInput, CodegenOutput, Target } from '../contract.ts';
import { checkCapacity, entriesDocument, materialise, planProgram, ruleCosts } from './codegen.ts';
import { P4INFO_TEXT } from './p4info.ts';
import { ENTRIES_FILE, P4INFO_FILE, verifyP4 } from './verify.ts';

async function codegen(input: CodegenInput): Promise<CodegenOutput> {
  // Counted first: a switch the policy does not fit is refused before its
  // entries are built (and, when its rules alone are too many, before its
  // addresses are classified).
  const plan = planProgram(input);
  const capacityNotes = checkCapacity(input, plan.counts, () => ruleCosts(plan));
  const program = materialise(plan);
  const doc = entriesDocument(program, input.device.mgmt.p4runtime?.deviceId ?? 1);
  return {
    files: [
      { path: P4INFO_FILE, content: P4INFO_TEXT },
      { path: ENTRIES_FILE, content: `${JSON.stringify(doc, null, 1)}\n` },
    ],
    notes: [...program.notes, ...capacityNotes],
    stats: program.stats,
  };
}

export const p4Target: Target = {
  name: 'p4',
  capabilities: { ipv6: true, stateful: false, modes: ['exact', 'prefilter'] },
  appliesTo: (device: Device) => device.kind === 'switch' && device.pipeline === 'p4',
  codegen,
  verify: verifyP4,
  driver: async () => (await import('./driver.ts')).p4Driver,
};
