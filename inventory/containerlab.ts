// Reads a containerlab topology (*.clab.yml) as a Weft fabric, and writes one
// from a fabric, so a single topology file both deploys a lab and serves as
// the inventory. Containerlab's schema allows no extra top-level keys, so all
// Weft needs rides in node labels (string values, or numbers):
//
//   devices    weft.role: host | dpu | smartnic | switch
//              weft.pipeline: p4 | openconfig            (switches)
//              weft.profile, weft.attached-to            (dpu / smartnic; weft.attachedTo
//                                                         is read too, as written before)
//              weft.p4runtime.port, weft.p4runtime.deviceId, weft.p4runtime.deviceConfig,
//              weft.gnmi.port, weft.ssh.user, weft.ssh.port, weft.ssh.hostKey,
//              weft.snmp.port, weft.capacity (ACL entries),
//              weft.agent: "false" (hosts that run no Weft agent),
//              weft.mgmt.address (only when the address is a DNS name; IPs use mgmt-ipv4 / mgmt-ipv6)
//   endpoints  a node of its own, weft.role: endpoint, with
//              weft.addresses: "10.0.1.11,fd00:1::11" and optional weft.host;
//              its one link says where it plugs in: into a host (managed by
//              that host, attach = the host's port), into a DPU (managed by
//              the DPU's host), or into a switch port (unmanaged, attach =
//              that port, unless weft.host names a managing host).
//   bridges    kind bridge / ovs-bridge (or weft.role: bridge): Fabric.bridges,
//              with the links that touch them; never a Device.
//
// Every other label is the device's (or endpoint's) own label. Without a
// weft.role, the kind decides: linux -> host, bridge kinds -> bridge, network
// OS kinds -> openconfig switch. The same conventions are read by the lab
// emulator (lab/topology.ts).

import { stringify } from 'yaml';
import { withLazyDigest } from '../orchestrator/yaml/lazy-digest.ts';
import { isMap, isScalar, type MapNode } from '../orchestrator/yaml/node.ts';
import { DiagnosticBag, type SourceSpan } from '../orchestrator/diagnostics.ts';
import { logger } from '../orchestrator/log.ts';
import { formatIp, parseIp, type IpAddr } from '../orchestrator/net/ip.ts';
import { clip, listChoices, YamlSource, type YNode } from '../orchestrator/yaml/source.ts';
import {
  checkMgmtAddress,
  DEFAULT_GNMI,
  DEFAULT_P4RUNTIME,
  DEFAULT_SSH,
  DPU_PROFILES,
  FabricBuilder,
  isSecretKey,
  NAME_RE,
  PIPELINES,
  SECRET_HINT,
  withDefaults,
} from './fabric.ts';
import type { Bridge, Device, DeviceKind, DpuProfile, Endpoint, Fabric, Link, Mgmt, Pipeline, PortRef } from './model.ts';

const log = logger('inventory');

type Role = DeviceKind | 'endpoint' | 'bridge';
const ROLES: readonly Role[] = ['host', 'dpu', 'smartnic', 'switch', 'endpoint', 'bridge'];

export const HOST_KINDS: readonly string[] = ['linux'];
export const BRIDGE_KINDS: readonly string[] = ['bridge', 'ovs-bridge'];
/** Network operating systems: openconfig switches unless their labels say otherwise. */
export const NOS_KINDS: readonly string[] = [
  'nokia_srlinux', 'nokia_sros', 'nokia_srsim', 'arista_ceos', 'ceos', 'arista_veos', 'sonic-vs', 'sonic-vm', 'dell_sonic',
  'plvision_sonic', 'dell_ftosv', 'juniper_crpd', 'juniper_vmx', 'juniper_vqfx', 'juniper_vjunosrouter',
  'juniper_vjunosswitch', 'juniper_vjunosevolved', 'juniper_cjunosevolved', 'cjunosevolved', 'cisco_xrv', 'cisco_xrv9k',
  'cisco_xrd', 'cisco_xrd_vrouter', 'cisco_n9kv', 'cisco_nxos', 'cisco_c8000', 'cisco_c8000v', 'cisco_cat9kv', 'cisco_iol',
  'cisco_csr1000v', 'aruba_aoscx', 'nvidia_cumulusvx', 'ipinfusion_ocnos', 'huawei_vrp', 'arrcus_arcos',
  'vyosnetworks_vyos', '6wind_vsr', 'mikrotik_ros', 'ciena_saos', 'fdio_vpp', 'rare',
];
const SUPPORTED_KINDS = [...HOST_KINDS, ...BRIDGE_KINDS, ...NOS_KINDS];
/** Link ends that are not nodes of the topology (the machine, the mgmt network). */
const SPECIAL_NODES = new Set(['host', 'mgmt-net', 'macvlan']);

