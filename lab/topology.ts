// Lab topology: a containerlab file resolved for the emulator. The fabric
// (roles, transports, endpoints, bridges, every diagnostic) comes from the
// inventory's containerlab loader; this adds what only a lab needs and a
// fabric does not keep: the management subnet, each node's management
// address (assigned when the file gives none), and every link with both port
// names, endpoints' links included.

import { existsSync, readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node as YamlNode } from 'yaml';
import { parseContainerlab } from '../inventory/load.ts';
import type { DpuProfile, Fabric, Pipeline } from '../inventory/model.ts';
import { DiagnosticBag, InputError, type SourceSpan } from '../orchestrator/diagnostics.ts';
import { parseCidr, parseIp, formatIp, type Cidr, type IpAddr } from '../orchestrator/net/ip.ts';

export type LabRole = 'host' | 'dpu' | 'smartnic' | 'switch' | 'endpoint' | 'bridge';

export interface LabNode {
  name: string;
  role: LabRole;
  pipeline?: Pipeline;
  profile?: DpuProfile;
  attachedTo?: string;
  /** Management IPv4 address (assigned from the mgmt subnet when the file gives none); '' for endpoints and bridges. */
  mgmtIpv4: string;
  /** Endpoints only: data addresses. */
  addresses: IpAddr[];
  labels: Record<string, string>;
  p4runtime?: { port: number; deviceId: number };
  gnmi?: { port: number };
  span: SourceSpan;
}

export interface LabPort {
  node: string;
  port: string;
}

export interface LabLink {
  a: LabPort;
  b: LabPort;
  span: SourceSpan;
}

export interface LabTopology {
  file: string;
  name: string;
  /** The fabric this topology describes, as the inventory loader reads it. */
  fabric: Fabric;
  mgmtSubnet: Cidr;
  /** The management bridge's own address (first address of the subnet unless given). */
  mgmtGateway: string;
  nodes: LabNode[];
  links: LabLink[];
}

export const DEFAULT_MGMT_SUBNET = '172.20.20.0/24';

/** containerlab's pseudo-nodes (links into the machine itself): a lab keeps everything inside its namespaces. */
const SPECIAL_NODES = new Set(['host', 'mgmt-net', 'macvlan']);

export function loadTopology(path: string): LabTopology {
  if (!existsSync(path)) {
    throw new InputError([{ code: 'missing-file', severity: 'error', message: `topology ${path} does not exist`, span: { file: path, line: 1, col: 1 }, hint: 'valid: a containerlab file, e.g. lab/topologies/example.clab.yml' }]);
  }
  return parseTopology(readFileSync(path, 'utf8'), path);
}

