// Runs inside a lab's management namespace (lab/p4-leaves.ts starts it there,
// since the leaves' P4Runtime servers listen on management addresses): makes
// each bmv2 leaf's pipeline Weft's, with the device config and the cookie the
// P4 driver computes for it, so `weft lab apply` finds the pipeline already
// set and never resets it (which would wipe the forwarding stage), then
// writes the forwarding stage and reads weft_l2_fwd back. Input: JSON on
// stdin; output: one JSON result per leaf on stdout.

import { readFileSync } from 'node:fs';
import { logger } from '../orchestrator/log.ts';
import { P4RuntimeClient } from '../targets/p4/client.ts';
import { pipelineCookie } from '../targets/p4/driver.ts';
import { forwardingIds } from '../targets/p4/forwarding.ts';
import { P4INFO } from '../targets/p4/p4info.ts';
import type { Bmv2LeafProgram, Bmv2LeafProgrammed } from './p4-leaves.ts';

const log = logger('lab-bmv2');

/** bmv2 takes a while to swap in a pipeline and to write a few thousand entries. */
const TIMEOUT_MS = 60_000;

const input = JSON.parse(readFileSync(0, 'utf8')) as { deviceConfigPath: string; leaves: Bmv2LeafProgram[] };
const config = readFileSync(input.deviceConfigPath);
const cookie = pipelineCookie(P4INFO, config);
const l2Table = forwardingIds().tableId;

async function program(leaf: Bmv2LeafProgram): Promise<Bmv2LeafProgrammed> {
  const client = await P4RuntimeClient.connect({ address: leaf.address, deviceId: leaf.deviceId, electionId: 1n, name: leaf.device, timeoutMs: TIMEOUT_MS });
  try {
    if (!client.isPrimary) throw new Error(`${leaf.device}: another controller is primary on a freshly started switch`);
    await client.setPipeline(P4INFO, 'VERIFY_AND_COMMIT', config, cookie);
    await client.write(leaf.updates);
    const want = leaf.updates.filter((u) => 'tableEntry' in u.entity).length;
    const l2Entries = (await client.readTableEntries(l2Table)).length;
    if (l2Entries !== want) throw new Error(`${leaf.device}: weft_l2_fwd reads back ${l2Entries} entries, ${want} written`);
    log.info({ device: leaf.device, l2Entries }, 'bmv2 leaf programmed');
    return { device: leaf.device, l2Entries };
  } finally {
    client.close();
  }
}

try {
  const results = await Promise.all(input.leaves.map(program));
  process.stdout.write(`${JSON.stringify(results)}\n`);
} catch (e) {
  // One line the deploy can quote, not a stack.
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
