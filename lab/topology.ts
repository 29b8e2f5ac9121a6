// Lab topology: parses a containerlab file (raw YAML, with spans) and resolves
// each node to a Weft role. Weft reads its roles from node labels
// (`weft.role`, `weft.pipeline`, ...); a file without them still resolves,
// kinds mapping to roles (linux -> host, network OS kinds -> openconfig
// switch, bridge -> plain bridge). Endpoints (workloads) are nodes labelled
// `weft.role: endpoint` carrying `weft.addresses`; their other labels not
// under `weft.` are the endpoint's own labels.

import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node as YamlNode } from 'yaml';
import { DiagnosticBag, type SourceSpan } from '../orchestrator/diagnostics.ts';
import { parseCidr, parseIp, formatIp, type Cidr, type IpAddr } from '../orchestrator/net/ip.ts';
import type { DpuProfile, Pipeline } from '../inventory/model.ts';

export type LabRole = 'host' | 'dpu' | 'smartnic' | 'switch' | 'endpoint' | 'bridge';

export interface LabNode {
  name: string;
  kind: string;
  role: LabRole;
  pipeline?: Pipeline;
  profile?: DpuProfile;
  attachedTo?: string;
  /** Management IPv4 address (assigned from the mgmt subnet when the file gives none). */
  mgmtIpv4: string;
  /** Endpoints only: data addresses. */
  addresses: IpAddr[];
  /** Endpoints only: an explicit host (`weft.host`); otherwise derived from the link. */
  host?: string;
  /** Labels without the `weft.` keys (for endpoints: the endpoint's labels). */
  labels: Record<string, string>;
  p4runtime?: { port: number; deviceId: number };
  gnmi?: { port: number };
  capacity?: number;
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
  mgmtSubnet: Cidr;
  /** The management bridge's own address (first address of the subnet unless given). */
  mgmtGateway: string;
  nodes: LabNode[];
  links: LabLink[];
}

/** containerlab kinds that are network operating systems: openconfig switches unless labelled. */
export const NOS_KINDS: readonly string[] = [
  'nokia_srlinux', 'nokia_sros', 'nokia_srsim', 'arista_ceos', 'arista_veos', 'sonic-vs', 'sonic-vm', 'dell_sonic',
  'plvision_sonic', 'dell_ftosv', 'juniper_crpd', 'juniper_vmx', 'juniper_vqfx', 'juniper_vjunosrouter',
  'juniper_vjunosswitch', 'juniper_vjunosevolved', 'juniper_cjunosevolved', 'cisco_xrv', 'cisco_xrv9k', 'cisco_xrd',
  'cisco_n9kv', 'cisco_c8000', 'cisco_c8000v', 'cisco_cat9kv', 'cisco_iol', 'cisco_csr1000v', 'aruba_aoscx',
  'nvidia_cumulusvx', 'ipinfusion_ocnos', 'huawei_vrp', 'arrcus_arcos', 'vyosnetworks_vyos', '6wind_vsr',
  'mikrotik_ros', 'ciena_saos', 'fdio_vpp', 'rare',
];
const HOST_KINDS = ['linux'];
const BRIDGE_KINDS = ['bridge', 'ovs-bridge'];
const ROLES: readonly LabRole[] = ['host', 'dpu', 'smartnic', 'switch', 'endpoint', 'bridge'];
const PROFILES: readonly DpuProfile[] = ['nfp', 'bluefield', 'generic'];

export const DEFAULT_MGMT_SUBNET = '172.20.20.0/24';

export function loadTopology(path: string): LabTopology {
  return parseTopology(readFileSync(path, 'utf8'), path);
}

