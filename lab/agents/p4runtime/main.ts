// Runs the emulated P4Runtime switch agent:
//   node bin/run-ts.js lab/agents/p4runtime/main.ts --listen ADDR:PORT --device-id N
//        [--datapath memory] [--port-map eth1=1,eth2=2]
// Prints one JSON line {"listening": "host:port"} on stdout when ready and
// stops cleanly on SIGTERM/SIGINT (serveAgent, agent-entry.ts). Without
// --port-map every port number n is port ethN.

import { parseArgs } from 'node:util';
import { serveAgent } from '../agent-entry.ts';
import { MemoryDatapath } from '../memory-datapath.ts';
import type { SwitchDatapath } from '../datapath.ts';

/** Datapaths this standalone entry point can build; the lab starts its switches through start-switch-agent.ts, with nftables. */
const DATAPATHS: Record<string, () => Promise<SwitchDatapath>> = {
  memory: async () => new MemoryDatapath(),
};

function parsePortMap(text: string | undefined): Record<string, number> | 'any' {
  if (!text) return 'any';
  const out: Record<string, number> = {};
  for (const part of text.split(',')) {
    const m = /^([^=]+)=(\d+)$/.exec(part.trim());
    if (!m) throw new Error(`--port-map: "${part}" is not NAME=NUMBER`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      listen: { type: 'string' },
      'device-id': { type: 'string', default: '1' },
      datapath: { type: 'string', default: 'memory' },
      'port-map': { type: 'string' },
    },
  });
  if (!values.listen) throw new Error('--listen ADDR:PORT is required');
  const make = DATAPATHS[values.datapath ?? 'memory'];
  if (!make) throw new Error(`unknown --datapath "${values.datapath}" (valid: ${Object.keys(DATAPATHS).join(', ')})`);
  const agent = await serveAgent({
    pipeline: 'p4',
    device: 'p4runtime',
    listen: values.listen,
    deviceId: Number(values['device-id']),
    ports: [],
    portMap: parsePortMap(values['port-map']),
    datapath: await make(),
  });
  process.stdout.write(`${JSON.stringify({ listening: agent.address })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`p4runtime agent: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
});
