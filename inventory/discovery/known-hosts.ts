// An OpenSSH known_hosts file, read for discovery's SSH connections: the
// host keys listed for an address (plain, [host]:port, wildcard and hashed
// entries). A host the file does not list gets no key, and the connection is
// refused: discovery never trusts a key on first use.

import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InputError } from '../../orchestrator/diagnostics.ts';

interface Entry {
  patterns: string[];
  /** "type base64" */
  key: string;
  revoked: boolean;
  line: number;
}

export class KnownHosts {
  private constructor(private readonly entries: Entry[]) {}

  static parse(text: string, file: string): KnownHosts {
    const entries: Entry[] = [];
    const errors: InputError['diagnostics'] = [];
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      let fields = line.split(/\s+/);
      let revoked = false;
      if (fields[0].startsWith('@')) {
        // @cert-authority lines vouch for certificates, which discovery does not accept.
        if (fields[0] !== '@revoked') return;
        revoked = true;
        fields = fields.slice(1);
      }
      if (fields.length < 3) {
        errors.push({ code: 'bad-known-hosts', severity: 'error', message: `known_hosts entry has ${fields.length} fields`, span: { file, line: i + 1, col: 1 }, hint: 'valid: "host[,host...] keytype base64-key"' });
        return;
      }
      entries.push({ patterns: fields[0].split(','), key: `${fields[1]} ${fields[2]}`, revoked, line: i + 1 });
    });
    if (errors.length > 0) throw new InputError(errors);
    return new KnownHosts(entries);
  }

  static load(file: string): KnownHosts {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new InputError([{ code: 'unreadable-known-hosts', severity: 'error', message: `known_hosts ${file}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`, hint: 'valid: an OpenSSH known_hosts file listing every device discovery may reach over SSH' }]);
    }
    return KnownHosts.parse(text, file);
  }

  /** Keys listed for host:port, revoked ones removed. */
  keysFor(host: string, port: number): string[] {
    const name = port === 22 ? host : `[${host}]:${port}`;
    const matching = this.entries.filter((e) => matchesHost(e.patterns, name));
    const revoked = new Set(matching.filter((e) => e.revoked).map((e) => e.key));
    return [...new Set(matching.filter((e) => !e.revoked && !revoked.has(e.key)).map((e) => e.key))];
  }
}

function glob(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}

function hashedMatches(pattern: string, name: string): boolean {
  const [, , salt, hash] = pattern.split('|');
  if (!salt || !hash) return false;
  return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
}

/** OpenSSH semantics: a negated pattern that matches excludes the host whatever else matches. */
function matchesHost(patterns: string[], name: string): boolean {
  let hit = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (glob(p.slice(1), name)) return false;
    } else if (p.startsWith('|1|') ? hashedMatches(p, name) : glob(p, name)) {
      hit = true;
    }
  }
  return hit;
}