export function parseTopology(text: string, file: string): LabTopology {
  const bag = new DiagnosticBag();
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const spanOf = (n: YamlNode | null | undefined): SourceSpan => {
    const off = n?.range?.[0] ?? 0;
    const p = lc.linePos(off);
    return { file, line: p.line, col: p.col };
  };
  for (const e of doc.errors) {
    const p = lc.linePos(e.pos[0]);
    bag.error('bad-yaml', e.message.split('\n')[0], { file, line: p.line, col: p.col });
  }
  bag.throwIfErrors();
  const root = doc.contents;
  if (!isMap(root)) {
    bag.error('bad-topology', 'a containerlab file is a mapping', spanOf(root), 'name: ..., topology: {nodes: ..., links: ...}');
    bag.throwIfErrors();
    throw new Error('unreachable');
  }
  const str = (n: unknown): string | undefined => (isScalar(n) && n.value !== null && n.value !== undefined ? String(n.value) : undefined);

  const name = str(root.get('name', true));
  if (!name || !/^[a-zA-Z0-9][a-zA-Z0-9-._]*$/.test(name)) {
    bag.error('bad-topology', `lab name "${name ?? ''}" is missing or invalid`, spanOf(root.get('name', true) as YamlNode), 'name: letters, digits, - . _');
  }

  // Management subnet.
  let mgmtSubnet = (parseCidr(DEFAULT_MGMT_SUBNET) as { ok: true; cidr: Cidr }).cidr;
  let mgmtGateway: string | undefined;
  const mgmt = root.get('mgmt', true);
  if (isMap(mgmt)) {
    const sub = str(mgmt.get('ipv4-subnet', true));
    if (sub !== undefined && sub !== 'auto') {
      const c = parseCidr(sub);
      if (!c.ok || c.cidr.family !== 4) bag.error('bad-mgmt-subnet', `mgmt ipv4-subnet "${sub}": ${c.ok ? 'not IPv4' : c.reason}`, spanOf(mgmt.get('ipv4-subnet', true) as YamlNode), 'e.g. 172.20.20.0/24');
      else if (c.cidr.len > 29) bag.error('bad-mgmt-subnet', `mgmt ipv4-subnet "${sub}" is too small`, spanOf(mgmt.get('ipv4-subnet', true) as YamlNode), 'a /29 or larger');
      else mgmtSubnet = c.cidr;
    }
    mgmtGateway = str(mgmt.get('ipv4-gw', true));
  }

  const topo = root.get('topology', true);
  if (!isMap(topo)) {
    bag.error('bad-topology', 'missing topology', spanOf(root), 'topology: {nodes: ..., links: ...}');
    bag.throwIfErrors();
    throw new Error('unreachable');
  }
  const kindsDefaults = new Map<string, Record<string, string>>();
  const kindsNode = topo.get('kinds', true);
  if (isMap(kindsNode)) {
    for (const item of kindsNode.items) {
      const k = str(item.key);
      if (k && isMap(item.value)) kindsDefaults.set(k, readLabels(item.value.get('labels', true)));
    }
  }
  const defaultsNode = topo.get('defaults', true);
  const defaultKind = isMap(defaultsNode) ? str(defaultsNode.get('kind', true)) : undefined;
  const defaultLabels = isMap(defaultsNode) ? readLabels(defaultsNode.get('labels', true)) : {};

  function readLabels(n: unknown): Record<string, string> {
    const out: Record<string, string> = {};
    if (!isMap(n)) return out;
    for (const item of n.items) {
      const k = str(item.key);
      const v = str(item.value);
      if (k !== undefined && v !== undefined) out[k] = v;
    }
    return out;
  }

  const nodes: LabNode[] = [];
  const nodesNode = topo.get('nodes', true);
  if (!isMap(nodesNode)) bag.error('bad-topology', 'topology.nodes is missing', spanOf(topo), 'topology: {nodes: {name: {kind: linux}}}');
  const usedMgmt = new Set<string>();
  const pendingMgmt: LabNode[] = [];
  for (const item of isMap(nodesNode) ? nodesNode.items : []) {
    const nodeName = str(item.key) ?? '';
    const span = spanOf(item.key as YamlNode);
    const body = isMap(item.value) ? item.value : undefined;
    if (nodeName === 'mgmt') bag.error('reserved-name', 'node name "mgmt" is reserved for the management network', span, 'rename the node');
    const kind = (body && str(body.get('kind', true))) ?? defaultKind ?? '';
    const rawLabels = { ...defaultLabels, ...(kindsDefaults.get(kind) ?? {}), ...readLabels(body?.get('labels', true)) };
    const weft = (k: string): string | undefined => rawLabels[`weft.${k}`];
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(rawLabels)) if (!k.startsWith('weft.')) labels[k] = v;

    let role: LabRole | undefined;
    const roleLabel = weft('role');
    if (roleLabel !== undefined) {
      if ((ROLES as string[]).includes(roleLabel)) role = roleLabel as LabRole;
      else bag.error('bad-role', `node ${nodeName}: weft.role "${roleLabel}" is not known`, span, `valid: ${ROLES.join(', ')}`);
    } else if (HOST_KINDS.includes(kind)) role = 'host';
    else if (BRIDGE_KINDS.includes(kind)) role = 'bridge';
    else if (NOS_KINDS.includes(kind)) role = 'switch';
    else bag.error('unknown-kind', `node ${nodeName}: kind "${kind}" has no Weft role`, span, `label it weft.role, or use a supported kind: ${[...HOST_KINDS, ...BRIDGE_KINDS, ...NOS_KINDS].join(', ')}`);
    if (!role) continue;

    const node: LabNode = { name: nodeName, kind, role, mgmtIpv4: '', addresses: [], labels, span };
    if (role === 'switch') {
      const p = weft('pipeline') ?? 'openconfig';
      if (p !== 'p4' && p !== 'openconfig') bag.error('bad-pipeline', `node ${nodeName}: weft.pipeline "${p}"`, span, 'valid: p4, openconfig');
      node.pipeline = p === 'p4' ? 'p4' : 'openconfig';
      const intLabel = (k: string, dflt: number): number => {
        const v = weft(k);
        if (v === undefined) return dflt;
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n > 65535) bag.error('bad-label', `node ${nodeName}: weft.${k} "${v}" is not a number`, span, '0-65535');
        return n;
      };
      if (node.pipeline === 'p4') node.p4runtime = { port: intLabel('p4runtime.port', 9559), deviceId: intLabel('p4runtime.deviceId', 1) };
      else node.gnmi = { port: intLabel('gnmi.port', 57400) };
      const cap = weft('capacity');
      if (cap !== undefined) node.capacity = intLabel('capacity', 0);
    }
    if (role === 'dpu' || role === 'smartnic') {
      const prof = weft('profile') ?? 'generic';
      if (!(PROFILES as string[]).includes(prof)) bag.error('bad-profile', `node ${nodeName}: weft.profile "${prof}"`, span, `valid: ${PROFILES.join(', ')}`);
      node.profile = prof as DpuProfile;
      node.attachedTo = weft('attachedTo');
    }
    if (role === 'endpoint') {
      for (const a of (weft('addresses') ?? '').split(/[,\s]+/).filter((s) => s !== '')) {
        const ip = parseIp(a);
        if (!ip) bag.error('bad-address', `endpoint ${nodeName}: "${a}" is not an IP address`, span, 'weft.addresses: "10.0.1.11,fd00:1::11"');
        else node.addresses.push(ip);
      }
      if (node.addresses.length === 0) bag.error('no-address', `endpoint ${nodeName} has no weft.addresses`, span, 'weft.addresses: "10.0.1.11,fd00:1::11"');
      node.host = weft('host');
    }
    const mgmtText = body ? str(body.get('mgmt-ipv4', true)) : undefined;
    if (role !== 'endpoint' && role !== 'bridge') {
      if (mgmtText !== undefined) {
        const ip = parseIp(mgmtText);
        if (!ip || ip.family !== 4 || !inCidr(ip, mgmtSubnet)) {
          bag.error('bad-mgmt-address', `node ${nodeName}: mgmt-ipv4 "${mgmtText}" is not in ${formatIp(4, mgmtSubnet.addr)}/${mgmtSubnet.len}`, spanOf(body?.get('mgmt-ipv4', true) as YamlNode), 'an address of the mgmt ipv4-subnet');
        } else if (usedMgmt.has(mgmtText)) {
          bag.error('duplicate-mgmt-address', `node ${nodeName}: mgmt-ipv4 ${mgmtText} is used twice`, span);
        } else {
          node.mgmtIpv4 = mgmtText;
          usedMgmt.add(mgmtText);
        }
      } else pendingMgmt.push(node);
    }
    nodes.push(node);
  }
  const gw = mgmtGateway ?? formatIp(4, mgmtSubnet.addr + 1n);
  usedMgmt.add(gw);
  // Nodes without an explicit address get the next free ones, in file order, so
  // a redeploy gives every node the same address.
  let next = mgmtSubnet.addr + 2n;
  const last = mgmtSubnet.addr + (1n << BigInt(32 - mgmtSubnet.len)) - 2n;
  for (const n of pendingMgmt) {
    while (usedMgmt.has(formatIp(4, next)) && next <= last) next++;
    if (next > last) {
      bag.error('mgmt-subnet-full', `no management address left for ${n.name}`, n.span, 'a larger mgmt ipv4-subnet');
      break;
    }
    n.mgmtIpv4 = formatIp(4, next);
    usedMgmt.add(n.mgmtIpv4);
  }

  const byName = new Map(nodes.map((n) => [n.name, n]));
  const links: LabLink[] = [];
  const usedPorts = new Set<string>();
  const linksNode = topo.get('links', true);
  for (const l of isSeq(linksNode) ? linksNode.items : []) {
    const span = spanOf(l as YamlNode);
    const eps = isMap(l) ? l.get('endpoints', true) : undefined;
    const pair = isSeq(eps) ? eps.items.map(str) : [];
    if (pair.length !== 2 || pair.some((p) => p === undefined || !/^[^:\s]+:[^:\s]+$/.test(p))) {
      bag.error('bad-link', 'a link needs endpoints: ["node:port", "node:port"]', span, 'endpoints: ["host1:eth1", "leaf1:eth1"]');
      continue;
    }
    const ports = (pair as string[]).map((p) => {
      const [node, port] = p.split(':');
      return { node, port };
    });
    let ok = true;
    for (const p of ports) {
      if (!byName.has(p.node)) {
        bag.error('unknown-node', `link endpoint "${p.node}:${p.port}" names no node`, span, `nodes: ${[...byName.keys()].join(', ')}`);
        ok = false;
      } else if (!/^[A-Za-z0-9_.-]{1,15}$/.test(p.port) || p.port === 'mgmt0' || p.port === 'lo') {
        bag.error('bad-port', `link endpoint "${p.node}:${p.port}": port names are 1-15 letters, digits, - _ . (mgmt0 and lo are reserved)`, span, 'e.g. eth1, e1-1');
        ok = false;
      } else if (usedPorts.has(`${p.node}:${p.port}`)) {
        bag.error('duplicate-port', `port "${p.node}:${p.port}" is used by two links`, span);
        ok = false;
      }
    }
    if (!ok) continue;
    for (const p of ports) usedPorts.add(`${p.node}:${p.port}`);
    links.push({ a: ports[0], b: ports[1], span });
  }

  for (const n of nodes) {
    if ((n.role === 'dpu' || n.role === 'smartnic') && n.attachedTo !== undefined && byName.get(n.attachedTo)?.role !== 'host') {
      bag.error('bad-attached-to', `dpu ${n.name}: weft.attachedTo "${n.attachedTo}" is not a host node`, n.span);
    }
    if (n.role === 'endpoint') {
      const peers = links.filter((l) => l.a.node === n.name || l.b.node === n.name);
      if (peers.length !== 1) bag.error('endpoint-links', `endpoint ${n.name} needs exactly one link (it has ${peers.length})`, n.span, 'link it to its host or to a switch port');
    }
  }
  bag.throwIfErrors();
  return { file, name: name as string, mgmtSubnet, mgmtGateway: gw, nodes, links };
}

