// The emulated P4Runtime switch agent (see server.ts). This file only re-exports.

export { startP4RuntimeAgent, type P4RuntimeAgent, type P4RuntimeAgentOptions } from './server.ts';
