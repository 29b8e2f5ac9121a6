// `weft discover`: walks a fabric from seed addresses over SNMP and SSH,
// following LLDP neighbours, and writes what it found as fabric.yaml
// (--out), merges it into an existing one (--update), or compares it with an
// inventory (--against: exit 0 equal, 1 different). Credentials come from
// environment variables or files only.

import { existsSync, readFileSync } from 'node:fs';
import { DiagnosticBag, InputError } from '../diagnostics.ts';
import { parseIp } from '../net/ip.ts';
import { readInputFile } from '../yaml/source.ts';
import { loadInventory } from '../../inventory/load.ts';
import { describeCredentials, snmpCredentials, SNMP_ENV } from '../../inventory/discovery/credentials.ts';
import { diffFabric, formatFabricDiff, type FabricDiff } from '../../inventory/discovery/diff.ts';
import { KnownHosts } from '../../inventory/discovery/known-hosts.ts';
import { parseKindRule } from '../../inventory/discovery/kinds.ts';
import { mergeFacts, type DiscoveredFabric } from '../../inventory/discovery/merge.ts';
import { walkFabric, type WalkResult } from '../../inventory/discovery/walk.ts';
import { renderFabric, updateFabric, writeFabricFile, type UpdateReport } from '../../inventory/discovery/write.ts';
import { logger } from '../log.ts';
import { flag, num, str, UsageError, type CliCommand, type ParsedArgs } from './command.ts';

const log = logger('discover');

