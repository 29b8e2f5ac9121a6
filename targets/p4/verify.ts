// `weft verify --target p4`: reads a device's artefacts back (the P4Info it
// was compiled against and entries.json), runs the interpreter on generated
// flows at every port and compares with the reference evaluator: exact on
// ports facing unmanaged endpoints, never-drop-what-is-allowed elsewhere.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CodegenInput, VerifyOptions, VerifyReport } from '../contract.ts';
import { formatIp } from '../../orchestrator/net/ip.ts';
import type { Flow } from '../../orchestrator/flow.ts';
import { ReferenceEvaluator } from '../../orchestrator/reference/evaluator.ts';
import { generateFlows, makeRng } from '../../orchestrator/testing/generate.ts';
import { checkSwitchFlows, endpointSources } from '../switch-common/index.ts';
import { entryFromProto, type AclEntry, type EntriesDocument } from './entries.ts';
import { parseP4InfoText, pipelineFromP4Info, PIPELINE } from './p4info.ts';
import { AclInterpreter } from './semantics.ts';

export const ENTRIES_FILE = 'entries.json';
export const P4INFO_FILE = 'p4info.txtpb';

export async function readEntries(deviceDir: string): Promise<AclEntry[]> {
  const info = pipelineFromP4Info(parseP4InfoText(await readFile(join(deviceDir, P4INFO_FILE), 'utf8'), P4INFO_FILE));
  if (info.tableId !== PIPELINE.tableId || info.size !== PIPELINE.size) {
    throw new Error(`${join(deviceDir, P4INFO_FILE)}: compiled for another pipeline (table ${info.tableId}, size ${info.size})`);
  }
  const doc = JSON.parse(await readFile(join(deviceDir, ENTRIES_FILE), 'utf8')) as EntriesDocument;
  return doc.updates.map((u, i) => {
    try {
      return entryFromProto(u.entity.tableEntry, info);
    } catch (e) {
      throw new Error(`${join(deviceDir, ENTRIES_FILE)}: update ${i}: ${(e as Error).message}`);
    }
  });
}

export function describeFlow(f: Flow): string {
  const l4 = f.proto === 1 || f.proto === 58 ? ` type ${f.icmpType ?? 0} code ${f.icmpCode ?? 0}` : f.proto === 6 || f.proto === 17 ? ` ${f.sport} -> ${f.dport}` : '';
  return `${formatIp(f.src.family, f.src.value)} -> ${formatIp(f.dst.family, f.dst.value)} proto ${f.proto}${l4}`;
}

export async function verifyP4(deviceDir: string, input: CodegenInput, opts: VerifyOptions): Promise<VerifyReport> {
  const interp = new AclInterpreter(await readEntries(deviceDir));
  const ref = new ReferenceEvaluator(input.policy, input.fabric);
  const flows = generateFlows(makeRng(opts.seed), input.policy, input.fabric, opts.packets);
  const ifaces = input.devicePlacement.interfaces;
  const exactPorts = ifaces.filter((i) => i.role === 'unmanaged-endpoint').map((i) => i.name);
  const others = ifaces.filter((i) => i.role !== 'unmanaged-endpoint').map((i) => i.name);
  const result = checkSwitchFlows({
    exactPorts,
    prefilterPorts: others.length || exactPorts.length ? others : ['port0'],
    flows,
    reference: (f) => ref.verdict(f).verdict,
    evaluate: (p) => interp.evaluate(p),
    describe: describeFlow,
    sourcesOf: (port) => endpointSources(input.fabric, input.device.name, port),
    ports: 'rotate',
  });
  return {
    device: input.device.name,
    target: 'p4',
    mode: input.devicePlacement.mode,
    flows: flows.length,
    mismatches: result.mismatches,
    examples: result.examples,
  };
}
