// A simulated host for rollout benches: an SSH server (ssh2) on loopback
// that checks the client's public key, takes SFTP uploads into memory and
// runs the few shell commands the host driver sends (targets/host/driver.ts,
// agent-ship.ts) as a real host's sh would: the probe for Node and the
// agent files' checksums, the `mv`s that install a shipped agent, and the
// agent itself (apply records the bundle, status reports it with the rules
// its rules.json lists and their counters, remove forgets it), without
// touching this machine's datapath: the counters move only when a test
// counts packets with hit(). The agent runs only once it has been shipped,
// as on a real host.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { posix } from 'node:path';
import ssh2 from 'ssh2';
import { AGENT_FILE } from '../../targets/host/agent-bundle.ts';

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

/** A file held in memory, with its sha256 (what `sha256sum` prints). */
interface HeldFile {
  data: Buffer;
  sha256: string;
}

/** A file being written over SFTP: its chunks by offset, joined once it is closed (joining on every write would be quadratic). */
interface OpenFile {
  path: string;
  chunks: { offset: number; data: Buffer }[];
}

/**
 * One command line as sh splits it: `;`-separated commands, each a list of
 * words; single quotes (how the driver quotes every path, `'\''` included)
 * keep spaces and semicolons inside a word.
 */
export function shellCommands(line: string): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in: ${line}`);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i];
    } else if (c === ';' || c === ' ' || c === '\t' || c === '\n') {
      if (word !== undefined) words.push(word);
      word = undefined;
      if (c === ';' || c === '\n') {
        if (words.length) commands.push(words);
        words = [];
      }
    } else word = (word ?? '') + c;
  }
  if (word !== undefined) words.push(word);
  if (words.length) commands.push(words);
  return commands;
}

interface Ran {
  code: number;
  out: string;
}

export class SimHost {
  private readonly files = new Map<string, HeldFile>();
  private applied: string | undefined;
  /** Packets and bytes per rule index ("default" for the default action), as the agent's stats map holds them. */
  private readonly counts = new Map<string, { packets: bigint; bytes: bigint }>();
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
            const { code, out } = (host as SimHost).sh(info.command);
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

  private hold(path: string, data: Buffer): void {
    this.files.set(path, { data, sha256: createHash('sha256').update(data).digest('hex') });
  }

  private serveSftp(sftp: ssh2.SFTPWrapper): void {
    const open = new Map<number, OpenFile>();
    let next = 0;
    const ok = (id: number): void => {
      sftp.status(id, STATUS.OK);
    };
    sftp.on('OPEN', (id, filename) => {
      const h = next++;
      open.set(h, { path: filename, chunks: [] });
      const buf = Buffer.alloc(4);
      buf.writeUInt32BE(h);
      sftp.handle(id, buf);
    });
    sftp.on('WRITE', (id, handle, offset, data) => {
      const f = open.get(handle.readUInt32BE(0));
      if (!f) return sftp.status(id, STATUS.FAILURE);
      f.chunks.push({ offset, data: Buffer.from(data) });
      ok(id);
    });
    sftp.on('CLOSE', (id, handle) => {
      const h = handle.readUInt32BE(0);
      const f = open.get(h);
      open.delete(h);
      if (f) {
        const whole = Buffer.alloc(f.chunks.reduce((n, c) => Math.max(n, c.offset + c.data.length), 0));
        for (const c of f.chunks) c.data.copy(whole, c.offset);
        this.hold(f.path, whole);
      }
      ok(id);
    });
    sftp.on('MKDIR', (id) => ok(id));
    sftp.on('FSETSTAT', (id) => ok(id));
    sftp.on('SETSTAT', (id) => ok(id));
    sftp.on('FSTAT', (id) => sftp.attrs(id, { mode: 0o100644, uid: 0, gid: 0, size: 0, atime: 0, mtime: 0 }));
  }

  /** A command line as the host's sh runs it: `a || b`, `set -e`, and the commands below; anything else is not found. */
  private sh(line: string): Ran {
    let errexit = false;
    let last: Ran = { code: 0, out: '' };
    let out = '';
    for (const words of shellCommands(line)) {
      // Redirections of stderr change nothing here: the simulation writes none.
      const ws = words.filter((w) => !/^\d?>/.test(w));
      if (ws[0] === 'set' && ws[1] === '-e') {
        errexit = true;
        continue;
      }
      const or = ws.indexOf('||');
      last = this.run(or < 0 ? ws : ws.slice(0, or));
      if (last.code !== 0 && or >= 0) last = this.run(ws.slice(or + 1));
      out += last.out;
      if (last.code !== 0 && errexit) break;
    }
    return { code: last.code, out };
  }

  private run([cmd, ...args]: string[]): Ran {
    switch (cmd) {
      case 'true':
        return { code: 0, out: '' };
      case 'echo':
        return { code: 0, out: `${args.join(' ')}\n` };
      case 'sha256sum': {
        const lines = args.flatMap((p) => {
          const f = this.files.get(p);
          return f ? [`${f.sha256}  ${p}\n`] : [];
        });
        return { code: lines.length === args.length ? 0 : 1, out: lines.join('') };
      }
      case 'mv': {
        const [from, to] = args.filter((a) => a !== '-f');
        const f = this.files.get(from);
        if (!f || to === undefined) return { code: 1, out: `mv: cannot stat '${from}'\n` };
        this.files.delete(from);
        this.files.set(to, f);
        return { code: 0, out: '' };
      }
      case 'rmdir':
        return { code: 0, out: '' };
      case 'node':
        if (args[0] === '-p' && args[1] === 'process.versions.node') return { code: 0, out: `${process.versions.node}\n` };
        if (args[0] !== undefined && posix.basename(args[0]) === AGENT_FILE) {
          return this.files.has(args[0]) ? this.agent(args.slice(1)) : { code: 1, out: `Error: Cannot find module '${args[0]}'\n` };
        }
        return { code: 1, out: `node: unsupported here: ${args.join(' ')}\n` };
      default:
        return { code: 127, out: `sh: ${cmd}: not found\n` };
    }
  }

  /** The agent's side of the commands the host driver sends. */
  private agent([verb, arg]: string[]): Ran {
    switch (verb) {
      case 'apply': {
        if (!arg || !this.files.has(`${arg}/manifest.json`)) return { code: 1, out: `no bundle at ${arg}\n` };
        this.applied = arg;
        return { code: 0, out: '{}\n' };
      }
      case 'status': {
        if (!this.applied) return { code: 1, out: 'nothing applied\n' };
        const file = this.files.get(`${this.applied}/devices/${this.name}/rules.json`);
        const rules = (file ? JSON.parse(file.data.toString()) : []) as { index: number }[];
        const count = (id: string): { packets: string; bytes: string } => {
          const c = this.counts.get(id) ?? { packets: 0n, bytes: 0n };
          return { packets: c.packets.toString(), bytes: c.bytes.toString() };
        };
        const status = {
          bundle: this.applied,
          rules: rules.map((r) => ({ ...r, ...count(String(r.index)), hits: count(String(r.index)).packets })),
          defaultHits: count('default').packets,
          ruleCounters: Object.fromEntries([['default', count('default')], ...rules.map((r) => [String(r.index), count(String(r.index))])]),
        };
        return { code: 0, out: `${JSON.stringify(status)}\n` };
      }
      case 'remove':
        this.applied = undefined;
        return { code: 0, out: '{}\n' };
      default:
        return { code: 2, out: `weft-agent: unknown verb ${verb}\n` };
    }
  }

  /** Counts `packets` packets of `bytes` bytes in all against a rule index (or "default"), as the datapath's stats map would. */
  hit(rule: number | 'default', packets: number, bytes: number): void {
    const c = this.counts.get(String(rule)) ?? { packets: 0n, bytes: 0n };
    this.counts.set(String(rule), { packets: c.packets + BigInt(packets), bytes: c.bytes + BigInt(bytes) });
  }

  close(): Promise<void> {
    return new Promise((res) => this.server.close(() => res()));
  }
}
