// Starts an emulated switch agent (P4Runtime or gNMI) inside the current
// network namespace with the nftables datapath, so what the agent is given is
// enforced on the packets the node's bridge forwards. The lab emulator runs
// this with `ip netns exec` in each switch node.

import { parseArgs } from 'node:util';
import { logger } from '../../orchestrator/log.ts';
import { NftDatapath } from './nft-datapath.ts';
import { serveAgent } from './agent-entry.ts';

const log = logger('switch-agent');

const { values } = parseArgs({
  options: {
    pipeline: { type: 'string' },
    device: { type: 'string' },
    listen: { type: 'string' },
    'device-id': { type: 'string', default: '1' },
    bridge: { type: 'string', default: 'br0' },
    ports: { type: 'string', default: '' },
  },
});
const pipeline = values.pipeline;
if (pipeline !== 'p4' && pipeline !== 'openconfig') throw new Error(`--pipeline must be p4 or openconfig, got ${pipeline}`);
if (!values.listen || !values.device) throw new Error('--listen and --device are required');

const agent = await serveAgent({
  pipeline,
  device: values.device,
  listen: values.listen,
  deviceId: Number(values['device-id']),
  ports: (values.ports ?? '').split(',').filter((p) => p !== ''),
  datapath: new NftDatapath({ table: 'weft_acl' }),
});
log.info({ device: values.device, pipeline, listen: agent.address }, 'switch agent listening');