/** weft.* labels a node may carry, per role. */
const DEVICE_LABELS = [
  'role', 'pipeline', 'profile', 'attached-to', 'attachedTo', 'capacity', 'agent', 'mgmt.address', 'ssh.user', 'ssh.port', 'ssh.hostKey',
  'p4runtime.port', 'p4runtime.deviceId', 'p4runtime.deviceConfig', 'gnmi.port', 'snmp.port',
];
const ENDPOINT_LABELS = ['role', 'addresses', 'host'];

const IMAGES = {
  host: { kind: 'linux', image: 'debian:bookworm-slim' },
  p4: { kind: 'linux', image: 'p4lang/behavioral-model:latest' },
  openconfig: { kind: 'nokia_srlinux', image: 'ghcr.io/nokia/srlinux:latest' },
} as const;

interface LabelValue {
  value: string;
  span: SourceSpan;
}

interface RawNode {
  name: string;
  span: SourceSpan;
  role: Role;
  kind: string;
  weft: Map<string, LabelValue>;
  labels: Record<string, string>;
  mgmtAddress?: LabelValue;
}

/** Parses a containerlab topology; throws InputError with every diagnostic on bad input. */
export function parseContainerlab(text: string, file: string): Fabric {
  const bag = new DiagnosticBag();
  const src = YamlSource.parse(text, file, bag);
  const fabric = src ? readContainerlabDocument(src) : undefined;
  bag.throwIfErrors();
  if (!fabric) throw new Error('unreachable: topology unread without errors');
  return fabric;
}

