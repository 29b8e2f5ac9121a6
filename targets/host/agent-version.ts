// The host agent's version: the shipped agent file reports it (`weft-agent
// --version`, status JSON), every host bundle names the version it was
// compiled for (interfaces.json), and the agent refuses a bundle made for
// another one. It is Weft's release version: the orchestrator and the agent
// it ships come from one release (agent-version.test.ts holds it to
// package.json, since the shipped agent has no package.json to read).

export const AGENT_VERSION = '0.1.0';

/** Refuses a bundle compiled for another agent version, saying what to do. */
export function checkAgentVersion(expected: string | undefined, where: string): void {
  if (expected === AGENT_VERSION) return;
  throw new Error(
    `${where}: the bundle was compiled for weft-agent ${expected ?? '(unversioned)'}, this is weft-agent ${AGENT_VERSION}; ` +
      'ship the agent of the release that compiled the bundle (`weft apply` does), or recompile with this release',
  );
}
