// SNMP credentials: read from files or the environment, v3 protocols checked,
// and never printed: not by String(), JSON or util.inspect, and not by
// `weft discover` in its logs (trace level) or output, while the agent it
// asks does receive them (a UDP socket standing in for the agent records the
// request).

import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../orchestrator/diagnostics.ts';
import { describeCredentials, Secret, snmpCredentials } from './credentials.ts';

const repo = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'weft-creds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('snmp credentials', () => {
  it('reads a community from a file before the environment', () => {
    const f = join(dir, 'community');
    writeFileSync(f, 'from-file-123\nignored second line\n');
    const c = snmpCredentials({ communityFile: f }, { WEFT_SNMP_COMMUNITY: 'from-env' });
    expect(c?.version).toBe('2c');
    expect(c?.version === '2c' && c.community.reveal()).toBe('from-file-123');
    const e = snmpCredentials({}, { WEFT_SNMP_COMMUNITY: 'from-env' });
    expect(e?.version === '2c' && e.community.reveal()).toBe('from-env');
    expect(snmpCredentials({}, {})).toBeUndefined();
  });

  it('builds SNMPv3 users at each level, and refuses unknown protocols and priv without auth', () => {
    const env = { WEFT_SNMP_USER: 'ops', WEFT_SNMP_AUTH_KEY: 'auth-secret-1', WEFT_SNMP_PRIV_KEY: 'priv-secret-1', WEFT_SNMP_AUTH_PROTOCOL: 'SHA256' };
    const c = snmpCredentials({}, env);
    expect(describeCredentials(c)).toBe('SNMPv3 user ops, authPriv (sha256/aes)');
    expect(describeCredentials(snmpCredentials({}, { WEFT_SNMP_USER: 'ops', WEFT_SNMP_AUTH_KEY: 'k' }))).toBe('SNMPv3 user ops, authNoPriv (sha)');
    expect(describeCredentials(snmpCredentials({ user: 'ro' }, {}))).toBe('SNMPv3 user ro, noAuthNoPriv');
    expect(() => snmpCredentials({ authProtocol: 'sha3' }, env)).toThrow(/valid: md5, sha, sha224/);
    expect(() => snmpCredentials({}, { WEFT_SNMP_USER: 'ops', WEFT_SNMP_PRIV_KEY: 'p' })).toThrow(InputError);
    expect(() => snmpCredentials({ communityFile: join(dir, 'missing') }, {})).toThrow(/ENOENT/);
  });

  it('never shows a secret through String, JSON or inspect', () => {
    const s = new Secret('hunter2-xyz');
    const holder = { community: s };
    for (const shown of [String(s), `${s}`, JSON.stringify(holder), inspect(holder, { depth: 5 }), inspect(s)]) expect(shown).not.toContain('hunter2-xyz');
    expect(s.reveal()).toBe('hunter2-xyz');
  });
});

/** Runs `weft discover` against a UDP socket that records requests and never answers. */
async function discoverAgainstSilentAgent(env: Record<string, string>, extra: string[]): Promise<{ code: number; stdout: string; stderr: string; received: Buffer[] }> {
  const sock = createSocket('udp4');
  const received: Buffer[] = [];
  sock.on('message', (m) => received.push(m));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const port = sock.address().port;
  try {
    return await new Promise((res, rej) => {
      const child = spawn(
        process.execPath,
        ['bin/weft.js', 'discover', '--seed', '127.0.0.1', '--snmp-port', String(port), '--timeout-ms', '300', '--retries', '0', '--log-level', 'trace', ...extra],
        { cwd: repo, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', rej);
      child.on('close', (code) => res({ code: code ?? -1, stdout, stderr, received }));
    });
  } finally {
    sock.close();
  }
}

describe('weft discover never prints credentials', () => {
  it('v2c: the community reaches the agent and appears nowhere in logs or output', async () => {
    const community = 'c0mmunity-ABC-987';
    for (const json of [[], ['--json']]) {
      const r = await discoverAgainstSilentAgent({ WEFT_SNMP_COMMUNITY: community }, json);
      expect(r.code, r.stderr).toBe(1);
      expect(r.received.length).toBeGreaterThan(0);
      expect(Buffer.concat(r.received).includes(Buffer.from(community))).toBe(true);
      expect(r.stderr).toContain('"level":30'); // trace/info lines were logged
      expect(r.stdout + r.stderr).toContain('127.0.0.1');
      expect(r.stdout + r.stderr).not.toContain(community);
    }
  });

  it('v3: auth and priv keys from files appear nowhere in logs or output', async () => {
    const authFile = join(dir, 'auth');
    const privFile = join(dir, 'priv');
    writeFileSync(authFile, 'auth-KEY-5551234\n');
    writeFileSync(privFile, 'priv-KEY-5554321\n');
    const r = await discoverAgainstSilentAgent({}, ['--snmp-user', 'weftops', '--snmp-auth-key-file', authFile, '--snmp-priv-key-file', privFile, '--snmp-auth-protocol', 'sha256', '--json']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.received.length).toBeGreaterThan(0);
    expect(r.stderr).toContain('SNMPv3 user weftops, authPriv (sha256/aes)');
    for (const secret of ['auth-KEY-5551234', 'priv-KEY-5554321']) expect(r.stdout + r.stderr).not.toContain(secret);
  });
});
