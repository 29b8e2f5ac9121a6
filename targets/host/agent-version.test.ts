// The shipped agent cannot read package.json, so its version is a constant:
// this keeps it equal to the release it belongs to.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AGENT_VERSION, checkAgentVersion } from './agent-version.ts';
import { packagePath } from '../../orchestrator/package-root.ts';

describe('agent version', () => {
  it('is the package version', () => {
    const pkg = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string };
    expect(AGENT_VERSION).toBe(pkg.version);
  });

  it('accepts its own version and names both versions otherwise', () => {
    expect(() => checkAgentVersion(AGENT_VERSION, 'x')).not.toThrow();
    expect(() => checkAgentVersion('9.9.9', 'b/devices/h1/interfaces.json')).toThrow(
      `b/devices/h1/interfaces.json: the bundle was compiled for weft-agent 9.9.9, this is weft-agent ${AGENT_VERSION}`,
    );
    expect(() => checkAgentVersion(undefined, 'x')).toThrow('(unversioned)');
  });
});