function inCidr(ip: IpAddr, c: Cidr): boolean {
  if (ip.family !== c.family) return false;
  const bits = ip.family === 4 ? 32 : 128;
  return ip.value >> BigInt(bits - c.len) === c.addr >> BigInt(bits - c.len);
}

/** The port of `node` on a link, and the far end. */
export function linksOf(topo: LabTopology, node: string): { local: LabPort; peer: LabPort; link: LabLink }[] {
  const out: { local: LabPort; peer: LabPort; link: LabLink }[] = [];
  for (const l of topo.links) {
    if (l.a.node === node) out.push({ local: l.a, peer: l.b, link: l });
    if (l.b.node === node) out.push({ local: l.b, peer: l.a, link: l });
  }
  return out;
}

/** Where an endpoint's traffic is enforced: its host (managed) or the switch port it plugs into. */
export function endpointAttachment(topo: LabTopology, ep: LabNode): { host?: string; attach?: LabPort } {
  const byName = new Map(topo.nodes.map((n) => [n.name, n]));
  if (ep.host) return { host: ep.host };
  const [l] = linksOf(topo, ep.name);
  const peer = byName.get(l.peer.node);
  switch (peer?.role) {
    case 'host':
      return { host: peer.name };
    case 'dpu':
    case 'smartnic':
      return { host: peer.attachedTo ?? peer.name };
    case 'switch':
      return { attach: l.peer };
    case 'bridge':
    case 'endpoint':
    case undefined:
      return {};
  }
}