export function parseTopology(text: string, file: string): LabTopology {
  const fabric = parseContainerlab(text, file);
  const bag = new DiagnosticBag();
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const spanOf = (n: unknown): SourceSpan => {
    const p = lc.linePos((n as YamlNode | undefined)?.range?.[0] ?? 0);
    return { file, line: p.line, col: p.col };
  };
  const str = (n: unknown): string | undefined => (isScalar(n) && n.value !== null && n.value !== undefined ? String(n.value) : undefined);
  const root = doc.contents;
  if (!isMap(root)) throw new Error('unreachable: parseContainerlab accepted a non-mapping');

  let mgmtSubnet = (parseCidr(DEFAULT_MGMT_SUBNET) as { ok: true; cidr: Cidr }).cidr;
  let mgmtGateway: string | undefined;
  const mgmt = root.get('mgmt', true);
  if (isMap(mgmt)) {
    const subNode = mgmt.get('ipv4-subnet', true);
    const sub = str(subNode);
    if (sub !== undefined && sub !== 'auto') {
      const c = parseCidr(sub);
      if (!c.ok || c.cidr.family !== 4) bag.error('bad-mgmt-subnet', `mgmt ipv4-subnet "${sub}": ${c.ok ? 'not IPv4' : c.reason}`, spanOf(subNode), 'valid: an IPv4 prefix such as 172.20.20.0/24');
      else if (c.cidr.len > 29) bag.error('bad-mgmt-subnet', `mgmt ipv4-subnet "${sub}" is too small for a lab`, spanOf(subNode), 'valid: a /29 or larger');
      else mgmtSubnet = c.cidr;
    }
    const gwNode = mgmt.get('ipv4-gw', true);
    mgmtGateway = str(gwNode);
    if (mgmtGateway !== undefined) {
      const gw = parseIp(mgmtGateway);
      if (!gw || !inCidr(gw, mgmtSubnet)) bag.error('bad-mgmt-gateway', `mgmt ipv4-gw "${mgmtGateway}" is not an address of the mgmt subnet`, spanOf(gwNode), `valid: an address of ${formatIp(4, mgmtSubnet.addr)}/${mgmtSubnet.len}`);
    }
  }

  const nodes: LabNode[] = [];
  const usedMgmt = new Set<string>();
  const pendingMgmt: LabNode[] = [];
  for (const d of fabric.devices) {
    const n: LabNode = { name: d.name, role: d.kind, mgmtIpv4: '', addresses: [], labels: d.labels, span: d.span };
    if (d.pipeline) n.pipeline = d.pipeline;
    if (d.profile) n.profile = d.profile;
    if (d.attachedTo) n.attachedTo = d.attachedTo;
    if (d.kind === 'switch') {
      if (d.pipeline === 'p4') n.p4runtime = { port: d.mgmt.p4runtime?.port ?? 9559, deviceId: d.mgmt.p4runtime?.deviceId ?? 1 };
      else n.gnmi = { port: d.mgmt.gnmi?.port ?? 57400 };
    }
    const a = d.mgmt.address;
    if (a === undefined) pendingMgmt.push(n);
    else {
      const ip = parseIp(a);
      if (!ip || ip.family !== 4 || !inCidr(ip, mgmtSubnet)) {
        bag.error('bad-mgmt-address', `node ${d.name}: management address "${a}" is not in ${formatIp(4, mgmtSubnet.addr)}/${mgmtSubnet.len}`, d.span, 'valid: a mgmt-ipv4 of the mgmt ipv4-subnet, or none (one is assigned)');
      } else if (usedMgmt.has(a)) {
        bag.error('duplicate-mgmt-address', `node ${d.name}: management address ${a} is used twice`, d.span);
      } else {
        n.mgmtIpv4 = a;
        usedMgmt.add(a);
      }
    }
    nodes.push(n);
  }
  for (const b of fabric.bridges ?? []) nodes.push({ name: b.name, role: 'bridge', mgmtIpv4: '', addresses: [], labels: b.labels, span: b.span });
  for (const e of fabric.endpoints) nodes.push({ name: e.name, role: 'endpoint', mgmtIpv4: '', addresses: e.addresses, labels: e.labels, span: e.span });
  for (const n of nodes) if (n.name === 'mgmt') bag.error('reserved-name', 'node name "mgmt" is reserved for the lab management network', n.span, 'valid: any other name');

  const gw = mgmtGateway ?? formatIp(4, mgmtSubnet.addr + 1n);
  usedMgmt.add(gw);
  // Nodes without an address get the next free ones, in file order, so a
  // redeploy gives every node the same address.
  let next = mgmtSubnet.addr + 2n;
  const last = mgmtSubnet.addr + (1n << BigInt(32 - mgmtSubnet.len)) - 2n;
  for (const n of pendingMgmt) {
    while (usedMgmt.has(formatIp(4, next)) && next <= last) next++;
    if (next > last) {
      bag.error('mgmt-subnet-full', `no management address left for ${n.name}`, n.span, 'valid: a larger mgmt ipv4-subnet');
      break;
    }
    n.mgmtIpv4 = formatIp(4, next);
    usedMgmt.add(n.mgmtIpv4);
  }

  // Links with both port names (the fabric keeps endpoints' links only as attach points).
  const links: LabLink[] = [];
  const topo = root.get('topology', true);
  const linksNode = isMap(topo) ? topo.get('links', true) : undefined;
  for (const l of isSeq(linksNode) ? linksNode.items : []) {
    const eps = isMap(l) ? l.get('endpoints', true) : undefined;
    const pair = (isSeq(eps) ? eps.items.map(str) : []).filter((p): p is string => p !== undefined);
    if (pair.length !== 2) continue;
    const [a, b] = pair.map((p) => {
      const i = p.indexOf(':');
      return { node: p.slice(0, i), port: p.slice(i + 1) };
    });
    const span = spanOf(l);
    if (SPECIAL_NODES.has(a.node) || SPECIAL_NODES.has(b.node)) {
      bag.error('unsupported-link', `link ${a.node}:${a.port} - ${b.node}:${b.port} leaves the lab`, span, 'valid: links between nodes of the topology (a lab has no host, mgmt-net or macvlan links)');
      continue;
    }
    for (const p of [a, b]) {
      // Kernel interface names: at most 15 bytes, no '/'; mgmt0 is the lab's own.
      if (!/^[A-Za-z0-9_.-]{1,15}$/.test(p.port) || p.port === 'mgmt0' || p.port === 'lo' || p.port === 'br0') {
        bag.error('bad-port', `link end "${p.node}:${p.port}": a lab port name is 1-15 letters, digits, - _ . (mgmt0, br0 and lo are the lab's own)`, span, 'valid: e.g. eth1, e1-1');
      }
    }
    links.push({ a, b, span });
  }
  bag.throwIfErrors();
  return { file, name: fabric.name, fabric, mgmtSubnet, mgmtGateway: gw, nodes, links };
}

function inCidr(ip: IpAddr, c: Cidr): boolean {
  if (ip.family !== c.family) return false;
  const bits = ip.family === 4 ? 32 : 128;
  return ip.value >> BigInt(bits - c.len) === c.addr >> BigInt(bits - c.len);
}

/** The links of `node`: its own port and the far end of each. */
export function linksOf(topo: LabTopology, node: string): { local: LabPort; peer: LabPort; link: LabLink }[] {
  const out: { local: LabPort; peer: LabPort; link: LabLink }[] = [];
  for (const l of topo.links) {
    if (l.a.node === node) out.push({ local: l.a, peer: l.b, link: l });
    if (l.b.node === node) out.push({ local: l.b, peer: l.a, link: l });
  }
  return out;
}
