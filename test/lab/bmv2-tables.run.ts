// Run inside a lab's management namespace by bmv2.test.ts: reads what a bmv2
// leaf holds over P4Runtime (entries per table, split into the forwarding
// stage and Weft's policy tables, and the pipeline's cookie) and prints it as
// JSON, so the test can check that `weft lab apply` left the L2 table alone.

import { P4RuntimeClient } from '../../targets/p4/client.ts';
import { forwardingIds } from '../../targets/p4/forwarding.ts';

const [address, deviceId] = process.argv.slice(2);
const client = await P4RuntimeClient.connect({ address, deviceId: Number(deviceId), electionId: 1n, name: address, timeoutMs: 30_000 });
try {
  const l2Table = forwardingIds().tableId;
  const entries = await client.readTableEntries();
  const cfg = await client.getPipelineConfig('COOKIE_ONLY');
  const l2 = entries.filter((e) => e.tableId === l2Table);
  process.stdout.write(
    `${JSON.stringify({ l2: l2.length, l2Keys: l2.map((e) => JSON.stringify(e.match)).sort(), policy: entries.length - l2.length, cookie: cfg?.cookie?.toString() })}\n`,
  );
} finally {
  client.close();
}
