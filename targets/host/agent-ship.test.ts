// Shipping the agent through a real shell on this machine (the same
// commands an SSH session runs on a host): copied when the host has
// nothing or something else, left alone when the checksums match, run
// from where it was put with the host's `node`, and a host without a
// usable Node named as such.

import { execFile } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_FILE, agentFiles, KOFFI_FILE } from './agent-bundle.ts';
import { agentCommandLine, remoteAgentDir, shipAgent, type RemoteShell } from './agent-ship.ts';
import { AGENT_VERSION } from './agent-version.ts';
import { tempDir } from '../../test/kernel/host-helpers.ts';

const run = promisify(execFile);

/** A shell on this machine, with the PATH a host's sessions would have. */
function localShell(path = process.env.PATH ?? ''): RemoteShell & { commands: string[] } {
  const commands: string[] = [];
  return {
    commands,
    async exec(command) {
      commands.push(command);
      try {
        const r = await run('/bin/sh', ['-c', command], { encoding: 'utf8', env: { PATH: path } });
        return { code: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (e) {
        const x = e as { code: number; stdout: string; stderr: string };
        return { code: x.code, stdout: x.stdout, stderr: x.stderr };
      }
    },
    async upload(localDir, remoteDir) {
      mkdirSync(remoteDir, { recursive: true });
      cpSync(localDir, remoteDir, { recursive: true });
      return 3;
    },
  };
}

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('shipping the host agent', () => {
  const host = tempDir('weft-ship');
  afterAll(() => host.remove());
  const agentDir = remoteAgentDir(join(host.path, 'var/lib/weft/bundles'));

  it('puts the agent beside the staging directory and runs it with plain node', async () => {
    expect(agentDir).toBe(join(host.path, 'var/lib/weft/agent'));
    const sh = localShell();
    const r = await shipAgent(sh, agentDir, 'host1');
    expect(r.copied).toBe(true);
    expect(Number(r.nodeVersion.split('.')[0])).toBeGreaterThanOrEqual(20);
    const { manifest } = await agentFiles();
    for (const f of manifest.files) expect(sha(join(agentDir, f.name))).toBe(f.sha256);
    const v = await sh.exec(agentCommandLine(agentDir, ['--version']));
    expect(v.stdout.trim()).toBe(`weft-agent ${AGENT_VERSION}`);
    expect(v.code).toBe(0);
  });

  it('copies nothing when the host has the same files, and repairs a file that differs', async () => {
    const sh = localShell();
    expect((await shipAgent(sh, agentDir, 'host1')).copied).toBe(false);
    expect(sh.commands).toHaveLength(1); // the probe only
    appendFileSync(join(agentDir, KOFFI_FILE), 'x');
    const again = await shipAgent(sh, agentDir, 'host1');
    expect(again.copied).toBe(true);
    const { manifest } = await agentFiles();
    expect(sha(join(agentDir, KOFFI_FILE))).toBe(manifest.files.find((f) => f.name === KOFFI_FILE)!.sha256);
    expect(sha(join(agentDir, AGENT_FILE))).toBe(manifest.files.find((f) => f.name === AGENT_FILE)!.sha256);
  });

  it('names a host without Node as the problem', async () => {
    const bin = join(host.path, 'bin-without-node');
    mkdirSync(bin);
    symlinkSync('/usr/bin/sha256sum', join(bin, 'sha256sum'));
    await expect(shipAgent(localShell(bin), join(host.path, 'other/agent'), 'host9')).rejects.toThrow(
      'host9 cannot run weft-agent: it needs Node 20 or later as `node` on the PATH of SSH sessions (found: none), and libbpf1',
    );
  });

  it('quotes what it runs', () => {
    expect(agentCommandLine("/srv/it's here", ['apply', '/b', '--device', 'h1'])).toBe(`'node' '/srv/it'\\''s here/weft-agent.mjs' 'apply' '/b' '--device' 'h1'`);
  });
});
