// `npm run build` step: writes the shipped host agent (weft-agent.mjs,
// koffi.node, agent.json) to dist/agent/, next to the compiled orchestrator
// that ships it.

import { buildAgentFiles, DIST_AGENT_DIR } from '../targets/host/agent-bundle.ts';

const m = await buildAgentFiles(DIST_AGENT_DIR);
for (const f of m.files) process.stdout.write(`${DIST_AGENT_DIR}/${f.name}  ${f.bytes} bytes  sha256 ${f.sha256}\n`);
