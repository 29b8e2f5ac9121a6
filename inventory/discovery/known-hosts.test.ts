// known_hosts lookups: plain, [host]:port, wildcard, negated, hashed and
// revoked entries; a malformed line is an error with its position.

import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../orchestrator/diagnostics.ts';
import { KnownHosts } from './known-hosts.ts';

function hashed(name: string): string {
  const salt = Buffer.from('0123456789abcdef0123');
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

describe('known_hosts', () => {
  const kh = KnownHosts.parse(
    [
      '# comment',
      '10.0.0.1,leaf1 ssh-ed25519 AAAAone',
      '[10.0.0.2]:2222 ssh-ed25519 AAAAtwo',
      '10.0.1.*,!10.0.1.9 ssh-ed25519 AAAAwild',
      `${hashed('10.0.0.3')} ssh-ed25519 AAAAhashed`,
      '10.0.0.4 ssh-ed25519 AAAAold',
      '10.0.0.4 ssh-ed25519 AAAAnew',
      '@revoked * ssh-ed25519 AAAAold',
      '@cert-authority * ssh-ed25519 AAAAca',
    ].join('\n'),
    'known_hosts',
  );

  it('finds keys by address and port', () => {
    expect(kh.keysFor('10.0.0.1', 22)).toEqual(['ssh-ed25519 AAAAone']);
    expect(kh.keysFor('10.0.0.1', 2222)).toEqual([]);
    expect(kh.keysFor('10.0.0.2', 2222)).toEqual(['ssh-ed25519 AAAAtwo']);
    expect(kh.keysFor('10.0.0.2', 22)).toEqual([]);
  });

  it('honours wildcards, negation, hashed names and revocation; certificates are not trusted', () => {
    expect(kh.keysFor('10.0.1.5', 22)).toEqual(['ssh-ed25519 AAAAwild']);
    expect(kh.keysFor('10.0.1.9', 22)).toEqual([]);
    expect(kh.keysFor('10.0.0.3', 22)).toEqual(['ssh-ed25519 AAAAhashed']);
    expect(kh.keysFor('10.0.0.4', 22)).toEqual(['ssh-ed25519 AAAAnew']);
    expect(kh.keysFor('10.9.9.9', 22)).toEqual([]);
  });

  it('reports a malformed line with its position', () => {
    try {
      KnownHosts.parse('10.0.0.1 ssh-ed25519 AAAA\n10.0.0.2 ssh-ed25519\n', 'kh');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).diagnostics[0].span).toEqual({ file: 'kh', line: 2, col: 1 });
    }
  });
});
