// CLI entry of the emulated gNMI switch agent on its own:
//   node bin/run-ts.js lab/agents/gnmi/main.ts --listen ADDR:PORT --interfaces eth1,eth2 --datapath memory|nft
// Prints "gnmi agent listening on ADDR:PORT" on stdout when ready. The lab
// starts switches through lab/agents/start-switch-agent.ts; both run the
// agent through serveAgent (agent-entry.ts).

import { parseArgs } from 'node:util';
import { logger } from '../../../orchestrator/log.ts';
import { serveAgent } from '../agent-entry.ts';
import type { SwitchDatapath } from '../datapath.ts';
import { MemoryDatapath } from '../memory-datapath.ts';

const log = logger('gnmi-agent');

const { values } = parseArgs({
  options: {
    listen: { type: 'string' },
    interfaces: { type: 'string', default: '' },
    datapath: { type: 'string', default: 'memory' },
  },
});
if (!values.listen) throw new Error('--listen ADDR:PORT is required');

async function datapathOf(kind: string): Promise<SwitchDatapath> {
  switch (kind) {
    case 'memory':
      return new MemoryDatapath();
    case 'nft': {
      const { NftDatapath } = await import('../nft-datapath.ts');
      return new NftDatapath({ table: 'weft_acl' });
    }
    default:
      throw new Error(`--datapath must be memory or nft, got "${kind}"`);
  }
}

const agent = await serveAgent({
  pipeline: 'openconfig',
  device: 'gnmi',
  listen: values.listen,
  // Only the P4Runtime agent uses a device id.
  deviceId: 1,
  ports: (values.interfaces ?? '').split(',').filter((s) => s !== ''),
  datapath: await datapathOf(values.datapath ?? 'memory'),
});
process.stdout.write(`gnmi agent listening on ${agent.address}\n`);
log.info({ address: agent.address, datapath: values.datapath }, 'started');
