// Reads fabric.yaml (README, File formats) into the Fabric model, and the checks every
// inventory source shares (device references, port use, endpoint placement,
// duplicate addresses), which containerlab topologies run too.

import { withLazyDigest } from '../orchestrator/yaml/lazy-digest.ts';
import { isMap, isScalar, isSeq, type MapNode } from '../orchestrator/yaml/node.ts';
import { DiagnosticBag, type SourceSpan } from '../orchestrator/diagnostics.ts';
import { formatIp, parseIp, type IpAddr } from '../orchestrator/net/ip.ts';
import { checkWeftHeader, clip, listChoices, YamlSource, type YNode } from '../orchestrator/yaml/source.ts';
import type { Bridge, Device, DeviceKind, DpuProfile, Endpoint, Fabric, Link, Mgmt, Pipeline, PortRef } from './model.ts';

export const DEVICE_KINDS: readonly DeviceKind[] = ['host', 'dpu', 'smartnic', 'switch'];
export const PIPELINES: readonly Pipeline[] = ['p4', 'openconfig'];
export const DPU_PROFILES: readonly DpuProfile[] = ['nfp', 'bluefield', 'generic'];
/** Names end up in paths (out/devices/<name>/) and namespace names. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const DEFAULT_SSH = { user: 'root', port: 22 } as const;
export const DEFAULT_P4RUNTIME = { port: 9559, deviceId: 1 } as const;
export const DEFAULT_GNMI = { port: 57400 } as const;

/**
 * The keys each mapping of fabric.yaml knows (README, File formats); others
 * draw an unknown-key warning. `mgmt.ssh.identityFile` (the client key, a
 * path relative to the inventory) and `mgmt.ssh.stagingDir` (where a rollout
 * copies artefacts on the device) are read by the rollout, not by this
 * parser, so the Fabric model does not carry them.
 */
export const FABRIC_KEYS = {
  top: ['apiVersion', 'kind', 'metadata', 'spec'],
  metadata: ['name'],
  spec: ['devices', 'links', 'endpoints'],
  device: ['name', 'kind', 'pipeline', 'profile', 'attachedTo', 'agent', 'mgmt', 'capacity', 'capabilities', 'labels'],
  mgmt: ['address', 'ssh', 'p4runtime', 'gnmi', 'snmp'],
  ssh: ['user', 'port', 'hostKey', 'identityFile', 'stagingDir'],
  p4runtime: ['port', 'deviceId', 'deviceConfig'],
  gnmi: ['port'],
  snmp: ['port'],
  capacity: ['aclEntries', 'lpmEntries'],
  capabilities: ['definedSets'],
  link: ['endpoints'],
  endpoint: ['name', 'host', 'attach', 'addresses', 'labels'],
} as const;

/**
 * Keys that look like credentials. Inventories are checked in and copied into
 * bundles, so secrets must come from the environment or from files; a key
 * naming such a file (passwordFile, tokenEnv...) is fine.
 */
const SECRET_KEY_RE = /pass(word|wd|phrase)?$|secret|token|private[-_.]?key|api[-_.]?key|credential/i;
const SECRET_OK_RE = /(file|path|env|envvar)$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY_RE.test(key) && !SECRET_OK_RE.test(key);
}

export const SECRET_HINT = 'valid: no secrets in the inventory; pass them through environment variables or files (e.g. mgmt.ssh.identityFile: keys/id_ed25519)';

/**
 * Finds where a field of a device, link or endpoint is written, from the
 * handle its reader kept (`name`, `kind`, `pipeline`, `attachedTo`, `host`,
 * `attach`, a link's ends `a` and `b`, an endpoint's `address.<i>`);
 * undefined when the field is not written, and the object's own span is
 * used. Called only for a diagnostic, so a fabric of 100,000 endpoints keeps
 * no position per field.
 */
export type FieldLocator<H> = (handle: H, field: string) => SourceSpan | undefined;

/** Where a link's end was taken, until a second link names the same port. */
interface PortUse {
  link: Link;
  side: 'a' | 'b';
}

/**
 * Collects devices, links, bridges and endpoints with a handle on where each
 * was written (so a cross-reference error points at the exact reference),
 * then checks them together in `check`.
 */
