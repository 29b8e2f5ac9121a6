// SNMP credentials for discovery: a v2c community or an SNMPv3 user, read
// from environment variables or files, never from the inventory or the
// command line (where `ps` would show them). Secret values are wrapped so a
// log line, an error or JSON output prints "[redacted]" instead.

import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { InputError } from '../../orchestrator/diagnostics.ts';

/** A secret string: readable only through reveal(). */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return '[redacted]';
  }
}

export const AUTH_PROTOCOLS = ['md5', 'sha', 'sha224', 'sha256', 'sha384', 'sha512'] as const;
export const PRIV_PROTOCOLS = ['des', 'aes', 'aes256b', 'aes256r'] as const;
export type AuthProtocol = (typeof AUTH_PROTOCOLS)[number];
export type PrivProtocol = (typeof PRIV_PROTOCOLS)[number];

export type SnmpCredentials =
  | { version: '2c'; community: Secret }
  | { version: '3'; user: string; auth?: { protocol: AuthProtocol; key: Secret }; priv?: { protocol: PrivProtocol; key: Secret } };

/** Where each setting may come from: a file option or an environment variable (the file wins). */
export interface SnmpCredentialSources {
  communityFile?: string;
  user?: string;
  authProtocol?: string;
  authKeyFile?: string;
  privProtocol?: string;
  privKeyFile?: string;
}

export const SNMP_ENV = {
  community: 'WEFT_SNMP_COMMUNITY',
  user: 'WEFT_SNMP_USER',
  authProtocol: 'WEFT_SNMP_AUTH_PROTOCOL',
  authKey: 'WEFT_SNMP_AUTH_KEY',
  privProtocol: 'WEFT_SNMP_PRIV_PROTOCOL',
  privKey: 'WEFT_SNMP_PRIV_KEY',
} as const;

function bad(code: string, message: string, hint: string): InputError {
  return new InputError([{ code, severity: 'error', message, hint }]);
}

function secretFrom(file: string | undefined, envName: string, env: NodeJS.ProcessEnv, what: string): Secret | undefined {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw bad('unreadable-secret', `${what} file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`, `valid: a readable file holding the ${what} on its first line`);
    }
    const first = text.split('\n')[0].trim();
    if (first === '') throw bad('empty-secret', `${what} file ${file} is empty`, `valid: the ${what} on the file's first line`);
    return new Secret(first);
  }
  const v = env[envName];
  return v !== undefined && v !== '' ? new Secret(v) : undefined;
}

function choice<T extends string>(value: string, valid: readonly T[], what: string): T {
  const v = value.toLowerCase();
  if ((valid as readonly string[]).includes(v)) return v as T;
  throw bad('bad-snmp-protocol', `unknown SNMPv3 ${what} "${value}"`, `valid: ${valid.join(', ')}`);
}

/**
 * The SNMP credentials the sources describe: SNMPv3 when a user is named
 * (option or WEFT_SNMP_USER), else a v2c community, else undefined (no SNMP).
 */
export function snmpCredentials(src: SnmpCredentialSources, env: NodeJS.ProcessEnv = process.env): SnmpCredentials | undefined {
  const user = src.user ?? env[SNMP_ENV.user];
  if (user !== undefined && user !== '') {
    const authKey = secretFrom(src.authKeyFile, SNMP_ENV.authKey, env, 'SNMPv3 auth key');
    const privKey = secretFrom(src.privKeyFile, SNMP_ENV.privKey, env, 'SNMPv3 priv key');
    // Protocols are checked even when no key uses them: a typo should not pass silently.
    const authProtocol = choice(src.authProtocol ?? env[SNMP_ENV.authProtocol] ?? 'sha', AUTH_PROTOCOLS, 'auth protocol');
    const privProtocol = choice(src.privProtocol ?? env[SNMP_ENV.privProtocol] ?? 'aes', PRIV_PROTOCOLS, 'priv protocol');
    if (privKey && !authKey) throw bad('snmp-priv-without-auth', `SNMPv3 user ${user}: a priv key without an auth key`, 'valid: authPriv needs both keys; authNoPriv only the auth key');
    const creds: SnmpCredentials = { version: '3', user };
    if (authKey) creds.auth = { protocol: authProtocol, key: authKey };
    if (privKey) creds.priv = { protocol: privProtocol, key: privKey };
    return creds;
  }
  const community = secretFrom(src.communityFile, SNMP_ENV.community, env, 'SNMP community');
  return community ? { version: '2c', community } : undefined;
}

/** How the credentials authenticate, for logs and output: never a secret. */
export function describeCredentials(c: SnmpCredentials | undefined): string {
  if (!c) return 'no SNMP credentials';
  if (c.version === '2c') return 'SNMP v2c community';
  const level = c.priv ? `authPriv (${c.auth?.protocol}/${c.priv.protocol})` : c.auth ? `authNoPriv (${c.auth.protocol})` : 'noAuthNoPriv';
  return `SNMPv3 user ${c.user}, ${level}`;
}