/** Reads an already parsed containerlab document (errors go to src.bag). */
export function readContainerlabDocument(src: YamlSource): Fabric | undefined {
  const top = src.map(src.root, 'containerlab topology', 'valid: a mapping with name and topology');
  if (!top) return undefined;
  const nameNode = src.require(top, 'name', 'topology', 'valid: name: my-lab');
  let name = '';
  if (nameNode !== undefined) {
    const n = src.textValue(nameNode, 'topology name');
    if (n !== undefined && !NAME_RE.test(n)) {
      src.bag.error('bad-name', `topology name "${clip(n)}" is not a valid containerlab name`, src.span(nameNode), 'valid: letters, digits, "-", "." and "_", starting with a letter or digit');
    }
    name = n ?? '';
  }
  const topoNode = src.require(top, 'topology', 'topology file', 'valid: topology: {nodes: {...}, links: [...]}');
  const topo = topoNode === undefined ? undefined : src.map(topoNode, 'topology');
  if (!topo) return undefined;

  const defaults = optionalMap(src, topo, 'defaults');
  const kinds = optionalMap(src, topo, 'kinds');
  const groups = optionalMap(src, topo, 'groups');
  const nodesNode = src.require(topo, 'nodes', 'topology', 'valid: nodes: {host1: {kind: linux}}');
  const nodesMap = nodesNode === undefined ? undefined : src.map(nodesNode, 'topology.nodes');
  const nodes = new Map<string, RawNode>();
  for (const { key, keyNode, value } of nodesMap ? src.pairs(nodesMap, 'topology.nodes') : []) {
    const raw = readNode(src, key, keyNode, value, { defaults, kinds, groups });
    if (raw) nodes.set(key, raw);
  }

  const b = new FabricBuilder<Record<string, SourceSpan>>(src.bag, (spans, field) => spans[field]);
  const devices = new Map<string, Device>();
  const bridges = new Map<string, Bridge>();
  for (const raw of nodes.values()) {
    switch (raw.role) {
      case 'host':
      case 'dpu':
      case 'smartnic':
      case 'switch': {
        const d = toDevice(src, raw, raw.role);
        if (d) {
          devices.set(d.name, d);
          b.device(d, { name: raw.span, kind: raw.span, attachedTo: attachedToLabel(raw)?.span ?? raw.span });
        }
        break;
      }
      case 'bridge': {
        const br: Bridge = { name: raw.name, labels: raw.labels, links: [], span: raw.span };
        bridges.set(br.name, br);
        b.bridge(br);
        break;
      }
      case 'endpoint':
        break;
      default: {
        const never: never = raw.role;
        throw new Error(`unhandled role ${String(never)}`);
      }
    }
  }

  // Endpoint node -> its link's far end.
  const endpointPeer = new Map<string, { peer: PortRef; span: SourceSpan; count: number }>();
  const linksNode = src.get(topo, 'links');
  const links = linksNode === undefined ? undefined : src.seq(linksNode, 'topology.links', 'valid: links: [{endpoints: ["a:eth1", "b:eth1"]}]');
  const linkPorts = new Map<string, SourceSpan>();
  for (const item of links ? src.items(links) : []) {
    const ends = readLinkEnds(src, item);
    if (!ends) continue;
    const [a, bb] = ends;
    const span = src.span(item);
    if (SPECIAL_NODES.has(a.ref.device) || SPECIAL_NODES.has(bb.ref.device)) {
      log.debug({ file: src.file, line: span.line, link: `${a.ref.device}:${a.ref.port} ${bb.ref.device}:${bb.ref.port}` }, 'link leaves the topology; not part of the fabric');
      continue;
    }
    let ok = true;
    for (const e of ends) {
      if (!nodes.has(e.ref.device)) {
        src.bag.error('unknown-node', `link end "${e.ref.device}:${e.ref.port}" names no node`, e.span, `valid: a node of the topology: ${listChoices([...nodes.keys()].slice(0, 20))}`);
        ok = false;
      }
    }
    // A containerlab port carries one link, whatever sits at its ends.
    for (const e of ends) {
      const key = `${e.ref.device}:${e.ref.port}`;
      const first = linkPorts.get(key);
      if (first) {
        src.bag.error('port-in-use', `port ${key} is used by two links`, e.span, `valid: one link per port; the other link is at line ${first.line}`);
        ok = false;
      } else linkPorts.set(key, e.span);
    }
    if (!ok) continue;
    const ra = nodes.get(a.ref.device);
    const rb = nodes.get(bb.ref.device);
    if (!ra || !rb) continue;
    if (ra.role === 'endpoint' || rb.role === 'endpoint') {
      const [ep, far] = ra.role === 'endpoint' ? [ra, bb] : [rb, a];
      const prev = endpointPeer.get(ep.name);
      endpointPeer.set(ep.name, { peer: far.ref, span: far.span, count: (prev?.count ?? 0) + 1 });
      continue;
    }
    const link: Link = { a: a.ref, b: bb.ref, span };
    const br = bridges.get(a.ref.device) ?? bridges.get(bb.ref.device);
    if (br) b.bridgeLink(br, link, { a: a.span, b: bb.span });
    else b.link(link, { a: a.span, b: bb.span });
  }

  for (const raw of nodes.values()) {
    if (raw.role !== 'endpoint') continue;
    const e = toEndpoint(src, raw, endpointPeer.get(raw.name), nodes, devices);
    if (e) b.endpoint(e.endpoint, e.spans);
  }
  b.check();
  const fabric: Fabric = withLazyDigest({ file: src.file, name, devices: b.devices, links: b.links, endpoints: b.endpoints }, src.root);
  if (b.bridges.length > 0) fabric.bridges = b.bridges;
  return fabric;
}

function optionalMap(src: YamlSource, m: MapNode, key: string): MapNode | undefined {
  const n = src.get(m, key);
  return n === undefined ? undefined : src.map(n, `topology.${key}`);
}

interface Inherit {
  defaults?: MapNode;
  kinds?: MapNode;
  groups?: MapNode;
}

