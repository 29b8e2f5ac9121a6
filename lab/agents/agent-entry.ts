// Binds the emulated switch agents to a datapath: one place that knows how to
// start the P4Runtime and the gNMI agent, and how an agent runs as its own
// process, for the lab's switch wrapper and both agents' command lines.

import { UnsupportedError } from '../../orchestrator/diagnostics.ts';
import { portNumber } from '../../targets/p4/codegen.ts';
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
  /**
   * P4 only: port name -> P4 port number. By default the numbers of `ports`
   * (p4PortMap); 'any' fixes no ports, so port number n is ethN.
   */
  portMap?: Record<string, number> | 'any';
  datapath: SwitchDatapath;
}

export interface RunningAgent {
  address: string;
  close(): Promise<void>;
}

/**
 * P4 port numbers as the P4 target numbers them (portNumber). A port it cannot
 * number is left out of the map: no compiled entry can name it, and the
 * switch still serves its other ports.
 */
function p4PortMap(ports: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of ports) {
    try {
      out[p] = portNumber(p);
    } catch (e) {
      if (!(e instanceof UnsupportedError)) throw e;
    }
  }
  return out;
}

export async function startAgent(opts: AgentStartOptions): Promise<RunningAgent> {
  switch (opts.pipeline) {
    case 'openconfig':
      return startGnmiAgent({ address: opts.listen, datapath: opts.datapath, interfaces: opts.ports });
    case 'p4': {
      const portMap = opts.portMap === 'any' ? undefined : (opts.portMap ?? p4PortMap(opts.ports));
      return startP4RuntimeAgent({ address: opts.listen, deviceId: opts.deviceId, datapath: opts.datapath, portMap });
    }
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
