// `weft discover` on bad input: exit 2 with the file, line and column and
// what is valid, before any device is asked and with nothing written.

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from './main.ts';

const dir = mkdtempSync(join(tmpdir(), 'weft-discover-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function weft(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('weft discover: bad input', () => {
  const community = join(dir, 'community');
  writeFileSync(community, 'x\n');
  const out = join(dir, 'out.yaml');

  it('points at a bad seed in a seeds file', async () => {
    const seeds = join(dir, 'seeds');
    writeFileSync(seeds, '127.0.0.1\n# comment\n  10.0.0.300  # typo\n');
    const r = await weft('discover', '--seeds', seeds, '--snmp-community-file', community, '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${seeds}:3:3: error: seed "10.0.0.300" is not an IP address (valid: an IPv4 or IPv6 address`);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a bad --seed, a missing seed, and --out with --update', async () => {
    expect((await weft('discover', '--seed', 'leaf1', '--snmp-community-file', community)).err).toContain('seed "leaf1" is not an IP address');
    expect((await weft('discover', '--snmp-community-file', community)).err).toContain('no seed');
    const both = await weft('discover', '--seed', '127.0.0.1', '--snmp-community-file', community, '--out', out, '--update', out);
    expect(both.code).toBe(2);
    expect(both.err).toContain('--out and --update are exclusive');
  });

  it('needs a way to ask devices, and known_hosts with an SSH key', async () => {
    const none = await weft('discover', '--seed', '127.0.0.1');
    expect(none.code).toBe(2);
    expect(none.err).toContain('nothing to ask devices with');
    const key = join(dir, 'id');
    writeFileSync(key, 'not really a key');
    const noKh = await weft('discover', '--seed', '127.0.0.1', '--ssh-key', key);
    expect(noKh.code).toBe(2);
    expect(noKh.err).toContain('--ssh-key needs --known-hosts');
  });

  it('refuses a bad --kind-map, an unknown SNMPv3 protocol and an unreadable inventory', async () => {
    const k = await weft('discover', '--seed', '127.0.0.1', '--snmp-community-file', community, '--kind-map', 'leaf=router');
    expect(k.code).toBe(2);
    expect(k.err).toContain('unknown kind "router"');
    const p = await weft('discover', '--seed', '127.0.0.1', '--snmp-user', 'u', '--snmp-auth-protocol', 'sha3');
    expect(p.code).toBe(2);
    expect(p.err).toContain('valid: md5, sha, sha224, sha256, sha384, sha512');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: weft.dev/v1\nkind: Fabric\nmetadata: {name: x}\nspec:\n  devices:\n    - {name: s, kind: swich}\n');
    const a = await weft('discover', '--seed', '127.0.0.1', '--snmp-community-file', community, '--against', bad);
    expect(a.code).toBe(2);
    expect(a.err).toMatch(new RegExp(`${bad}:6:\\d+: error:`));
  });
});
