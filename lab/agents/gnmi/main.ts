// CLI entry of the emulated gNMI switch agent:
//   node bin/run-ts.js lab/agents/gnmi/main.ts --listen ADDR:PORT --interfaces eth1,eth2 --datapath memory|nft
// The lab runs it inside a switch namespace with the nftables datapath.

import { parseArgs } from 'node:util';
import { logger } from '../../../orchestrator/log.ts';
import type { SwitchDatapath } from '../datapath.ts';
import { startGnmiAgent } from './agent.ts';
import { MemoryDatapath } from './memory-datapath.ts';

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

const datapath = await datapathOf(values.datapath ?? 'memory');
// A fresh switch forwards everything until its first Set.
await datapath.program({ entries: [], defaultIp: 'permit', defaultNonIp: 'permit' });
const agent = await startGnmiAgent({
  address: values.listen,
  datapath,
  interfaces: (values.interfaces ?? '').split(',').filter((s) => s !== ''),
});
process.stdout.write(`gnmi agent listening on ${agent.address}\n`);
log.info({ address: agent.address, datapath: values.datapath }, 'started');
const stop = async (): Promise<void> => {
  await agent.close();
  await datapath.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
