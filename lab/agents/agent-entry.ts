// Binds the emulated switch agents to a datapath: one place that knows how to
// start the P4Runtime and the gNMI agent, for the lab's switch wrapper.

import type { SwitchDatapath } from './datapath.ts';
import { startGnmiAgent } from './gnmi/index.ts';
import { startP4RuntimeAgent } from './p4runtime/index.ts';

export interface AgentStartOptions {
  pipeline: 'p4' | 'openconfig';
  device: string;
  /** host:port to listen on (the node's management address). */
  listen: string;
  deviceId: number;
  ports: string[];
  datapath: SwitchDatapath;
}

export interface RunningAgent {
  address: string;
  close(): Promise<void>;
}

/** P4 port numbers as the P4 target numbers them: the digits a port name ends in (eth5 -> 5). */
function p4PortMap(ports: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of ports) {
    const m = /(\d+)$/.exec(p);
    if (m) out[p] = Number(m[1]);
  }
  return out;
}

export async function startAgent(opts: AgentStartOptions): Promise<RunningAgent> {
  switch (opts.pipeline) {
    case 'openconfig':
      return startGnmiAgent({ address: opts.listen, datapath: opts.datapath, interfaces: opts.ports });
    case 'p4':
      return startP4RuntimeAgent({ address: opts.listen, deviceId: opts.deviceId, datapath: opts.datapath, portMap: p4PortMap(opts.ports) });
  }
}
