// Puts the host agent on a host over SSH, and says how to run it there.
// The host needs Node 20+ and libbpf1, nothing else: the agent files
// (agent-bundle.ts) go to <agent dir> beside the host's bundle staging
// directory (/var/lib/weft/agent by default), copied only when the
// checksums the host reports differ from this release's, through a
// staging directory and a rename so a running agent never reads a
// half-written file. The host's own `node` runs it.

import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { agentFiles, AGENT_FILE, AGENT_MANIFEST, KOFFI_FILE } from './agent-bundle.ts';

/** What shipping needs of an SSH session (orchestrator/rollout/ssh.ts has it). */
export interface RemoteShell {
  exec(command: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Copies a local directory tree to remoteDir (created, with its parents). */
  upload(localDir: string, remoteDir: string): Promise<number>;
}

export const MIN_NODE_MAJOR = 20;

/** Where the agent lives on a host: `agent/` beside the directory bundles are staged in. */
export function remoteAgentDir(stagingDir: string): string {
  return posix.join(posix.dirname(stagingDir), 'agent');
}

/** Single-quoted for sh: the paths come from the inventory. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface ShipResult {
  /** False when the host already had these exact files. */
  copied: boolean;
  agentDir: string;
  nodeVersion: string;
}

/** Makes sure the host runs this release's agent files; checks its Node first. */
export async function shipAgent(sh: RemoteShell, agentDir: string, device: string): Promise<ShipResult> {
  const { dir, manifest } = await agentFiles();
  const paths = manifest.files.map((f) => posix.join(agentDir, f.name));
  // One round trip: the host's Node version, then the checksums of what it has (missing files print nothing).
  const probe = await sh.exec(`node -p process.versions.node 2>/dev/null || echo none; sha256sum ${paths.map(shellQuote).join(' ')} 2>/dev/null; true`);
  const [nodeLine = 'none', ...sumLines] = probe.stdout.trim().split('\n');
  const nodeVersion = nodeLine.trim();
  if (nodeVersion === 'none' || Number(nodeVersion.split('.')[0]) < MIN_NODE_MAJOR) {
    throw new Error(
      `${device} cannot run weft-agent: it needs Node ${MIN_NODE_MAJOR} or later as \`node\` on the PATH of SSH sessions (found: ${nodeVersion}), and libbpf1`,
    );
  }
  const have = new Map(sumLines.map((l) => l.trim().split(/\s+/)).map(([sum, p]) => [p, sum]));
  if (manifest.files.every((f) => have.get(posix.join(agentDir, f.name)) === f.sha256)) return { copied: false, agentDir, nodeVersion };
  const incoming = posix.join(agentDir, `.incoming-${randomBytes(4).toString('hex')}`);
  await sh.upload(dir, incoming);
  // The native module first: the agent file that needs it appears last.
  const moves = [KOFFI_FILE, AGENT_MANIFEST, AGENT_FILE].map((f) => `mv -f ${shellQuote(posix.join(incoming, f))} ${shellQuote(posix.join(agentDir, f))}`);
  const r = await sh.exec(`set -e; ${moves.join('; ')}; rmdir ${shellQuote(incoming)}`);
  if (r.code !== 0) throw new Error(`installing weft-agent on ${device} in ${agentDir} failed: ${(r.stderr || r.stdout).trim()}`);
  return { copied: true, agentDir, nodeVersion };
}

/** The command line that runs the shipped agent on the host with these arguments. */
export function agentCommandLine(agentDir: string, args: string[]): string {
  return ['node', posix.join(agentDir, AGENT_FILE), ...args].map(shellQuote).join(' ');
}