export class FabricBuilder<H> {
  readonly devices: Device[] = [];
  readonly links: Link[] = [];
  readonly endpoints: Endpoint[] = [];
  readonly bridges: Bridge[] = [];
  private readonly handles = new Map<object, H>();

  constructor(
    private readonly bag: DiagnosticBag,
    private readonly locate: FieldLocator<H>,
  ) {}

  device(d: Device, where: H): void {
    this.devices.push(d);
    this.handles.set(d, where);
  }

  link(l: Link, where: H): void {
    this.links.push(l);
    this.handles.set(l, where);
  }

  /** Without `where`, a diagnostic about the endpoint points at its span. */
  endpoint(e: Endpoint, where?: H): void {
    this.endpoints.push(e);
    if (where !== undefined) this.handles.set(e, where);
  }

  bridge(br: Bridge): void {
    this.bridges.push(br);
  }

  /** A link with a bridge at one end (or both). */
  bridgeLink(br: Bridge, l: Link, where: H): void {
    br.links.push(l);
    this.handles.set(l, where);
  }

  /** The span of `field` of `obj` when it is written, else undefined. */
  private written(obj: object, field: string): SourceSpan | undefined {
    const h = this.handles.get(obj);
    return h === undefined ? undefined : this.locate(h, field);
  }

  private at(obj: { span: SourceSpan }, field: string): SourceSpan {
    return this.written(obj, field) ?? obj.span;
  }

  /** Cross-reference checks shared by every inventory format. */
  check(): void {
    const { bag } = this;
    const byName = new Map<string, Device>();
    const bridgeNames = new Set(this.bridges.map((b) => b.name));
    for (const d of this.devices) {
      const first = byName.get(d.name);
      if (first || bridgeNames.has(d.name)) {
        bag.error('duplicate-device', `device "${d.name}" is defined twice`, this.at(d, 'name'), `valid: unique device names${first ? `; the first is at line ${first.span.line}` : ''}`);
        continue;
      }
      byName.set(d.name, d);
    }
    const deviceList = (): string => listChoices([...byName.keys()].slice(0, 20));
    const namesOf = (kind: DeviceKind): string => listChoices(this.devices.filter((x) => x.kind === kind).map((x) => x.name).slice(0, 20));
    for (const d of this.devices) {
      // An invalid pipeline was already reported where it was written.
      if (d.kind === 'switch' && d.pipeline === undefined && this.written(d, 'pipeline') === undefined) {
        bag.error('missing-pipeline', `switch ${d.name} has no pipeline`, this.at(d, 'kind'), `valid: pipeline: ${listChoices(PIPELINES)}`);
      }
      if (d.kind === 'dpu' || d.kind === 'smartnic') {
        if (d.attachedTo === undefined) {
          bag.error('missing-attached-to', `${d.kind} ${d.name} does not say which host it sits in front of`, this.at(d, 'kind'), 'valid: attachedTo: <a host device>');
        } else {
          const h = byName.get(d.attachedTo);
          if (!h || h.kind !== 'host') {
            bag.error(
              'bad-attached-to',
              `${d.kind} ${d.name}: attachedTo "${d.attachedTo}" ${h ? `is a ${h.kind}, not a host` : 'names no device'}`,
              this.at(d, 'attachedTo'),
              `valid: a host device: ${namesOf('host')}`,
            );
          }
        }
      }
    }
    // Ports: one link per port; an endpoint's attach port must be free of device links.
    const usedPorts = new Map<string, PortUse>();
    const usePort = (link: Link, side: 'a' | 'b'): void => {
      const p = link[side];
      const key = `${p.device}:${p.port}`;
      const first = usedPorts.get(key);
      if (first) bag.error('port-in-use', `port ${key} is used by two links`, this.at(link, side), `valid: one link per port; the other link is at line ${this.at(first.link, first.side).line}`);
      else usedPorts.set(key, { link, side });
    };
    for (const l of this.links) {
      for (const side of ['a', 'b'] as const) {
        const p = l[side];
        if (!byName.has(p.device)) {
          bag.error('unknown-device', `link end "${p.device}:${p.port}" names no device`, this.at(l, side), `valid: a defined device: ${deviceList()}`);
        } else {
          usePort(l, side);
        }
      }
    }
    for (const b of this.bridges) {
      for (const l of b.links) {
        usePort(l, 'a');
        usePort(l, 'b');
      }
    }
    this.checkEndpoints(byName, usedPorts, namesOf);
  }