function scalarAt(src: YamlSource, m: MapNode | undefined, key: string): YNode | undefined {
  return m ? src.get(m, key) : undefined;
}

/** Node settings resolve as containerlab does: node > group > kind > defaults. */
function readNode(src: YamlSource, name: string, keyNode: YNode, value: YNode | null, inh: Inherit): RawNode | undefined {
  const span = src.span(keyNode);
  if (!NAME_RE.test(name)) {
    src.bag.error('bad-name', `node name "${clip(name)}" is not a valid containerlab node name`, span, 'valid: letters, digits, "-", "." and "_", starting with a letter or digit');
    return undefined;
  }
  const body = value === null || (isScalar(value) && value.value === null) ? undefined : src.map(value, `node ${name}`, 'valid: {kind: linux, labels: {...}}');
  const groupName = body ? scalarAt(src, body, 'group') : undefined;
  const group = groupName !== undefined && inh.groups && isScalar(groupName) ? src.get(inh.groups, String(groupName.value)) : undefined;
  const groupMap = group && isMap(group) ? group : undefined;
  if (groupName !== undefined && !groupMap) {
    const groups = inh.groups ? src.pairs(inh.groups, 'topology.groups').map((p) => p.key) : [];
    src.bag.error('unknown-node-group', `node ${name}: group "${clip(src.scalarText(groupName))}" is not defined in topology.groups`, src.span(groupName), `valid: one of the defined groups: ${listChoices(groups)}`);
  }
  const kindNode = scalarAt(src, body, 'kind') ?? scalarAt(src, groupMap, 'kind') ?? scalarAt(src, inh.defaults, 'kind');
  const kind = kindNode === undefined ? '' : (src.string(kindNode, `node ${name}: kind`) ?? '');
  const kindDef = kind && inh.kinds ? src.get(inh.kinds, kind) : undefined;
  const layers = [inh.defaults, kindDef && isMap(kindDef) ? kindDef : undefined, groupMap, body];
  const weft = new Map<string, LabelValue>();
  const labels: Record<string, string> = {};
  for (const layer of layers) {
    const ln = layer ? src.get(layer, 'labels') : undefined;
    if (ln === undefined) continue;
    const lm = src.map(ln, `node ${name}: labels`, 'valid: labels: {weft.role: host, app: web}');
    for (const { key, keyNode: lk, value: lv } of lm ? src.pairs(lm, `node ${name}: labels`) : []) {
      if (isSecretKey(key)) {
        src.bag.error('secret-in-inventory', `node ${name}: label "${clip(key)}" looks like a secret`, src.span(lk), SECRET_HINT);
        continue;
      }
      const v = src.textValue(lv, `node ${name}: label ${key}`);
      if (v === undefined) continue;
      if (key.startsWith('weft.')) weft.set(key.slice(5), { value: v, span: src.span(lv) });
      else labels[key] = v;
    }
  }
  let role: Role | undefined;
  const roleLabel = weft.get('role');
  if (roleLabel) {
    if ((ROLES as readonly string[]).includes(roleLabel.value)) role = roleLabel.value as Role;
    else src.bag.error('bad-role', `node ${name}: weft.role "${clip(roleLabel.value)}"`, roleLabel.span, `valid: ${listChoices(ROLES)}`);
  } else if (kind === '') {
    src.bag.error('missing-kind', `node ${name} has no kind (and no defaults.kind)`, span, 'valid: kind: linux, or a weft.role label');
  } else if (HOST_KINDS.includes(kind)) role = 'host';
  else if (BRIDGE_KINDS.includes(kind)) role = 'bridge';
  else if (NOS_KINDS.includes(kind)) role = 'switch';
  else {
    src.bag.error('unknown-kind', `node ${name}: kind "${clip(kind)}" has no Weft role`, kindNode ? src.span(kindNode) : span, `valid: a weft.role label, or one of the kinds ${SUPPORTED_KINDS.join(', ')}`);
  }
  if (!role) return undefined;
  const allowed = role === 'endpoint' ? ENDPOINT_LABELS : role === 'bridge' ? ['role'] : DEVICE_LABELS;
  for (const [k, v] of weft) {
    if (!allowed.includes(k)) {
      src.bag.error('unknown-weft-label', `node ${name}: label weft.${clip(k)} is not one Weft reads on a ${role} node`, v.span, `valid: ${allowed.map((a) => `weft.${a}`).join(', ')}`);
    }
  }
  const raw: RawNode = { name, span, role, kind, weft, labels };
  const mgmtNode = scalarAt(src, body, 'mgmt-ipv4') ?? scalarAt(src, body, 'mgmt-ipv6');
  if (mgmtNode !== undefined) {
    const a = src.string(mgmtNode, `node ${name}: mgmt address`);
    if (a !== undefined) raw.mgmtAddress = { value: a, span: src.span(mgmtNode) };
  }
  return raw;
}

