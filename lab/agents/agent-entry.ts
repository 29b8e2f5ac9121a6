// Binds the emulated switch agents to a datapath: one place that knows how to
// start the P4Runtime and the gNMI agent, for the lab's switch wrapper.

import type { SwitchDatapath } from './datapath.ts';
import { startGnmiAgent } from './gnmi/index.ts';

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

export async function startAgent(opts: AgentStartOptions): Promise<RunningAgent> {
  switch (opts.pipeline) {
    case 'openconfig':
      return startGnmiAgent({ address: opts.listen, datapath: opts.datapath, interfaces: opts.ports });
    case 'p4': {
      const modPath = './p4runtime/index.ts';
      const mod = (await import(modPath)) as Record<string, unknown>;
      throw new Error(`P4Runtime agent (${modPath}: ${Object.keys(mod).join(', ')}) is not wired`);
    }
  }
}