  /** Endpoint names, hosts, attach ports and addresses, in one pass over the endpoints. */
  private checkEndpoints(byName: Map<string, Device>, usedPorts: Map<string, PortUse>, namesOf: (kind: DeviceKind) => string): void {
    const { bag } = this;
    const epNames = new Map<string, Endpoint>();
    // Address -> the endpoint that has it, one map per family (v4 values are small bigints, v6 ones are not).
    const addrs = { 4: new Map<bigint, Endpoint>(), 6: new Map<bigint, Endpoint>() };
    // Most fabrics have no address twice: then the maps are never filled.
    const sharedAddresses = hasRepeatedAddress(this.endpoints);
    for (const e of this.endpoints) {
      const first = epNames.get(e.name);
      if (first) bag.error('duplicate-endpoint', `endpoint "${e.name}" is defined twice`, this.at(e, 'name'), `valid: unique endpoint names; the first is at line ${this.at(first, 'name').line}`);
      else epNames.set(e.name, e);
      if (e.host === undefined && e.attach === undefined) {
        bag.error('endpoint-without-location', `endpoint ${e.name} has neither a host nor an attach port`, this.at(e, 'name'), 'valid: host: <host device> for a managed endpoint, or attach: "<switch>:<port>" for an unmanaged one');
      }
      if (e.host !== undefined) {
        const h = byName.get(e.host);
        if (!h || h.kind !== 'host') {
          bag.error(
            'bad-endpoint-host',
            `endpoint ${e.name}: host "${e.host}" ${h ? `is a ${h.kind}, not a host` : 'names no device'}`,
            this.at(e, 'host'),
            `valid: a host device (a DPU enforces for the host it is attachedTo): ${namesOf('host')}`,
          );
        }
      }
      if (e.attach !== undefined) {
        const key = `${e.attach.device}:${e.attach.port}`;
        const s = byName.get(e.attach.device);
        // A managed endpoint may name the port of its own host it plugs into.
        const ownHost = e.host !== undefined && e.attach.device === e.host;
        if (!s || (s.kind !== 'switch' && !ownHost)) {
          bag.error(
            'bad-endpoint-attach',
            `endpoint ${e.name}: attach "${key}" ${s ? `is on a ${s.kind}, not a switch` : 'names no device'}`,
            this.at(e, 'attach'),
            `valid: "<switch>:<port>" with a switch device: ${namesOf('switch')}`,
          );
        } else {
          const link = usedPorts.get(key);
          if (link) bag.error('port-in-use', `endpoint ${e.name}: attach port ${key} is already used by a link`, this.at(e, 'attach'), `valid: a port facing the endpoint, not one linking devices (the link is at line ${this.at(link.link, link.side).line})`);
        }
      }
      for (let i = 0; sharedAddresses && i < e.addresses.length; i++) {
        const a = e.addresses[i];
        const seen = addrs[a.family];
        const other = seen.get(a.value);
        if (other === undefined) {
          seen.set(a.value, e);
          continue;
        }
        const j = other.addresses.findIndex((x) => x.family === a.family && x.value === a.value);
        bag.error(
          'duplicate-address',
          `endpoint ${e.name}: address ${formatIp(a.family, a.value)} is also endpoint ${other.name}'s`,
          this.at(e, `address.${i}`),
          `valid: each address on one endpoint only (see line ${this.at(other, `address.${j}`).line})`,
        );
      }
    }
  }
}

/**
 * Whether some address belongs to two endpoints (or twice to one): IPv4
 * values sorted as numbers in a typed array, IPv6 ones through a set, far
 * cheaper on 100,000 endpoints than a map from every address to its owner.
 */
function hasRepeatedAddress(endpoints: readonly Endpoint[]): boolean {
  let v4 = 0;
  for (const e of endpoints) for (const a of e.addresses) if (a.family === 4) v4++;
  const sorted = new Float64Array(v4);
  const v6 = new Set<bigint>();
  let n = 0;
  for (const e of endpoints) {
    for (const a of e.addresses) {
      if (a.family === 4) sorted[n++] = Number(a.value);
      else if (v6.has(a.value)) return true;
      else v6.add(a.value);
    }
  }
  sorted.sort();
  for (let i = 1; i < n; i++) if (sorted[i] === sorted[i - 1]) return true;
  return false;
}