/** The host a DPU or SmartNIC fronts: weft.attached-to, or the older spelling weft.attachedTo. */
function attachedToLabel(raw: RawNode): LabelValue | undefined {
  return raw.weft.get('attached-to') ?? raw.weft.get('attachedTo');
}

function toDevice(src: YamlSource, raw: RawNode, kind: DeviceKind): Device | undefined {
  const w = (k: string): LabelValue | undefined => raw.weft.get(k);
  let ok = true;
  const int = (k: string, lo: number, hi: number): number | undefined => {
    const v = w(k);
    if (v === undefined) return undefined;
    const n = /^[0-9]+$/.test(v.value) ? Number(v.value) : NaN;
    if (!Number.isSafeInteger(n) || n < lo || n > hi) {
      src.bag.error('bad-label', `node ${raw.name}: weft.${k} is "${clip(v.value)}"`, v.span, `valid: an integer ${lo}-${hi}`);
      ok = false;
      return undefined;
    }
    return n;
  };
  const misplaced = (k: string, where: string): void => {
    const v = w(k);
    if (v) src.bag.error('misplaced-key', `node ${raw.name}: weft.${k} on a ${kind}`, v.span, `valid: weft.${k} only on ${where}`);
  };
  let pipeline: Pipeline | undefined;
  if (kind === 'switch') {
    const p = w('pipeline');
    if (p === undefined) {
      // A network OS speaks OpenConfig; a linux switch must say which pipeline it runs.
      if (NOS_KINDS.includes(raw.kind)) pipeline = 'openconfig';
    } else if ((PIPELINES as readonly string[]).includes(p.value)) {
      pipeline = p.value as Pipeline;
    } else {
      src.bag.error('bad-pipeline', `node ${raw.name}: weft.pipeline "${clip(p.value)}"`, p.span, `valid: ${listChoices(PIPELINES)}`);
      ok = false;
    }
  } else misplaced('pipeline', 'switches');
  let profile: DpuProfile | undefined;
  const isDpu = kind === 'dpu' || kind === 'smartnic';
  if (isDpu) {
    const p = w('profile');
    profile = 'generic';
    if (p !== undefined) {
      if ((DPU_PROFILES as readonly string[]).includes(p.value)) profile = p.value as DpuProfile;
      else {
        src.bag.error('bad-profile', `node ${raw.name}: weft.profile "${clip(p.value)}"`, p.span, `valid: ${listChoices(DPU_PROFILES)}`);
        ok = false;
      }
    }
  } else {
    misplaced('profile', 'dpu and smartnic nodes');
    misplaced('attached-to', 'dpu and smartnic nodes');
    misplaced('attachedTo', 'dpu and smartnic nodes');
  }
  const mgmt: Mgmt = {};
  const addr = raw.mgmtAddress ?? w('mgmt.address');
  if (addr) {
    if (checkMgmtAddress(addr.value)) mgmt.address = addr.value;
    else {
      src.bag.error('bad-address', `node ${raw.name}: management address "${clip(addr.value)}" is neither an IP address nor a host name`, addr.span, 'valid: an IPv4/IPv6 address or a DNS name');
      ok = false;
    }
  }
  if (w('ssh.user') || w('ssh.port') || w('ssh.hostKey')) {
    mgmt.ssh = { user: w('ssh.user')?.value ?? DEFAULT_SSH.user, port: int('ssh.port', 1, 65535) ?? DEFAULT_SSH.port };
    const hk = w('ssh.hostKey');
    if (hk) mgmt.ssh.hostKey = hk.value;
  }
  if (w('p4runtime.port') || w('p4runtime.deviceId') || w('p4runtime.deviceConfig')) {
    mgmt.p4runtime = {
      port: int('p4runtime.port', 1, 65535) ?? DEFAULT_P4RUNTIME.port,
      deviceId: int('p4runtime.deviceId', 0, Number.MAX_SAFE_INTEGER) ?? DEFAULT_P4RUNTIME.deviceId,
    };
    const dc = w('p4runtime.deviceConfig');
    if (dc) mgmt.p4runtime.deviceConfig = dc.value;
  }
  if (w('gnmi.port')) mgmt.gnmi = { port: int('gnmi.port', 1, 65535) ?? DEFAULT_GNMI.port };
  if (w('snmp.port')) mgmt.snmp = { port: int('snmp.port', 1, 65535) ?? 161 };
  const cap = int('capacity', 1, 2 ** 31 - 1);
  if (!ok) return undefined;
  const d: Device = { name: raw.name, kind, mgmt: withDefaults(kind, pipeline, mgmt), labels: raw.labels, span: raw.span };
  if (pipeline) d.pipeline = pipeline;
  if (isDpu) {
    d.profile = profile;
    const older = w('attachedTo');
    if (older && w('attached-to')) src.bag.error('duplicate-key', `node ${raw.name}: both weft.attached-to and weft.attachedTo`, older.span, 'valid: one of them (weft.attached-to)');
    const at = attachedToLabel(raw);
    if (at) d.attachedTo = at.value;
  }
  if (cap !== undefined) d.capacity = { aclEntries: cap };
  const agent = w('agent');
  if (agent && kind === 'host') {
    if (agent.value !== 'true' && agent.value !== 'false') {
      src.bag.error('bad-label', `node ${raw.name}: weft.agent "${clip(agent.value)}"`, agent.span, 'valid: "true" or "false"');
      return undefined;
    }
    if (agent.value === 'false') d.agent = false;
  }
  return d;
}

