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
  private ended = false;

  private constructor(
    private readonly client: Client,
    readonly target: SshTarget,
    /** The host key the server presented (and that matched a pinned one). */
    readonly hostKey: string,
  ) {
    client.on('close', () => (this.ended = true));
  }

  /** False once the connection closed (by either side): nothing more can run on it. */
  get usable(): boolean {
    return !this.ended;
  }

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
   * `include` (given a path relative to localDir) leaves out what the device
   * does not need, and `extra` adds files made in memory (path relative to
   * remoteDir). Directories are made first, then every file goes at once
   * over one SFTP session, so a device costs a few round trips, not a few
   * per file.
   */
  async upload(localDir: string, remoteDir: string, include: (rel: string) => boolean = () => true, extra: { path: string; data: Uint8Array }[] = []): Promise<number> {
    const dirs: string[] = [];
    const files: string[] = [];
    const walk = (rel: string): void => {
      for (const name of readdirSync(join(localDir, rel))) {
        const sub = posix.join(rel, name);
        if (!include(sub)) continue;
        if (statSync(join(localDir, sub)).isDirectory()) {
          dirs.push(sub);
          walk(sub);
        } else files.push(sub);
      }
    };
    walk('');
    const sftp = await this.sftp();
    try {
      const mkdir = (p: string): Promise<void> => new Promise((res) => sftp.mkdir(p, () => res()));
      const parts = remoteDir.split('/').filter((s) => s !== '');
      // Parents before children; a directory that exists already is fine.
      for (let i = 1; i <= parts.length; i++) await mkdir(`/${parts.slice(0, i).join('/')}`);
      for (const d of dirs) await mkdir(posix.join(remoteDir, d));
      const put = (rel: string): Promise<void> => new Promise((res, rej) => sftp.fastPut(join(localDir, rel), posix.join(remoteDir, rel), (e) => (e ? rej(e) : res())));
      const write = (f: { path: string; data: Uint8Array }): Promise<void> => new Promise((res, rej) => sftp.writeFile(posix.join(remoteDir, f.path), Buffer.from(f.data), (e) => (e ? rej(e) : res())));
      await Promise.all([...files.map(put), ...extra.map(write)]);
    } finally {
      sftp.end();
    }
    return files.length + extra.length;
  }

  close(): void {
    this.ended = true;
    this.client.end();
  }
}