/** Hands the parser's warnings (unknown keys) to the caller on the model. */
export function withWarnings(fabric: Fabric, bag: DiagnosticBag): Fabric {
  const warnings = bag.items.filter((d) => d.severity === 'warning');
  if (warnings.length) fabric.warnings = warnings;
  return fabric;
}

/** Reads an already parsed fabric.yaml document (errors go to src.bag). */
export function readFabricDocument(src: YamlSource): Fabric | undefined {
  const top = src.map(src.root, 'fabric document', 'valid: a mapping with apiVersion, kind, metadata and spec');
  if (!top) return undefined;
  checkSecrets(src, top);
  checkWeftHeader(src, top, 'Fabric');
  src.checkKeys(top, FABRIC_KEYS.top, 'fabric document');
  let name = defaultFabricName(src.file);
  const meta = src.get(top, 'metadata');
  const metaMap = meta === undefined ? undefined : src.map(meta, 'metadata');
  if (metaMap) src.checkKeys(metaMap, FABRIC_KEYS.metadata, 'metadata');
  const nameNode = metaMap ? src.get(metaMap, 'name') : undefined;
  if (nameNode !== undefined) name = src.string(nameNode, 'metadata.name') ?? name;
  const specNode = src.require(top, 'spec', 'fabric', 'valid: spec: {devices, links, endpoints}');
  const spec = specNode === undefined ? undefined : src.map(specNode, 'spec');
  if (!spec) return undefined;
  src.checkKeys(spec, FABRIC_KEYS.spec, 'spec');
  const b = new FabricBuilder(src.bag, fabricFieldAt(src));
  const devNode = src.require(spec, 'devices', 'spec', 'valid: devices: [{name, kind, mgmt}, ...]');
  const devs = devNode === undefined ? undefined : src.seq(devNode, 'spec.devices');
  for (const item of devs ? src.items(devs) : []) readDevice(src, b, item);
  const linkNode = src.get(spec, 'links');
  const links = linkNode === undefined ? undefined : src.seq(linkNode, 'spec.links', 'valid: links: [{endpoints: ["host1:eth1", "leaf1:eth1"]}]');
  for (const item of links ? src.items(links) : []) readLink(src, b, item);
  const epNode = src.get(spec, 'endpoints');
  const eps = epNode === undefined ? undefined : src.seq(epNode, 'spec.endpoints');
  for (const item of eps ? src.items(eps) : []) readEndpoint(src, b, item);
  b.check();
  return withLazyDigest({ file: src.file, name, devices: b.devices, links: b.links, endpoints: b.endpoints }, src.root);
}