function readLinkEnds(src: YamlSource, node: YNode | null): [{ ref: PortRef; span: SourceSpan }, { ref: PortRef; span: SourceSpan }] | undefined {
  const m = src.map(node, 'link', 'valid: {endpoints: ["a:eth1", "b:eth1"]}');
  if (!m) return undefined;
  const type = src.get(m, 'type');
  const typeName = type !== undefined && isScalar(type) ? String(type.value) : undefined;
  // Only veth links join two nodes; host, mgmt-net, macvlan, vxlan and dummy links leave the fabric.
  if (typeName !== undefined && typeName !== 'veth') {
    log.debug({ file: src.file, line: src.span(m).line, type: typeName }, 'link type joins no two nodes; not part of the fabric');
    return undefined;
  }
  const eNode = src.require(m, 'endpoints', 'link', 'valid: endpoints: ["a:eth1", "b:eth1"]');
  const seq = eNode === undefined ? undefined : src.seq(eNode, 'link endpoints');
  if (!seq || !eNode) return undefined;
  const items = src.items(seq);
  if (items.length !== 2) {
    src.bag.error('bad-link', `a link has ${items.length} endpoints`, src.span(eNode), 'valid: exactly two, ["<node>:<port>", "<node>:<port>"]');
    return undefined;
  }
  const ends: { ref: PortRef; span: SourceSpan }[] = [];
  for (const it of items) {
    let ref: PortRef | undefined;
    if (it && isMap(it)) {
      const n = src.get(it, 'node');
      const i = src.get(it, 'interface');
      const device = n === undefined ? undefined : src.textValue(n, 'link endpoint node');
      const port = i === undefined ? undefined : src.textValue(i, 'link endpoint interface');
      if (device !== undefined && port !== undefined) ref = { device, port };
      else src.bag.error('bad-port-ref', 'link endpoint lacks node or interface', src.span(it), 'valid: {node: host1, interface: eth1}');
    } else {
      const t = src.string(it, 'link endpoint', 'valid: "<node>:<port>"');
      const c = t === undefined ? -1 : t.indexOf(':');
      if (t !== undefined && c > 0 && c < t.length - 1 && !/\s/.test(t)) ref = { device: t.slice(0, c), port: t.slice(c + 1) };
      else if (t !== undefined) src.bag.error('bad-port-ref', `link endpoint "${clip(t)}" is not "<node>:<port>"`, src.span(it), 'valid: "<node>:<port>", e.g. "leaf1:eth1"');
    }
    if (!ref) return undefined;
    ends.push({ ref, span: src.span(it) });
  }
  return [ends[0], ends[1]];
}

