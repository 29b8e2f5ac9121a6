// Binds the emulated switch agents to a datapath: one place that knows how to
// start the P4Runtime and the gNMI agent, and how an agent runs as its own
// process, for the lab's switch wrapper and the gNMI agent's command line.

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

/**
 * Runs an agent as this process's service: the datapath forwards everything
 * until the first push (a fresh switch has an empty ACL), and SIGTERM/SIGINT
 * close the agent, then the datapath, and exit 0.
 */
export async function serveAgent(opts: AgentStartOptions): Promise<RunningAgent> {
  await opts.datapath.program({ entries: [], defaultIp: 'permit', defaultNonIp: 'permit' });
  const agent = await startAgent(opts);
  const stop = async (): Promise<void> => {
    await agent.close();
    await opts.datapath.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  return agent;
}
