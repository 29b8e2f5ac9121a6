// A simulated host for rollout benches: an SSH server (ssh2) on loopback
// that checks the client's public key, takes SFTP uploads into memory and
// answers the agent's commands (apply records the bundle, status reports it
// with the rules its rules.json lists, remove forgets it), as `weft agent`
// would on a real host, without touching this machine's datapath.

import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';

const { Server, utils } = ssh2;
const STATUS = utils.sftp.STATUS_CODE;

export interface SshKeyPair {
  /** OpenSSH private key. */
  private: string;
  /** Authorized-keys line. */
  public: string;
}

export function newKeyPair(): SshKeyPair {
  // About one ed25519 key in a hundred that ssh2 generates fails its own parser; draw again.
  for (;;) {
    const k = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(k.private) instanceof Error)) return k;
  }
}

export class SimHost {
  private readonly files = new Map<string, Buffer>();
  private applied: string | undefined;
  readonly port: number;

  private constructor(
    readonly name: string,
    readonly hostKey: SshKeyPair,
    private readonly server: InstanceType<typeof Server>,
  ) {
    this.port = (server.address() as AddressInfo).port;
  }

  static async start(name: string, clientPublic: string, hostKey = newKeyPair()): Promise<SimHost> {
    const allowed = utils.parseKey(clientPublic);
    if (allowed instanceof Error) throw allowed;
    let host: SimHost | undefined;
    const server = new Server({ hostKeys: [hostKey.private] }, (client) => {
      client.on('authentication', (ctx) => {
        if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
        const same = ctx.key.algo === allowed.type && ctx.key.data.length === allowed.getPublicSSH().length && timingSafeEqual(ctx.key.data, allowed.getPublicSSH());
        if (!same) return ctx.reject();
        if (ctx.signature && ctx.blob && allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject();
        ctx.accept();
      });
      client.on('ready', () => {
        client.on('session', (accept) => {
          const session = accept();
          session.on('exec', (acc, _rej, info) => {
            const stream = acc();
            const { code, out } = (host as SimHost).exec(info.command);
            stream.write(out);
            stream.exit(code);
            stream.end();
          });
          session.on('sftp', (acc) => (host as SimHost).serveSftp(acc()));
        });
      });
      client.on('error', () => undefined);
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    host = new SimHost(name, hostKey, server);
    return host;
  }

  private serveSftp(sftp: ssh2.SFTPWrapper): void {
    const handles = new Map<number, string>();
    let next = 0;
    const ok = (id: number): void => {
      sftp.status(id, STATUS.OK);
    };
    sftp.on('OPEN', (id, filename) => {
      const h = next++;
      handles.set(h, filename);
      this.files.set(filename, Buffer.alloc(0));
      const buf = Buffer.alloc(4);
      buf.writeUInt32BE(h);
      sftp.handle(id, buf);
    });
    sftp.on('WRITE', (id, handle, offset, data) => {
      const path = handles.get(handle.readUInt32BE(0));
      if (path === undefined) return sftp.status(id, STATUS.FAILURE);
      const cur = this.files.get(path) ?? Buffer.alloc(0);
      const grown = Buffer.alloc(Math.max(cur.length, offset + data.length));
      cur.copy(grown);
      data.copy(grown, offset);
      this.files.set(path, grown);
      ok(id);
    });
    sftp.on('CLOSE', (id, handle) => {
      handles.delete(handle.readUInt32BE(0));
      ok(id);
    });
    sftp.on('MKDIR', (id) => ok(id));
    sftp.on('FSETSTAT', (id) => ok(id));
    sftp.on('SETSTAT', (id) => ok(id));
    sftp.on('FSTAT', (id) => sftp.attrs(id, { mode: 0o100644, uid: 0, gid: 0, size: 0, atime: 0, mtime: 0 }));
  }

  /** The agent's side of the commands the host driver sends. */
  private exec(command: string): { code: number; out: string } {
    const m = /\bagent (apply|status|remove)\b(?: (\S+))?/.exec(command);
    if (!m) return { code: 127, out: `not an agent command: ${command}\n` };
    switch (m[1]) {
      case 'apply': {
        if (!m[2] || !this.files.has(`${m[2]}/manifest.json`)) return { code: 1, out: `no bundle at ${m[2]}\n` };
        this.applied = m[2];
        return { code: 0, out: '{}\n' };
      }
      case 'status': {
        if (!this.applied) return { code: 1, out: 'nothing applied\n' };
        const rules = this.files.get(`${this.applied}/devices/${this.name}/rules.json`);
        return { code: 0, out: `${JSON.stringify({ bundle: this.applied, rules: rules ? JSON.parse(rules.toString()) : [] })}\n` };
      }
      default:
        this.applied = undefined;
        return { code: 0, out: '{}\n' };
    }
  }

  close(): Promise<void> {
    return new Promise((res) => this.server.close(() => res()));
  }
}
