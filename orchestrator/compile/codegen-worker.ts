// A codegen worker thread (codegen-pool.ts): reads the same policy and
// inventory texts as the compile, builds the same IR and placement (both
// are deterministic), then runs device codegen on request and posts the
// artefacts back. Their bytes are copied, not transferred: a target may keep
// a buffer it returns (shared by devices alike), which a transfer would
// empty. The thread writes nothing: the compile driver writes every
// artefact.

import { parentPort, workerData } from 'node:worker_threads';
import { parseInventory } from '../../inventory/load.ts';
import type { CodegenOutput } from '../../targets/contract.ts';
import { targetFor } from '../../targets/registry.ts';
import { InputError, UnsupportedError } from '../diagnostics.ts';
import { buildIr } from '../ir/build.ts';
import { place } from '../placement/place.ts';
import { parsePolicy } from '../policy/load.ts';
import type { CodegenReply, CodegenRequest, WorkerSources } from './codegen-pool.ts';

const port = parentPort;
if (!port) throw new Error('codegen-worker.ts runs as a worker thread of the compile');
const sources = workerData as WorkerSources;
const policy = parsePolicy(sources.policyText, sources.policyPath);
const fabric = parseInventory(sources.inventoryText, sources.inventoryPath);
const ir = buildIr(policy, fabric);
const placement = place(policy, fabric, ir);
const deviceOf = new Map(fabric.devices.map((d) => [d.name, d]));
const placementOf = new Map(placement.devices.map((dp) => [dp.device, dp]));

async function codegen(name: string): Promise<CodegenOutput> {
  const device = deviceOf.get(name);
  const devicePlacement = placementOf.get(name);
  if (!device || !devicePlacement) throw new Error(`${name}: not a placed device of this compile`);
  return targetFor(device).codegen({ policy, fabric, ir, placement, device, devicePlacement });
}

port.on('message', (req: CodegenRequest) => {
  void codegen(req.device).then(
    (out) => {
      const reply: CodegenReply = { id: req.id, output: out };
      port.postMessage(reply);
    },
    (e: unknown) => {
      let reply: CodegenReply;
      if (e instanceof InputError) reply = { id: req.id, refused: e.diagnostics };
      else if (e instanceof UnsupportedError) reply = { id: req.id, unsupported: { target: e.target, feature: e.feature, message: e.message } };
      else reply = { id: req.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
      port.postMessage(reply);
    },
  );
});
