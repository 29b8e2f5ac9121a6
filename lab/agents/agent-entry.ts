// Binds the emulated switch agents to a datapath: one place that knows how to
// start the P4Runtime and the gNMI agent, for the lab's switch wrapper.

import type { SwitchDatapath } from './datapath.ts';

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
  close(): Promise<void>;
}

export async function startAgent(opts: AgentStartOptions): Promise<RunningAgent> {
  const modPath = opts.pipeline === 'p4' ? './p4runtime/main.ts' : './gnmi/main.ts';
  const mod = (await import(modPath)) as Record<string, unknown>;
  throw new Error(`agent module ${modPath} exports ${Object.keys(mod).join(', ')}: not wired yet`);
}