function list(args: ParsedArgs, name: string): string[] {
  const v = args.options[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

function badSeed(text: string, span: { file: string; line: number; col: number } | undefined): InputError {
  return new InputError([{ code: 'bad-seed', severity: 'error', message: `seed "${text}" is not an IP address`, span, hint: 'valid: an IPv4 or IPv6 address, one per line (# starts a comment)' }]);
}

/** Seeds from --seed and --seeds FILE, each checked to be an address. */
export function readSeeds(args: ParsedArgs): string[] {
  const seeds: string[] = [];
  for (const s of list(args, 'seed')) {
    if (!parseIp(s)) throw badSeed(s, undefined);
    seeds.push(s);
  }
  const file = str(args, 'seeds');
  if (file !== undefined) {
    const bag = new DiagnosticBag();
    readInputFile(file, 'seeds file', 'a file of IP addresses, one per line')
      .split('\n')
      .forEach((raw, i) => {
        const line = raw.replace(/#.*/, '');
        const text = line.trim();
        if (text === '') return;
        if (!parseIp(text)) bag.error('bad-seed', `seed "${text}" is not an IP address`, { file, line: i + 1, col: line.indexOf(text) + 1 }, 'valid: an IPv4 or IPv6 address, one per line (# starts a comment)');
        else seeds.push(text);
      });
    bag.throwIfErrors();
  }
  if (seeds.length === 0) throw new UsageError('no seed: give --seed ADDR (repeatable) or --seeds FILE');
  return [...new Set(seeds)];
}

function positive(args: ParsedArgs, name: string): number {
  const v = num(args, name) as number;
  if (!Number.isInteger(v) || v < 1) throw new UsageError(`--${name} needs a whole number of at least 1, got ${v}`);
  return v;
}

function sshOptions(args: ParsedArgs, timeoutMs: number): { user: string; port: number; privateKey: Buffer; knownHosts: KnownHosts; timeoutMs: number } | undefined {
  const keyFile = str(args, 'ssh-key');
  if (keyFile === undefined) return undefined;
  const knownHostsFile = str(args, 'known-hosts');
  if (knownHostsFile === undefined) throw new UsageError('--ssh-key needs --known-hosts FILE: discovery only connects to hosts whose keys it already knows');
  if (!existsSync(keyFile)) throw new InputError([{ code: 'unreadable-ssh-key', severity: 'error', message: `--ssh-key ${keyFile}: no such file`, hint: 'valid: an OpenSSH private key file' }]);
  return { user: str(args, 'ssh-user') as string, port: num(args, 'ssh-port') as number, privateKey: readFileSync(keyFile), knownHosts: KnownHosts.load(knownHostsFile), timeoutMs };
}

interface Outcome {
  walk: WalkResult;
  fabric: DiscoveredFabric;
  written?: { file: string; update?: UpdateReport };
  diff?: FabricDiff;
}

function formatOutcome(o: Outcome): string {
  const lines = [`discovered ${o.fabric.devices.length} devices and ${o.fabric.links.length} links from ${o.walk.facts.length + o.walk.failures.length} addresses asked`];
  for (const d of o.fabric.devices) lines.push(`  ${d.name.padEnd(16)} ${(d.pipeline ? `${d.kind}/${d.pipeline}` : d.profile ? `${d.kind}/${d.profile}` : d.kind).padEnd(20)} ${d.mgmt.address.padEnd(16)} via ${[d.mgmt.snmp ? 'snmp' : '', d.mgmt.ssh ? 'ssh' : ''].filter(Boolean).join('+')} (${d.kindReason})`);
  for (const l of o.fabric.links) lines.push(`  link ${l.a.device}:${l.a.port} <-> ${l.b.device}:${l.b.port}`);
  for (const u of o.fabric.unresolved) lines.push(`  unresolved: ${u.at.device}:${u.at.port} hears ${u.neighbour}, which was not discovered`);
  for (const f of o.walk.failures) lines.push(`  no answer from ${f.address}: ${f.errors.join('; ')}`);
  if (o.walk.skipped.length > 0) lines.push(`  device limit reached: not asked ${o.walk.skipped.join(', ')}`);
  if (o.written?.update) {
    const u = o.written.update;
    lines.push(`updated ${o.written.file}: ${u.devices.length} devices, ${u.links.length} links and ${u.fields.length} fields added`);
  } else if (o.written) {
    lines.push(`wrote ${o.written.file}`);
  }
  return lines.join('\n');
}

export const discoverCommand: CliCommand = {
  name: 'discover',
  summary: 'walk a fabric over SNMP/SSH and LLDP; write, update or compare a fabric.yaml',
  usage: 'weft discover (--seed ADDR ... | --seeds FILE) [--out FILE | --update FILE] [--against INVENTORY] [credentials]',
  options: [
    { name: 'seed', type: 'string', multiple: true, help: 'an address to start from (repeatable)' },
    { name: 'seeds', type: 'string', help: 'a file of addresses to start from, one per line' },
    { name: 'out', type: 'string', help: 'write the discovered fabric here' },
    { name: 'update', type: 'string', help: 'add what is new to this fabric.yaml, keeping what is there' },
    { name: 'against', type: 'string', help: 'compare with this inventory (fabric.yaml or .clab.yml); exit 1 when different' },
    { name: 'name', type: 'string', help: 'metadata.name of a fabric written with --out', default: 'discovered' },
    { name: 'kind-map', type: 'string', multiple: true, help: 'REGEX=KIND[/VARIANT] over name or sysDescr, before built-in rules (repeatable)' },
    { name: 'max-devices', type: 'number', help: 'devices asked at most', default: 256 },
    { name: 'concurrency', type: 'number', help: 'devices asked at once', default: 8 },
    { name: 'timeout-ms', type: 'number', help: 'per SNMP request, SSH connect and SSH facts command', default: 5000 },
    { name: 'retries', type: 'number', help: 'SNMP retries per request', default: 1 },
    { name: 'snmp-port', type: 'number', help: 'SNMP agents\' UDP port', default: 161 },
    { name: 'snmp-community-file', type: 'string', help: `file holding the v2c community (else $${SNMP_ENV.community})` },
    { name: 'snmp-user', type: 'string', help: `SNMPv3 user (else $${SNMP_ENV.user}); selects v3` },
    { name: 'snmp-auth-protocol', type: 'string', help: `md5|sha|sha224|sha256|sha384|sha512 (else $${SNMP_ENV.authProtocol}, default sha)` },
    { name: 'snmp-auth-key-file', type: 'string', help: `file holding the v3 auth key (else $${SNMP_ENV.authKey})` },
    { name: 'snmp-priv-protocol', type: 'string', help: `des|aes|aes256b|aes256r (else $${SNMP_ENV.privProtocol}, default aes)` },
    { name: 'snmp-priv-key-file', type: 'string', help: `file holding the v3 priv key (else $${SNMP_ENV.privKey})` },
    { name: 'ssh-key', type: 'string', help: 'SSH client private key; enables SSH facts' },
    { name: 'known-hosts', type: 'string', help: 'known_hosts file the devices\' host keys are checked against (required with --ssh-key)' },
    { name: 'ssh-user', type: 'string', help: 'SSH user', default: 'root' },
    { name: 'ssh-port', type: 'number', help: 'SSH port', default: 22 },
  ],
  async run(args, io) {
    if (str(args, 'out') !== undefined && str(args, 'update') !== undefined) throw new UsageError('--out and --update are exclusive: write a new fabric or update one');
    const seeds = readSeeds(args);
    const rules = list(args, 'kind-map').map(parseKindRule);
    const timeoutMs = positive(args, 'timeout-ms');
    const credentials = snmpCredentials({
      communityFile: str(args, 'snmp-community-file'),
      user: str(args, 'snmp-user'),
      authProtocol: str(args, 'snmp-auth-protocol'),
      authKeyFile: str(args, 'snmp-auth-key-file'),
      privProtocol: str(args, 'snmp-priv-protocol'),
      privKeyFile: str(args, 'snmp-priv-key-file'),
    });
    const ssh = sshOptions(args, timeoutMs);
    if (!credentials && !ssh) throw new UsageError(`nothing to ask devices with: give SNMP credentials (--snmp-community-file, $${SNMP_ENV.community}, or an SNMPv3 user) or --ssh-key with --known-hosts`);
    // Read before walking, so a bad inventory or update target costs no walk.
    const against = str(args, 'against');
    const inventory = against !== undefined ? loadInventory(against) : undefined;
    const updateFile = str(args, 'update');
    const updateText = updateFile !== undefined ? readInputFile(updateFile, 'fabric', 'a readable fabric.yaml') : undefined;

    log.info({ seeds, snmp: describeCredentials(credentials), ssh: ssh !== undefined }, 'discovery starting');
    const walk = await walkFabric({
      seeds,
      snmp: credentials ? { credentials, port: num(args, 'snmp-port') as number, timeoutMs, retries: Math.max(0, num(args, 'retries') as number) } : undefined,
      ssh,
      maxDevices: positive(args, 'max-devices'),
      concurrency: positive(args, 'concurrency'),
    });
    const fabric = mergeFacts(walk.facts, rules);
    const outcome: Outcome = { walk, fabric };

    const out = str(args, 'out');
    if (out !== undefined) {
      writeFabricFile(out, renderFabric(fabric, str(args, 'name') as string));
      outcome.written = { file: out };
    } else if (updateFile !== undefined && updateText !== undefined) {
      const u = updateFabric(updateText, updateFile, fabric);
      writeFabricFile(updateFile, u.text);
      outcome.written = { file: updateFile, update: u.report };
    }
    if (inventory && against !== undefined) outcome.diff = diffFabric(fabric, inventory);

    if (flag(args, 'json')) {
      io.out(JSON.stringify({ devices: fabric.devices, links: fabric.links, unresolved: fabric.unresolved, failures: walk.failures, skipped: walk.skipped, ...(outcome.written ? { written: outcome.written } : {}), ...(outcome.diff ? { diff: outcome.diff } : {}) }, null, 2));
    } else {
      io.out(formatOutcome(outcome));
      if (outcome.diff && against !== undefined) io.out(formatFabricDiff(outcome.diff, against));
    }
    if (outcome.diff) return outcome.diff.equal ? 0 : 1;
    return fabric.devices.length > 0 ? 0 : 1;
  },
};