function toEndpoint(
  src: YamlSource,
  raw: RawNode,
  link: { peer: PortRef; span: SourceSpan; count: number } | undefined,
  nodes: Map<string, RawNode>,
  devices: Map<string, Device>,
): { endpoint: Endpoint; spans: Record<string, SourceSpan> } | undefined {
  const spans: Record<string, SourceSpan> = { name: raw.span };
  const e: Endpoint = { name: raw.name, addresses: [], labels: raw.labels, span: raw.span };
  const addrLabel = raw.weft.get('addresses');
  if (!addrLabel) {
    src.bag.error('endpoint-without-address', `endpoint ${raw.name} has no weft.addresses label`, raw.span, 'valid: weft.addresses: "10.0.1.11,fd00:1::11"');
  } else {
    for (const a of addrLabel.value.split(/[,\s]+/).filter((s) => s !== '')) {
      const ip: IpAddr | undefined = parseIp(a);
      if (!ip) {
        src.bag.error('bad-address', `endpoint ${raw.name}: "${clip(a)}" is not an IP address`, addrLabel.span, a.includes('/') ? 'valid: addresses without a /length' : 'valid: weft.addresses: "10.0.1.11,fd00:1::11"');
        continue;
      }
      spans[`address.${e.addresses.length}`] = addrLabel.span;
      e.addresses.push(ip);
    }
  }
  const hostLabel = raw.weft.get('host');
  if (hostLabel) {
    e.host = hostLabel.value;
    spans.host = hostLabel.span;
  }
  if (!link || link.count !== 1) {
    src.bag.error('endpoint-links', `endpoint ${raw.name} has ${link?.count ?? 0} links`, raw.span, 'valid: exactly one link, to its host, its DPU or a switch port');
    return undefined;
  }
  const peer = nodes.get(link.peer.device);
  switch (peer?.role) {
    case 'host':
      e.host ??= peer.name;
      e.attach = link.peer;
      spans.host ??= link.span;
      spans.attach = link.span;
      break;
    case 'dpu':
    case 'smartnic': {
      const front = devices.get(peer.name)?.attachedTo;
      if (e.host === undefined && front !== undefined) {
        e.host = front;
        spans.host = link.span;
      }
      break;
    }
    case 'switch':
      e.attach = link.peer;
      spans.attach = link.span;
      break;
    case 'endpoint':
    case 'bridge':
    case undefined:
      src.bag.error('bad-endpoint-attach', `endpoint ${raw.name} is linked to ${peer ? `${peer.role} ${peer.name}` : 'nothing'}`, link.span, 'valid: link an endpoint to a host, a DPU or a switch port');
      return undefined;
  }
  return { endpoint: e, spans };
}

/**
 * A containerlab topology carrying everything `fabric` holds, in the label
 * conventions above; parseContainerlab gives back an equivalent fabric
 * (managed endpoints then also name the host port they plug into as attach).
 */
