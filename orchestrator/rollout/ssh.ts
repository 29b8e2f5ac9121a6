// The SSH transport for host and DPU agents: connects with the inventory's
// client key, checks the server's host key against the one pinned in the
// inventory (fail closed: no pin or a different key refuses the connection),
// copies a bundle over SFTP and runs `weft agent` remotely.

import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { Client, type SFTPWrapper } from 'ssh2';
import { logger } from '../log.ts';

const log = logger('rollout-ssh');

export class HostKeyMismatchError extends Error {
  constructor(
    readonly host: string,
    readonly presented: string,
    readonly pinned: string | readonly string[] | undefined,
  ) {
    super(
      pinned === undefined || pinned.length === 0
        ? `${host}: no pinned host key (inventory mgmt.ssh.hostKey, or known_hosts); refusing to connect (presented ${presented})`
        : `${host}: host key ${presented} does not match the pinned ${typeof pinned === 'string' ? pinned : pinned.join(', ')}; refusing to connect`,
    );
    this.name = 'HostKeyMismatchError';
  }
}

/** SHA256 fingerprint as OpenSSH prints it. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** True when `pinned` (an authorized-keys style line, its base64 blob, or a SHA256 fingerprint) names keyBlob. */
export function hostKeyMatches(keyBlob: Buffer, pinned: string): boolean {
  const p = pinned.trim();
  if (p.startsWith('SHA256:')) return p === fingerprint(keyBlob);
  const parts = p.split(/\s+/);
  const blob = parts.length >= 2 ? parts[1] : parts[0];
  return blob === keyBlob.toString('base64');
}

export interface SshTarget {
  name: string;
  host: string;
  port: number;
  user: string;
  privateKey: Buffer;
  /** The pinned key, or every key known_hosts lists for the host (any of them may match). */
  hostKey?: string | readonly string[];
}

/** The authorized-keys style line ("ssh-ed25519 AAAA...") of a key blob in SSH wire format. */
export function keyLine(keyBlob: Buffer): string {
  const type = keyBlob.subarray(4, 4 + keyBlob.readUInt32BE(0)).toString('ascii');
  return `${type} ${keyBlob.toString('base64')}`;
}

export class SshSession {
  private constructor(
    private readonly client: Client,
    readonly target: SshTarget,
    /** The host key the server presented (and that matched a pinned one). */
    readonly hostKey: string,
  ) {}

  static connect(t: SshTarget, timeoutMs = 10_000): Promise<SshSession> {
    const client = new Client();
    let rejected: Error | undefined;
    let accepted = '';
    return new Promise((resolve, reject) => {
      client.on('ready', () => resolve(new SshSession(client, t, accepted)));
      client.on('error', (e) => reject(rejected ?? e));
      client.connect({
        host: t.host,
        port: t.port,
        username: t.user,
        privateKey: t.privateKey,
        readyTimeout: timeoutMs,
        hostVerifier: (key: Buffer) => {
          const pinned = t.hostKey === undefined ? [] : typeof t.hostKey === 'string' ? [t.hostKey] : t.hostKey;
          if (pinned.some((p) => hostKeyMatches(key, p))) {
            accepted = keyLine(key);
            return true;
          }
          rejected = new HostKeyMismatchError(`${t.name} (${t.host}:${t.port})`, fingerprint(key), t.hostKey);
          log.error({ device: t.name, presented: fingerprint(key) }, 'host key check failed');
          return false;
        },
      });
    });
  }

  /** Runs a command; resolves with its exit code and output. */
  exec(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) return reject(err);
        let stdout = '';
        let stderr = '';
        stream.on('data', (d: Buffer) => (stdout += d.toString()));
        stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        stream.on('close', (code: number | null) => resolve({ code: code ?? -1, stdout, stderr }));
      });
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    return new Promise((resolve, reject) => this.client.sftp((err, s) => (err ? reject(err) : resolve(s))));
  }

  /**
   * Copies a local directory tree to remoteDir (created, with its parents);
   * `include` (given a path relative to localDir) leaves out what the device does not need.
   */
  async upload(localDir: string, remoteDir: string, include: (rel: string) => boolean = () => true): Promise<number> {
    const sftp = await this.sftp();
    const mkdir = (p: string): Promise<void> => new Promise((res) => sftp.mkdir(p, () => res()));
    const put = (l: string, r: string): Promise<void> => new Promise((res, rej) => sftp.fastPut(l, r, (e) => (e ? rej(e) : res())));
    let files = 0;
    const parts = remoteDir.split('/').filter((s) => s !== '');
    for (let i = 1; i <= parts.length; i++) await mkdir(`/${parts.slice(0, i).join('/')}`);
    const walk = async (rel: string): Promise<void> => {
      for (const name of readdirSync(join(localDir, rel))) {
        const sub = posix.join(rel, name);
        if (!include(sub)) continue;
        const [lp, rp] = [join(localDir, sub), posix.join(remoteDir, sub)];
        if (statSync(lp).isDirectory()) {
          await mkdir(rp);
          await walk(sub);
        } else {
          await put(lp, rp);
          files++;
        }
      }
    };
    await walk('');
    sftp.end();
    return files;
  }

  close(): void {
    this.client.end();
  }
}
