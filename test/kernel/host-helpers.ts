// Shared by the host kernel tests: capability checks, namespaces and veths
// with generated names (always torn down), hand-built policies and fabrics,
// and device bundles written from the host codegen.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Device, Endpoint, Fabric, Link } from '../../inventory/model.ts';
import { parseCidr, parseIp, type IpAddr } from '../../orchestrator/net/ip.ts';
import type { Action, GroupDef, PeerRef, Policy, PortMatch, Rule } from '../../orchestrator/policy/model.ts';
import { buildIr } from '../../orchestrator/ir/build.ts';
import { place } from '../../orchestrator/placement/place.ts';
import type { CodegenInput } from '../../targets/contract.ts';
import { hostCodegen } from '../../targets/host/codegen.ts';

const span = { file: 'test', line: 1, col: 1 };

/** Why kernel tests cannot run here, or undefined. In CI a reason is a failure, not a skip. */
export function kernelUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'pipe' });
  } catch {
    return 'needs iproute2 with netns support';
  }
  return undefined;
}

export function ensureBpffs(): void {
  try {
    execFileSync('sh', ['-c', 'grep -q " /sys/fs/bpf bpf " /proc/self/mounts || mount -t bpf bpf /sys/fs/bpf'], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`cannot mount bpffs at /sys/fs/bpf: ${String(e)}`);
  }
}

let counter = 0;
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid % 100000}-${counter++}`;
}

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function nsExec(ns: string, cmd: string, args: string[]): string {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args]);
}

/** Namespaces created by a test, deleted by `teardown` whatever happened. */
export class NetnsSet {
  readonly names: string[] = [];
  add(prefix = 'weft-t'): string {
    const name = uniqueName(prefix);
    sh('ip', ['netns', 'add', name]);
    this.names.push(name);
    nsExec(name, 'ip', ['link', 'set', 'lo', 'up']);
    return name;
  }
  teardown(): void {
    for (const n of this.names.splice(0)) {
      try {
        sh('ip', ['netns', 'del', n]);
      } catch {
        // already gone
      }
    }
  }
}

/** A veth pair with one end in each namespace, addressed (IPv6 without DAD so it is usable at once). */
export function vethBetween(a: { ns: string; ifname: string; addrs: string[] }, b: { ns: string; ifname: string; addrs: string[] }): void {
  sh('ip', ['link', 'add', a.ifname, 'netns', a.ns, 'type', 'veth', 'peer', 'name', b.ifname, 'netns', b.ns]);
  for (const side of [a, b]) {
    for (const addr of side.addrs) {
      const extra = addr.includes(':') ? ['nodad'] : [];
      nsExec(side.ns, 'ip', ['addr', 'add', addr, 'dev', side.ifname, ...extra]);
    }
    nsExec(side.ns, 'ip', ['link', 'set', side.ifname, 'up']);
  }
}

// ---- hand-built policies and fabrics --------------------------------------

export function ip(text: string): IpAddr {
  const a = parseIp(text);
  if (!a) throw new Error(`bad address ${text}`);
  return a;
}

export function host(name: string, mgmt?: string): Device {
  return { name, kind: 'host', mgmt: mgmt ? { address: mgmt, ssh: { user: 'root', port: 22 } } : {}, labels: {}, span };
}

export function endpoint(name: string, hostName: string | undefined, addrs: string[], labels: Record<string, string>): Endpoint {
  return { name, host: hostName, addresses: addrs.map(ip), labels, span };
}

export function link(a: string, b: string): Link {
  const [ad, ap] = a.split(':');
  const [bd, bp] = b.split(':');
  return { a: { device: ad, port: ap }, b: { device: bd, port: bp }, span };
}

export function fabricOf(devices: Device[], links: Link[], endpoints: Endpoint[]): Fabric {
  return { file: 'test-fabric.yaml', name: 'test', devices, links, endpoints, digest: 'f'.repeat(64) };
}

export interface RuleSpec {
  name: string;
  from: string[];
  to: string[];
  ports?: ({ protocol: 'tcp' | 'udp'; lo: number; hi: number } | { protocol: 'icmp' | 'icmpv6'; type?: number; code?: number } | { protocol: 'any' })[];
  action: Action;
  log?: boolean;
}

export function policyOf(
  groups: Record<string, { selector?: Record<string, string>; cidrs?: string[]; except?: string[] }>,
  rules: RuleSpec[],
  defaultAction: Action = 'deny',
  name = 'test-policy',
): Policy {
  const cidr = (t: string) => {
    const r = parseCidr(t);
    if (!r.ok) throw new Error(r.reason);
    return r.cidr;
  };
  const g = new Map<string, GroupDef>();
  for (const [n, d] of Object.entries(groups)) g.set(n, { name: n, selector: d.selector, cidrs: (d.cidrs ?? []).map(cidr), except: (d.except ?? []).map(cidr), span });
  const peer = (p: string): PeerRef => (p === 'any' ? { kind: 'any' } : { kind: 'group', name: p, span });
  const rs: Rule[] = rules.map((r, index) => ({
    index,
    name: r.name,
    section: '',
    from: r.from.map(peer),
    to: r.to.map(peer),
    ports: (r.ports ?? []).map((p) => ({ ...p, span }) as PortMatch),
    action: r.action,
    log: r.log ?? false,
    // One line per rule, so a rule's position names it (flow logs show it).
    span: { file: 'test-policy.yaml', line: 10 + index, col: 7 },
  }));
  const digest = JSON.stringify([rules, defaultAction, groups]);
  return { file: 'test-policy.yaml', name, defaultAction, groups: g, sections: [], rules: rs, digest: Buffer.from(digest).toString('hex').slice(0, 64) };
}

/** Writes <dir>/devices/<name>/ for every host from the host codegen; returns the inputs per device. */
export async function writeHostBundle(dir: string, policy: Policy, fabric: Fabric): Promise<Map<string, CodegenInput>> {
  const ir = buildIr(policy, fabric);
  const placement = place(policy, fabric, ir);
  const inputs = new Map<string, CodegenInput>();
  for (const device of fabric.devices.filter((d) => d.kind === 'host')) {
    const devicePlacement = placement.devices.find((p) => p.device === device.name);
    if (!devicePlacement) continue;
    const input: CodegenInput = { policy, fabric, ir, placement, device, devicePlacement };
    const out = await hostCodegen(input);
    const ddir = join(dir, 'devices', device.name);
    mkdirSync(ddir, { recursive: true });
    for (const f of out.files) writeFileSync(join(ddir, f.path), f.content);
    inputs.set(device.name, input);
  }
  return inputs;
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
