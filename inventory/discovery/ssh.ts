// SSH facts of one device over the project's SSH client (host key checked
// against known_hosts, fail closed): `hostname`, `ip -j link`, `ip -j addr`
// and /etc/os-release, in one remote command. Used where SNMP does not answer, and to complete what
// it reports (a host's name and OS).

import { SshSession } from '../../orchestrator/rollout/ssh.ts';
import { formatMac, type DeviceFacts, type InterfaceFact } from './facts.ts';
import type { KnownHosts } from './known-hosts.ts';

export interface SshOptions {
  user: string;
  port: number;
  privateKey: Buffer;
  knownHosts: KnownHosts;
  timeoutMs: number;
}

interface IpLink {
  ifindex?: number;
  ifname?: string;
  address?: string;
  operstate?: string;
  link_type?: string;
}
interface IpAddr {
  addr_info?: { local?: string; scope?: string }[];
}

/** The commands whose output is the facts, run in one session request (one round trip) and split at a marker. */
const FACT_COMMANDS = ['hostname', 'ip -j link', 'ip -j addr', 'cat /etc/os-release'] as const;
const SECTION = '@@weft-discover-section@@';

async function runFactCommands(session: SshSession, timeoutMs: number): Promise<string[]> {
  const script = FACT_COMMANDS.map((c) => `echo ${SECTION}; ${c}`).join('; ');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${FACT_COMMANDS.join(', ')}: no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const r = await Promise.race([session.exec(script), timeout]);
    const sections = r.stdout.split(`${SECTION}\n`).slice(1);
    if (sections.length !== FACT_COMMANDS.length) throw new Error(`fact commands: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
    return sections;
  } finally {
    clearTimeout(timer);
  }
}

/** key=value lines of os-release, quotes removed. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2].replace(/^(["'])(.*)\1$/, '$2');
  }
  return out;
}

export function interfacesFromIpLink(json: string): InterfaceFact[] {
  return (JSON.parse(json) as IpLink[])
    .filter((l) => l.ifname !== undefined)
    .map((l) => {
      const mac = l.link_type === 'ether' && l.address ? formatMac(Buffer.from(l.address.split(':').map((h) => parseInt(h, 16)))) : undefined;
      return { ...(l.ifindex !== undefined ? { index: l.ifindex } : {}), name: l.ifname as string, ...(mac ? { mac } : {}), up: l.operstate === 'UP' };
    });
}

export function addressesFromIpAddr(json: string): string[] {
  const out = new Set<string>();
  for (const i of JSON.parse(json) as IpAddr[]) for (const a of i.addr_info ?? []) if (a.local) out.add(a.local);
  return [...out].sort();
}

export async function sshFacts(address: string, o: SshOptions): Promise<DeviceFacts> {
  const keys = o.knownHosts.keysFor(address, o.port);
  const session = await SshSession.connect({ name: address, host: address, port: o.port, user: o.user, privateKey: o.privateKey, hostKey: keys }, o.timeoutMs);
  try {
    const [hostname, link, addr, osRelease] = await runFactCommands(session, o.timeoutMs);
    if (hostname.trim() === '' || !link.trim().startsWith('[')) throw new Error('hostname or ip -j link gave nothing (is iproute2 installed?)');
    return {
      address,
      via: ['ssh'],
      hostname: hostname.trim(),
      osRelease: parseOsRelease(osRelease),
      interfaces: interfacesFromIpLink(link),
      addresses: addr.trim().startsWith('[') ? addressesFromIpAddr(addr) : [],
      neighbours: [],
      ssh: { user: o.user, port: o.port, hostKey: session.hostKey },
    };
  } finally {
    session.close();
  }
}
