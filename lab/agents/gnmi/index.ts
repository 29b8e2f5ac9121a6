// The emulated gNMI switch agent, for the lab's switch wrapper and tests.
export { startGnmiAgent, type GnmiAgent, type GnmiAgentOptions } from './agent.ts';