/** A fabric without metadata.name is named after its file. */
export function defaultFabricName(file: string): string {
  return file.replace(/^.*\//, '').replace(/\.(ya?ml|json)$/, '');
}

/** Every mapping key anywhere in the document (or under `root`) that looks like a credential. */
export function checkSecrets(src: YamlSource, root: YNode): void {
  const walk = (n: YNode | null, depth: number): void => {
    if (n === null || depth > 64) return;
    if (isMap(n)) {
      for (const p of n.items) {
        const k = p.key as YNode | null;
        if (k && isScalar(k) && typeof k.value === 'string' && isSecretKey(k.value)) {
          src.bag.error('secret-in-inventory', `key "${clip(k.value)}" looks like a secret`, src.span(k), SECRET_HINT);
        }
        walk(p.value as YNode | null, depth + 1);
      }
    } else if (isSeq(n)) {
      for (const i of n.items) walk(i as YNode | null, depth + 1);
    }
  };
  walk(root, 0);
}

export function checkName(src: YamlSource, node: YNode, what: string): string | undefined {
  const name = src.textValue(node, `${what} name`);
  if (name === undefined) return undefined;
  if (!NAME_RE.test(name)) {
    src.bag.error('bad-name', `${what} name "${clip(name)}" has characters Weft cannot use in paths and interface names`, src.span(node), 'valid: letters, digits, ".", "_" and "-", starting with a letter or digit');
    return undefined;
  }
  return name;
}

function choice<T extends string>(src: YamlSource, node: YNode, what: string, code: string, valid: readonly T[]): T | undefined {
  const v = isScalar(node) ? node.value : undefined;
  if (typeof v === 'string' && (valid as readonly string[]).includes(v)) return v as T;
  src.bag.error(code, `${what} is ${src.describe(node)}`, src.span(node), `valid: ${listChoices(valid)}`);
  return undefined;
}

export function readDevice(src: YamlSource, b: FabricBuilder<MapNode>, node: YNode | null): void {
  const m = src.map(node, 'device', 'valid: {name, kind, mgmt, ...}');
  if (!m) return;
  const nameNode = src.require(m, 'name', 'device', 'valid: name: leaf1');
  const name = nameNode === undefined ? undefined : checkName(src, nameNode, 'device');
  const label = `device ${name ?? '?'}`;
  src.checkKeys(m, FABRIC_KEYS.device, label);
  const kindNode = src.require(m, 'kind', label, `valid: kind: ${listChoices(DEVICE_KINDS)}`);
  const kind = kindNode === undefined ? undefined : choice(src, kindNode, `${label}: kind`, 'bad-device-kind', DEVICE_KINDS);
  let pipeline: Pipeline | undefined;
  const pNode = src.get(m, 'pipeline');
  if (pNode !== undefined) {
    pipeline = choice(src, pNode, `${label}: pipeline`, 'bad-pipeline', PIPELINES);
    if (kind !== undefined && kind !== 'switch') src.bag.error('misplaced-key', `${label}: pipeline on a ${kind}`, src.span(pNode), 'valid: pipeline only on switches');
  }
  let profile: DpuProfile | undefined;
  let attachedTo: string | undefined;
  const isDpu = kind === 'dpu' || kind === 'smartnic';
  const prNode = src.get(m, 'profile');
  if (prNode !== undefined) {
    profile = choice(src, prNode, `${label}: profile`, 'bad-profile', DPU_PROFILES);
    if (kind !== undefined && !isDpu) src.bag.error('misplaced-key', `${label}: profile on a ${kind}`, src.span(prNode), 'valid: profile only on dpu and smartnic devices');
  }
  const atNode = src.get(m, 'attachedTo');
  if (atNode !== undefined) {
    attachedTo = src.string(atNode, `${label}: attachedTo`);
    if (kind !== undefined && !isDpu) src.bag.error('misplaced-key', `${label}: attachedTo on a ${kind}`, src.span(atNode), 'valid: attachedTo only on dpu and smartnic devices');
  }
  let agent: boolean | undefined;
  const agNode = src.get(m, 'agent');
  if (agNode !== undefined) {
    agent = src.bool(agNode, `${label}: agent`);
    if (kind !== undefined && kind !== 'host') src.bag.error('misplaced-key', `${label}: agent on a ${kind}`, src.span(agNode), 'valid: agent only on host devices');
  }
  const mgmtNode = src.get(m, 'mgmt');
  const mgmt = mgmtNode === undefined ? {} : readMgmt(src, mgmtNode, label);
  let capacity: Device['capacity'];
  const capNode = src.get(m, 'capacity');
  if (capNode !== undefined) {
    const cm = src.map(capNode, `${label}: capacity`, 'valid: capacity: {aclEntries: 1024, lpmEntries: 4096}');
    if (cm) {
      src.checkKeys(cm, FABRIC_KEYS.capacity, `${label}: capacity`);
      capacity = {};
      for (const key of ['aclEntries', 'lpmEntries'] as const) {
        const node = src.get(cm, key);
        const n = node === undefined ? undefined : src.int(node, `${label}: capacity.${key}`, 1, 2 ** 31 - 1, 'bad-capacity');
        if (n !== undefined) capacity[key] = n;
      }
    }
  }
  const capabilities = readCapabilities(src, m, label, kind, pipeline);
  const labelsNode = src.get(m, 'labels');
  const labels = labelsNode === undefined ? {} : readLabels(src, labelsNode, `${label}: labels`);
  if (name === undefined || kind === undefined) return;
  const d: Device = { name, kind, mgmt: withDefaults(kind, pipeline, mgmt), labels, span: src.span(m) };
  if (kind === 'switch' && pipeline) d.pipeline = pipeline;
  if (isDpu) {
    d.profile = profile ?? 'generic';
    if (attachedTo !== undefined) d.attachedTo = attachedTo;
  }
  if (capacity) d.capacity = capacity;
  if (capabilities) d.capabilities = capabilities;
  if (kind === 'host' && agent === false) d.agent = false;
  b.device(d, m);
}

/** Management transports a device kind needs get their default port when not given. */
export function withDefaults(kind: DeviceKind, pipeline: Pipeline | undefined, mgmt: Mgmt): Mgmt {
  const out: Mgmt = { ...mgmt };
  switch (kind) {
    case 'host':
    case 'dpu':
    case 'smartnic':
      out.ssh ??= { ...DEFAULT_SSH };
      break;
    case 'switch':
      if (pipeline === 'p4') out.p4runtime ??= { ...DEFAULT_P4RUNTIME };
      if (pipeline === 'openconfig') out.gnmi ??= { ...DEFAULT_GNMI };
      break;
    default: {
      const never: never = kind;
      throw new Error(`unhandled device kind ${String(never)}`);
    }
  }
  return out;
}

/**
 * `capabilities: {definedSets: true|false}`: whether an OpenConfig switch
 * implements openconfig-defined-sets. Absent means true: the module is part
 * of the public OpenConfig release that Weft's models come from, and a
 * switch that lacks it is caught before anything is written (the driver
 * checks the gNMI Capabilities and names this key as the fix).
 */
function readCapabilities(src: YamlSource, m: MapNode, label: string, kind: DeviceKind | undefined, pipeline: Pipeline | undefined): Device['capabilities'] {
  const node = src.get(m, 'capabilities');
  if (node === undefined) return undefined;
  const cm = src.map(node, `${label}: capabilities`, 'valid: capabilities: {definedSets: false}');
  if (!cm) return undefined;
  src.checkKeys(cm, FABRIC_KEYS.capabilities, `${label}: capabilities`);
  const ds = src.get(cm, 'definedSets');
  if (ds === undefined) return {};
  if (kind !== undefined && (kind !== 'switch' || pipeline !== 'openconfig')) {
    src.bag.error('misplaced-key', `${label}: capabilities.definedSets on a ${kind === 'switch' ? `${pipeline ?? 'p4'} switch` : kind}`, src.span(ds), 'valid: capabilities.definedSets only on switches with pipeline: openconfig');
    return undefined;
  }
  const v = src.bool(ds, `${label}: capabilities.definedSets`);
  return v === undefined ? undefined : { definedSets: v };
}

function readMgmt(src: YamlSource, node: YNode, label: string): Mgmt {
  const m = src.map(node, `${label}: mgmt`, 'valid: mgmt: {address: 172.20.20.11, ssh: {user: root, port: 22}}');
  const out: Mgmt = {};
  if (!m) return out;
  src.checkKeys(m, FABRIC_KEYS.mgmt, `${label}: mgmt`);
  const addr = src.get(m, 'address');
  if (addr !== undefined) {
    const a = src.textValue(addr, `${label}: mgmt.address`);
    if (a !== undefined) {
      if (checkMgmtAddress(a)) out.address = a;
      else src.bag.error('bad-address', `${label}: mgmt.address "${clip(a)}" is neither an IP address nor a host name`, src.span(addr), 'valid: an IPv4/IPv6 address (no prefix) or a DNS name');
    }
  }
  const port = (mm: MapNode, what: string, dflt: number): number => {
    const p = src.get(mm, 'port');
    return p === undefined ? dflt : (src.int(p, `${label}: ${what}.port`, 1, 65535, 'bad-port') ?? dflt);
  };
  const ssh = src.get(m, 'ssh');
  if (ssh !== undefined) {
    const sm = src.map(ssh, `${label}: mgmt.ssh`, 'valid: ssh: {user: root, port: 22}');
    if (sm) {
      src.checkKeys(sm, FABRIC_KEYS.ssh, `${label}: mgmt.ssh`);
      const u = src.get(sm, 'user');
      const user = u === undefined ? DEFAULT_SSH.user : (src.string(u, `${label}: mgmt.ssh.user`) ?? DEFAULT_SSH.user);
      out.ssh = { user, port: port(sm, 'mgmt.ssh', DEFAULT_SSH.port) };
      const hk = src.get(sm, 'hostKey');
      if (hk !== undefined) {
        const k = src.string(hk, `${label}: mgmt.ssh.hostKey`);
        if (k !== undefined) out.ssh.hostKey = k;
      }
    }
  }
  const p4 = src.get(m, 'p4runtime');
  if (p4 !== undefined) {
    const pm = src.map(p4, `${label}: mgmt.p4runtime`, 'valid: p4runtime: {port: 9559, deviceId: 1}');
    if (pm) {
      src.checkKeys(pm, FABRIC_KEYS.p4runtime, `${label}: mgmt.p4runtime`);
      const idNode = src.get(pm, 'deviceId');
      const deviceId = idNode === undefined ? DEFAULT_P4RUNTIME.deviceId : (src.int(idNode, `${label}: mgmt.p4runtime.deviceId`, 0, Number.MAX_SAFE_INTEGER, 'bad-device-id') ?? DEFAULT_P4RUNTIME.deviceId);
      out.p4runtime = { port: port(pm, 'mgmt.p4runtime', DEFAULT_P4RUNTIME.port), deviceId };
      const dc = src.get(pm, 'deviceConfig');
      if (dc !== undefined) {
        const c = src.string(dc, `${label}: mgmt.p4runtime.deviceConfig`);
        if (c !== undefined) out.p4runtime.deviceConfig = c;
      }
    }
  }
  const gnmi = src.get(m, 'gnmi');
  if (gnmi !== undefined) {
    const gm = src.map(gnmi, `${label}: mgmt.gnmi`, 'valid: gnmi: {port: 57400}');
    if (gm) {
      src.checkKeys(gm, FABRIC_KEYS.gnmi, `${label}: mgmt.gnmi`);
      out.gnmi = { port: port(gm, 'mgmt.gnmi', DEFAULT_GNMI.port) };
    }
  }
  const snmp = src.get(m, 'snmp');
  if (snmp !== undefined) {
    const nm = src.map(snmp, `${label}: mgmt.snmp`, 'valid: snmp: {port: 161}');
    if (nm) {
      src.checkKeys(nm, FABRIC_KEYS.snmp, `${label}: mgmt.snmp`);
      out.snmp = { port: port(nm, 'mgmt.snmp', 161) };
    }
  }
  return out;
}

export function checkMgmtAddress(a: string): boolean {
  if (/^[0-9.]+$/.test(a) || a.includes(':')) return parseIp(a) !== undefined;
  return /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(a) && a.length <= 253;
}

export function readLabels(src: YamlSource, node: YNode, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  const m = src.map(node, what, 'valid: labels: {app: web, env: prod}');
  if (!m) return out;
  for (const { key, keyNode, value } of src.pairs(m, what)) {
    // weft.* labels carry Weft's own settings in containerlab topologies.
    if (key.startsWith('weft.')) {
      src.bag.error('reserved-label', `${what}: label "${clip(key)}" uses the reserved weft. prefix`, src.span(keyNode), 'valid: any label key not starting with "weft."');
      continue;
    }
    const v = src.textValue(value, `${what}.${key}`);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** "dev:port" -> PortRef, or a diagnostic. */
export function readPortRef(src: YamlSource, node: YNode | null, what: string): PortRef | undefined {
  const t = src.string(node, what, 'valid: "<device>:<port>", e.g. "leaf1:eth1"');
  if (t === undefined) return undefined;
  const ref = splitPortRef(t);
  if (!ref) src.bag.error('bad-port-ref', `${what} "${clip(t)}" is not "<device>:<port>"`, src.span(node), 'valid: "<device>:<port>", e.g. "leaf1:eth1"');
  return ref;
}

/** "dev:port" -> PortRef; undefined without a device, a port, or with white space. */
export function splitPortRef(t: string): PortRef | undefined {
  const i = t.indexOf(':');
  const port = t.slice(i + 1);
  if (i <= 0 || port === '' || /\s/.test(t)) return undefined;
  return { device: t.slice(0, i), port };
}

export function readLink(src: YamlSource, b: FabricBuilder<MapNode>, node: YNode | null): void {
  const m = src.map(node, 'link', 'valid: {endpoints: ["host1:eth1", "leaf1:eth1"]}');
  if (!m) return;
  src.checkKeys(m, FABRIC_KEYS.link, 'link');
  const eNode = src.require(m, 'endpoints', 'link', 'valid: endpoints: ["host1:eth1", "leaf1:eth1"]');
  const seq = eNode === undefined ? undefined : src.seq(eNode, 'link endpoints', 'valid: endpoints: ["host1:eth1", "leaf1:eth1"]');
  if (!seq || !eNode) return;
  const items = src.items(seq);
  if (items.length !== 2) {
    src.bag.error('bad-link', `a link has ${items.length} endpoints`, src.span(eNode), 'valid: exactly two, ["<device>:<port>", "<device>:<port>"]');
    return;
  }
  const a = readPortRef(src, items[0], 'link endpoint');
  const bb = readPortRef(src, items[1], 'link endpoint');
  if (!a || !bb) return;
  b.link({ a, b: bb, span: src.span(m) }, m);
}

/** The address an endpoint's address item holds, or undefined when it holds none (readAddress says why). */
function addressOf(node: YNode | null): IpAddr | undefined {
  return isScalar(node) && typeof node.value === 'string' && node.value !== '' ? parseIp(node.value.trim()) : undefined;
}

/**
 * Where a field of a fabric.yaml device, link or endpoint is written, found
 * again in the object's mapping: the value of the key of that name, a link
 * end in its `endpoints` list, or an endpoint's i-th address (counting the
 * items that held one, as the endpoint's `addresses` do).
 */
export function fabricFieldAt(src: YamlSource): FieldLocator<MapNode> {
  return (m, field) => {
    if (field === 'a' || field === 'b') {
      const ends = src.get(m, 'endpoints');
      return isSeq(ends) ? src.span(ends.items[field === 'a' ? 0 : 1]) : undefined;
    }
    if (field.startsWith('address.')) {
      const list = src.get(m, 'addresses');
      let i = Number(field.slice('address.'.length));
      for (const item of isSeq(list) ? list.items : []) {
        if (addressOf(item) !== undefined && i-- === 0) return src.span(item);
      }
      return undefined;
    }
    const node = src.get(m, field);
    return node === undefined ? undefined : src.span(node);
  };
}

/** An endpoint address: an IP without prefix length. */
export function readAddress(src: YamlSource, node: YNode | null, what: string): IpAddr | undefined {
  const ip = addressOf(node);
  if (ip) return ip;
  const t = src.string(node, what, 'valid: an IPv4 or IPv6 address such as 10.0.1.11 or "fd00:1::11"');
  if (t !== undefined) {
    src.bag.error('bad-address', `${what} "${clip(t)}" is not an IP address`, src.span(node), t.includes('/') ? 'valid: an address without a /length' : 'valid: an IPv4 or IPv6 address such as 10.0.1.11 or "fd00:1::11"');
  }
  return undefined;
}

function readEndpoint(src: YamlSource, b: FabricBuilder<MapNode>, node: YNode | null): void {
  const m = src.map(node, 'endpoint', 'valid: {name, host | attach, addresses, labels}');
  if (!m) return;
  const nameNode = src.require(m, 'name', 'endpoint', 'valid: name: web-1');
  const name = nameNode === undefined ? undefined : checkName(src, nameNode, 'endpoint');
  const label = `endpoint ${name ?? '?'}`;
  src.checkKeys(m, FABRIC_KEYS.endpoint, label);
  const e: Endpoint = { name: name ?? '', addresses: [], labels: {}, span: src.span(m) };
  const hostNode = src.get(m, 'host');
  if (hostNode !== undefined) {
    const h = src.string(hostNode, `${label}: host`);
    if (h !== undefined) e.host = h;
  }
  const attNode = src.get(m, 'attach');
  if (attNode !== undefined) {
    const a = readPortRef(src, attNode, `${label}: attach`);
    if (a) e.attach = a;
  }
  const addrNode = src.require(m, 'addresses', label, 'valid: addresses: [10.0.1.11, "fd00:1::11"]');
  const addrs = addrNode === undefined ? undefined : src.seq(addrNode, `${label}: addresses`, 'valid: addresses: [10.0.1.11, "fd00:1::11"]');
  if (addrs && addrNode) {
    const items = src.items(addrs);
    if (items.length === 0) src.bag.error('endpoint-without-address', `${label} has an empty address list`, src.span(addrNode), 'valid: at least one IPv4 or IPv6 address');
    for (const item of items) {
      const ip = readAddress(src, item, `${label}: address`);
      if (ip) e.addresses.push(ip);
    }
  }
  const labelsNode = src.get(m, 'labels');
  if (labelsNode !== undefined) e.labels = readLabels(src, labelsNode, `${label}: labels`);
  if (name === undefined) return;
  b.endpoint(e, m);
}