export function fabricToContainerlab(fabric: Fabric): string {
  const nodes: Record<string, Record<string, unknown>> = {};
  const links: { endpoints: [string, string] }[] = [];
  const used = new Set<string>();
  const nextFree = new Map<string, number>();
  const use = (p: PortRef): void => void used.add(`${p.device}:${p.port}`);
  const add = (name: string, node: Record<string, unknown>): void => {
    if (nodes[name]) throw new Error(`fabric ${fabric.name}: "${name}" names two nodes; containerlab needs unique node names`);
    nodes[name] = node;
  };
  for (const d of fabric.devices) add(d.name, deviceNode(d));
  for (const br of fabric.bridges ?? []) {
    const n: Record<string, unknown> = { kind: 'bridge' };
    if (Object.keys(br.labels).length > 0) n.labels = { ...br.labels };
    add(br.name, n);
  }
  const allLinks = [...fabric.links, ...(fabric.bridges ?? []).flatMap((b) => b.links)];
  for (const l of allLinks) {
    links.push({ endpoints: [`${l.a.device}:${l.a.port}`, `${l.b.device}:${l.b.port}`] });
    use(l.a);
    use(l.b);
  }
  for (const e of fabric.endpoints) {
    const labels: Record<string, string> = { 'weft.role': 'endpoint', 'weft.addresses': e.addresses.map((a) => formatIp(a.family, a.value)).join(',') };
    let far: PortRef;
    if (e.attach) {
      far = e.attach;
      if (e.host !== undefined && e.attach.device !== e.host) labels['weft.host'] = e.host;
    } else if (e.host !== undefined) {
      // Next free ethN of the host, remembered per host so many endpoints stay linear.
      let i = nextFree.get(e.host) ?? 1;
      while (used.has(`${e.host}:eth${i}`)) i++;
      nextFree.set(e.host, i + 1);
      far = { device: e.host, port: `eth${i}` };
    } else {
      throw new Error(`endpoint ${e.name} has neither a host nor an attach port`);
    }
    if (used.has(`${far.device}:${far.port}`)) {
      throw new Error(`endpoint ${e.name}: port ${far.device}:${far.port} already has a link; a containerlab port takes one link (put a bridge behind it)`);
    }
    use(far);
    add(e.name, { kind: IMAGES.host.kind, image: IMAGES.host.image, labels: { ...labels, ...e.labels } });
    links.push({ endpoints: [`${e.name}:eth1`, `${far.device}:${far.port}`] });
  }
  const topology: Record<string, unknown> = { nodes };
  if (links.length > 0) topology.links = links;
  const name = NAME_RE.test(fabric.name) ? fabric.name : fabric.name.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'weft';
  return `# Weft fabric ${fabric.name}: roles, transports and endpoints ride in node labels.\n${stringify({ name, topology }, { lineWidth: 0 })}`;
}

function deviceNode(d: Device): Record<string, unknown> {
  const labels: Record<string, string> = { 'weft.role': d.kind };
  let image: { kind: string; image: string } = IMAGES.host;
  if (d.kind === 'switch' && d.pipeline) {
    labels['weft.pipeline'] = d.pipeline;
    image = IMAGES[d.pipeline];
  }
  if (d.profile) labels['weft.profile'] = d.profile;
  if (d.attachedTo) labels['weft.attached-to'] = d.attachedTo;
  if (d.capacity?.aclEntries !== undefined) labels['weft.capacity'] = String(d.capacity.aclEntries);
  if (d.agent === false) labels['weft.agent'] = 'false';
  const m = d.mgmt;
  if (m.ssh) {
    labels['weft.ssh.user'] = m.ssh.user;
    labels['weft.ssh.port'] = String(m.ssh.port);
    if (m.ssh.hostKey) labels['weft.ssh.hostKey'] = m.ssh.hostKey;
  }
  if (m.p4runtime) {
    labels['weft.p4runtime.port'] = String(m.p4runtime.port);
    labels['weft.p4runtime.deviceId'] = String(m.p4runtime.deviceId);
    if (m.p4runtime.deviceConfig) labels['weft.p4runtime.deviceConfig'] = m.p4runtime.deviceConfig;
  }
  if (m.gnmi) labels['weft.gnmi.port'] = String(m.gnmi.port);
  if (m.snmp) labels['weft.snmp.port'] = String(m.snmp.port);
  const node: Record<string, unknown> = { kind: image.kind, image: image.image };
  if (m.address !== undefined) {
    const ip = parseIp(m.address);
    if (ip?.family === 4) node['mgmt-ipv4'] = m.address;
    else if (ip?.family === 6) node['mgmt-ipv6'] = m.address;
    else labels['weft.mgmt.address'] = m.address;
  }
  node.labels = { ...labels, ...d.labels };
  return node;
}
