// `weft verify --target p4`: reads a device's artefacts back (the P4Info it
// was compiled against and entries.json: classifier and ACL entries), runs
// the pipeline model on generated
// flows at every port and compares with the reference evaluator: exact on
// ports facing unmanaged endpoints, never-drop-what-is-allowed elsewhere.
// Request/reply sequences are then run against the stateful reference: a
// reply it allows must pass; replies passed statelessly where it denies them
// are counted as approximations.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CodegenInput, VerifyOptions, VerifyReport } from '../contract.ts';
import { ReferenceEvaluator } from '../../orchestrator/reference/evaluator.ts';
import { generateFlows, generatePacketSequences, makeRng } from '../../orchestrator/testing/generate.ts';
import { checkSwitchFlows, checkSwitchSequences, endpointSources, formatApproximations } from '../switch-common/index.ts';
import { p4EntryFromProto, type AclEntry, type ClassEntry, type EntriesDocument } from './entries.ts';
import { parseP4InfoText, pipelineFromP4Info, PIPELINE } from './p4info.ts';
import { PipelineModel } from './semantics.ts';
import { logger } from '../../orchestrator/log.ts';

const log = logger('p4');

export const ENTRIES_FILE = 'entries.json';
export const P4INFO_FILE = 'p4info.txtpb';

export async function readEntries(deviceDir: string): Promise<{ entries: AclEntry[]; classes: ClassEntry[] }> {
  const info = pipelineFromP4Info(parseP4InfoText(await readFile(join(deviceDir, P4INFO_FILE), 'utf8'), P4INFO_FILE));
  const sameClassifiers = Object.values(info.classifiers).every((c) => c.tableId === PIPELINE.classifiers[c.name].tableId && c.size === PIPELINE.classifiers[c.name].size);
  if (info.tableId !== PIPELINE.tableId || info.size !== PIPELINE.size || !sameClassifiers) {
    throw new Error(`${join(deviceDir, P4INFO_FILE)}: compiled for another pipeline (table ${info.tableId}, size ${info.size})`);
  }
  const doc = JSON.parse(await readFile(join(deviceDir, ENTRIES_FILE), 'utf8')) as EntriesDocument;
  const entries: AclEntry[] = [];
  const classes: ClassEntry[] = [];
  doc.updates.forEach((u, i) => {
    try {
      const e = p4EntryFromProto(u.entity.tableEntry, info);
      if (e.kind === 'acl') entries.push(e.entry);
      else classes.push(e.entry);
    } catch (e) {
      throw new Error(`${join(deviceDir, ENTRIES_FILE)}: update ${i}: ${(e as Error).message}`);
    }
  });
  return { entries, classes };
}

export interface P4VerifyReport extends VerifyReport {
  /** Request/reply sequences run against the stateful reference (their mismatches count in `mismatches`). */
  sequences: number;
  /** Packets of those sequences. */
  sequencePackets: number;
  /** Replies the stateful reference allows, checked to pass. */
  repliesChecked: number;
  /** Stateless passes where the reference denies (reverse entries), by reason; not mismatches. */
  approximated: Record<string, number>;
}

export async function verifyP4(deviceDir: string, input: CodegenInput, opts: VerifyOptions): Promise<P4VerifyReport> {
  const read = await readEntries(deviceDir);
  const interp = new PipelineModel(read.entries, read.classes);
  const ref = new ReferenceEvaluator(input.policy, input.fabric);
  const flows = generateFlows(makeRng(opts.seed), input.policy, input.fabric, opts.packets);
  const ifaces = input.devicePlacement.interfaces;
  const exactPorts = ifaces.filter((i) => i.role === 'unmanaged-endpoint').map((i) => i.name);
  const others = ifaces.filter((i) => i.role !== 'unmanaged-endpoint').map((i) => i.name);
  const prefilterPorts = others.length || exactPorts.length ? others : ['port0'];
  const sourcesOf = (port: string) => endpointSources(input.fabric, input.device.name, port);
  const result = checkSwitchFlows({
    exactPorts,
    prefilterPorts,
    flows,
    reference: (f) => ref.verdict(f).verdict,
    evaluate: (p) => interp.evaluate(p),
    replyEntry: (p) => interp.replyEntry(p),
    sourcesOf,
    ports: 'rotate',
  });
  const sequences = generatePacketSequences(makeRng(opts.seed + 1), input.policy, input.fabric, Math.max(1, Math.ceil(opts.packets / 4)));
  const seq = checkSwitchSequences({
    sequences,
    reference: ref,
    exactSources: new Map(exactPorts.map((p) => [p, sourcesOf(p)])),
    prefilterPort: prefilterPorts[0],
    evaluate: (p) => interp.evaluate(p),
    replyEntry: (p) => interp.replyEntry(p),
  });
  const approximated = { ...seq.approximated };
  if (result.approximated) approximated['flow passed by a reverse entry'] = result.approximated;
  log.info(
    `p4 verify ${input.device.name}: ${result.checks} flow checks, ${seq.sequences} sequences (${seq.packets} packets, ${seq.replies} allowed replies), ` +
      `${result.mismatches + seq.mismatches} mismatches; stateless approximations: ${formatApproximations(approximated)}`,
  );
  return {
    device: input.device.name,
    target: 'p4',
    mode: input.devicePlacement.mode,
    flows: flows.length,
    mismatches: result.mismatches + seq.mismatches,
    examples: [...result.examples, ...seq.examples].slice(0, 5),
    sequences: seq.sequences,
    sequencePackets: seq.packets,
    repliesChecked: seq.replies,
    approximated,
  };
}
