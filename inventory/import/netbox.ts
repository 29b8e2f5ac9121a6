// `weft import netbox`: NetBox's REST API output (devices, interfaces,
// cables, IP addresses) as a Weft fabric.yaml.
//
// Mapping (options in netbox-options.ts):
// - a device's role slug (then its tags) decides what it becomes: a host,
//   dpu, smartnic or switch device, an unmanaged `endpoint` (a firewall or
//   storage box: one endpoint attached to the switch port its cable reaches),
//   or nothing (`skip`); devices outside the imported statuses are skipped;
// - tags set the pipeline (switches; default from the options), the DPU
//   profile and `agent: false`; a DPU sits in front of its parent device
//   (NetBox device bays) or of the custom field weft_attached_to;
// - a cable between two imported devices' interfaces is a link; cables on
//   mgmt-only interfaces belong to the management network and are left out;
// - the management address is the first of oob_ip, primary_ip4, primary_ip6;
// - every other IP address on a host's interface is a workload: one endpoint
//   per interface, named <device>-<interface>, managed by that host;
// - labels: the slugs of the device's site, tenant and role, and every tag
//   written key=value or key:value (on the device, or on the IP address).

import { statSync } from 'node:fs';
import { Document, isMap, isSeq } from 'yaml';
import { DiagnosticBag, formatSpan, InputError, type Diagnostic } from '../../orchestrator/diagnostics.ts';
import { formatIp, parseIp } from '../../orchestrator/net/ip.ts';
import { WEFT_API_VERSION, type YNode } from '../../orchestrator/yaml/source.ts';
import { NAME_RE } from '../fabric.ts';
import { parseFabric } from '../load.ts';
import type { DeviceKind, DpuProfile, Pipeline } from '../model.ts';
import { at, bool, choice, list, num, readResource, text, type NbObject } from './netbox-pages.ts';
import { loadNetboxOptions, type NetboxOptions, type RoleMapping } from './netbox-options.ts';

export interface NetboxImport {
  /** fabric.yaml text, with comments naming the NetBox object behind each entry. */
  text: string;
  counts: { devices: number; links: number; endpoints: number };
  warnings: Diagnostic[];
}

interface NbDevice {
  id: number;
  netboxName: string;
  name: string;
  mapping: RoleMapping;
  pipeline?: Pipeline;
  profile?: DpuProfile;
  agent?: boolean;
  attachedTo?: string;
  mgmt?: string;
  labels: Record<string, string>;
  obj: NbObject;
}

interface NbInterface {
  id: number;
  device: NbDevice;
  name: string;
  mgmtOnly: boolean;
}

interface OutEndpoint {
  name: string;
  host?: string;
  attach?: string;
  addresses: string[];
  labels: Record<string, string>;
  origins: string[];
}

const IP_STATUSES = ['active', 'dhcp', 'slaac'];
const KV_TAG = /^([A-Za-z0-9][A-Za-z0-9._/-]*)\s*[=:]\s*(\S.*)$/;

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').replace(/-+$/, '');
}

function where(o: NbObject): string {
  return formatSpan(o.span);
}

/** key=value tags as labels. */
function tagLabels(o: NbObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of list(o, 'tags')) {
    const m = KV_TAG.exec(text(t, 'name') ?? '');
    if (m && !m[1].startsWith('weft.')) out[m[1]] = m[2].trim();
  }
  return out;
}

function stripLength(a: string): string {
  return a.replace(/\/[0-9]+$/, '');
}

class NetboxReader {
  readonly devices = new Map<number, NbDevice>();
  readonly interfaces = new Map<number, NbInterface>();
  readonly links: { a: string; b: string; origin: string }[] = [];
  readonly endpoints = new Map<string, OutEndpoint>();
  private readonly usedAddresses = new Map<string, string>();
  private readonly names = new Set<string>();

  constructor(
    private readonly opts: NetboxOptions,
    private readonly bag: DiagnosticBag,
  ) {}

  private warn(o: NbObject, code: string, message: string, hint: string, node: YNode = o.map): void {
    this.bag.warning(code, message, o.src.span(node), hint);
  }

  device(o: NbObject): void {
    const id = num(o, 'id');
    const netboxName = text(o, 'name');
    if (id === undefined) {
      this.bag.error('missing-key', 'a device without "id"', o.span, 'valid: a device object of GET /api/dcim/devices/');
      return;
    }
    if (netboxName === undefined) {
      this.warn(o, 'unnamed-device', `device id ${id} has no name; it is not imported`, 'valid: name every device Weft manages');
      return;
    }
    const status = choice(o, 'status');
    if (status !== undefined && !this.opts.statuses.includes(status)) {
      this.warn(o, 'device-status', `device ${netboxName} is ${status}; it is not imported`, `valid: statuses ${this.opts.statuses.join(', ')} (the options file's "statuses")`, at(o, 'status'));
      return;
    }
    const role = text(o, 'role', 'slug') ?? text(o, 'device_role', 'slug');
    const tags = list(o, 'tags').map((t) => text(t, 'slug')).filter((t): t is string => t !== undefined);
    let mapping: RoleMapping | undefined = role === undefined ? undefined : this.opts.roles[role];
    const settings = tags.map((t) => this.opts.tags[t]).filter((s) => s !== undefined);
    for (const s of settings) if (s.kind) mapping = s.kind;
    if (mapping === undefined) {
      this.warn(o, 'unknown-role', `device ${netboxName}: role ${role ?? '(none)'} maps to no Weft kind; it is not imported`, 'valid: map the role in the options file (roles: {<slug>: host | switch | dpu | smartnic | endpoint | skip}) or tag the device weft-host / weft-switch', at(o, 'role') ?? at(o, 'device_role'));
      return;
    }
    if (mapping === 'skip') return;
    let name = safeName(netboxName);
    if (name !== netboxName) this.warn(o, 'renamed-device', `device "${netboxName}" is written as "${name}"`, 'valid Weft names: letters, digits, ".", "_" and "-"', at(o, 'name'));
    if (!NAME_RE.test(name) || this.names.has(name)) name = `${name || 'device'}-${id}`;
    this.names.add(name);
    const d: NbDevice = { id, netboxName, name, mapping, labels: {}, obj: o };
    for (const f of this.opts.labelFields) {
      const v = f === 'role' ? role : text(o, f, 'slug');
      if (v !== undefined) d.labels[f] = v;
    }
    Object.assign(d.labels, tagLabels(o));
    for (const s of settings) {
      if (s.pipeline) d.pipeline = s.pipeline;
      if (s.profile) d.profile = s.profile;
      if (s.agent !== undefined) d.agent = s.agent;
    }
    for (const f of this.opts.mgmtAddress) {
      const a = text(o, f, 'address');
      if (a !== undefined && parseIp(stripLength(a))) {
        d.mgmt = stripLength(a);
        break;
      }
    }
    d.attachedTo = text(o, 'parent_device', 'name') ?? text(o, 'custom_fields', 'weft_attached_to');
    this.devices.set(id, d);
  }

  interface(o: NbObject): void {
    const id = num(o, 'id');
    const devId = num(o, 'device', 'id');
    const name = text(o, 'name');
    if (id === undefined || devId === undefined || name === undefined) {
      this.bag.error('missing-key', 'an interface without id, device.id or name', o.span, 'valid: an interface object of GET /api/dcim/interfaces/');
      return;
    }
    const device = this.devices.get(devId);
    if (device) this.interfaces.set(id, { id, device, name, mgmtOnly: bool(o, 'mgmt_only') ?? false });
  }

  /** The interface ids of one cable end (NetBox 3.3+ terminations, or the older termination_a/_b). */
  private ends(o: NbObject, side: 'a' | 'b'): { ifaces: number[]; other: boolean } {
    const terms = list(o, `${side}_terminations`);
    if (terms.length) {
      const ifaces: number[] = [];
      let other = false;
      for (const t of terms) {
        if (text(t, 'object_type') !== 'dcim.interface') other = true;
        else {
          const id = num(t, 'object_id') ?? num(t, 'object', 'id');
          if (id !== undefined) ifaces.push(id);
        }
      }
      return { ifaces, other };
    }
    const type = text(o, `termination_${side}_type`);
    const id = num(o, `termination_${side}`, 'id') ?? num(o, `termination_${side}_id`);
    return type === 'dcim.interface' && id !== undefined ? { ifaces: [id], other: false } : { ifaces: [], other: type !== undefined };
  }

  cable(o: NbObject): { a: NbInterface; b: NbInterface } | undefined {
    const status = choice(o, 'status');
    const id = num(o, 'id') ?? '?';
    if (status !== undefined && status !== 'connected') {
      this.warn(o, 'cable-status', `cable ${id} is ${status}; it is not imported`, 'valid: connected cables', at(o, 'status'));
      return undefined;
    }
    const a = this.ends(o, 'a');
    const b = this.ends(o, 'b');
    if (a.other || b.other) return undefined; // power, console and circuit cables are not data links
    if (a.ifaces.length !== 1 || b.ifaces.length !== 1) {
      this.warn(o, 'cable-shape', `cable ${id} has ${a.ifaces.length} and ${b.ifaces.length} interfaces on its ends; it is not imported`, 'valid: one interface on each end (a breakout cable is one NetBox cable per lane)');
      return undefined;
    }
    const ia = this.interfaces.get(a.ifaces[0]);
    const ib = this.interfaces.get(b.ifaces[0]);
    // Cables to devices that are not imported (skipped roles, statuses) go with them.
    if (!ia || !ib || ia.mgmtOnly || ib.mgmtOnly) return undefined;
    return { a: ia, b: ib };
  }

  addCable(o: NbObject, c: { a: NbInterface; b: NbInterface }, attach: Map<number, { port: string; origin: string }>): void {
    const isEp = (i: NbInterface): boolean => i.device.mapping === 'endpoint';
    if (isEp(c.a) && isEp(c.b)) return;
    if (isEp(c.a) || isEp(c.b)) {
      const [ep, sw] = isEp(c.a) ? [c.a, c.b] : [c.b, c.a];
      if (sw.device.mapping !== 'switch') {
        this.warn(o, 'endpoint-not-on-switch', `cable ${num(o, 'id')}: endpoint device ${ep.device.name} plugs into ${sw.device.mapping} ${sw.device.name}, not a switch; the cable is not imported`, 'valid: unmanaged endpoints attach to switch ports');
        return;
      }
      attach.set(ep.id, { port: `${sw.device.name}:${sw.name}`, origin: `NetBox cable ${num(o, 'id')} at ${where(o)}` });
      return;
    }
    this.links.push({ a: `${c.a.device.name}:${c.a.name}`, b: `${c.b.device.name}:${c.b.name}`, origin: `NetBox cable ${num(o, 'id')} at ${where(o)}` });
  }

  address(o: NbObject, attach: Map<number, { port: string; origin: string }>): void {
    const addr = text(o, 'address');
    const type = text(o, 'assigned_object_type');
    if (addr === undefined || type === undefined) return;
    const ip = parseIp(stripLength(addr));
    if (!ip) {
      this.bag.error('bad-address', `IP address "${addr}" is not an address with a prefix length`, o.src.span(at(o, 'address')), 'valid: "10.0.1.11/24" or "fd00::11/64"');
      return;
    }
    if (type !== 'dcim.interface') {
      this.warn(o, 'unsupported-assignment', `IP address ${addr} is assigned to a ${type}; only device interfaces are imported`, 'valid: addresses on dcim.interface; virtual machines are not imported');
      return;
    }
    const iface = this.interfaces.get(num(o, 'assigned_object_id') ?? num(o, 'assigned_object', 'id') ?? -1);
    if (!iface) return; // on a device that is not imported
    const status = choice(o, 'status');
    const d = iface.device;
    const text4 = formatIp(ip.family, ip.value);
    if (iface.mgmtOnly || text4 === d.mgmt || (d.mapping !== 'host' && d.mapping !== 'endpoint')) return; // infrastructure, not a workload
    if (status !== undefined && !IP_STATUSES.includes(status)) {
      this.warn(o, 'address-status', `IP address ${addr} is ${status}; it is not imported`, `valid: statuses ${IP_STATUSES.join(', ')}`, at(o, 'status'));
      return;
    }
    const prev = this.usedAddresses.get(text4);
    if (prev) {
      this.warn(o, 'duplicate-address', `IP address ${addr} is also on ${prev}; only the first is imported`, 'valid: each workload address once (an anycast or VIP address is not a workload)');
      return;
    }
    let ep: OutEndpoint | undefined;
    if (d.mapping === 'host') {
      const name = safeName(`${d.name}-${iface.name}`);
      ep = this.endpoints.get(name) ?? { name, host: d.name, addresses: [], labels: { ...d.labels }, origins: [] };
    } else {
      const a = attach.get(iface.id);
      if (!a) {
        this.warn(o, 'endpoint-without-cable', `IP address ${addr} of endpoint device ${d.name} is on ${iface.name}, which has no cable to a switch; it is not imported`, 'valid: an endpoint device cabled to a switch port');
        return;
      }
      ep = this.endpoints.get(d.name) ?? { name: d.name, attach: a.port, addresses: [], labels: { ...d.labels }, origins: [a.origin] };
    }
    this.usedAddresses.set(text4, `${ep.name}`);
    ep.addresses.push(text4);
    Object.assign(ep.labels, tagLabels(o));
    ep.origins.push(`NetBox IP address ${addr} (id ${num(o, 'id')}) at ${where(o)}`);
    this.endpoints.set(ep.name, ep);
  }

  /** DPUs name the host they sit in front of by NetBox name; check and translate. */
  resolveDpus(): void {
    const byNetboxName = new Map([...this.devices.values()].map((d) => [d.netboxName, d]));
    for (const d of this.devices.values()) {
      if (d.mapping !== 'dpu' && d.mapping !== 'smartnic') continue;
      const host = d.attachedTo === undefined ? undefined : byNetboxName.get(d.attachedTo);
      if (!host || host.mapping !== 'host') {
        this.warn(d.obj, 'dpu-without-host', `${d.mapping} ${d.name}: ${d.attachedTo ? `parent "${d.attachedTo}" is not an imported host` : 'no parent device'}; it is not imported`, 'valid: install the DPU in a device bay of its host, or set the custom field weft_attached_to to the host\'s name');
        this.devices.delete(d.id);
        continue;
      }
      d.attachedTo = host.name;
    }
  }
}

function deviceEntry(d: NbDevice, opts: NetboxOptions): Record<string, unknown> {
  const kind = d.mapping as DeviceKind;
  const out: Record<string, unknown> = { name: d.name, kind };
  if (kind === 'switch') out.pipeline = d.pipeline ?? opts.defaultPipeline;
  if (kind === 'dpu' || kind === 'smartnic') {
    out.profile = d.profile ?? 'generic';
    out.attachedTo = d.attachedTo;
  }
  if (kind === 'host' && d.agent === false) out.agent = false;
  if (d.mgmt) out.mgmt = { address: d.mgmt };
  if (Object.keys(d.labels).length) out.labels = d.labels;
  return out;
}

export function importNetbox(dir: string, o: { optionsFile?: string; name?: string }): NetboxImport {
  const bag = new DiagnosticBag();
  const opts = loadNetboxOptions(o.optionsFile, bag);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) {
    bag.error('not-a-directory', `${dir} is not a directory`, { file: dir, line: 1, col: 1 }, 'valid: a directory with devices.json, interfaces.json, cables.json and ip-addresses.json (or directories of pages with those names)');
    bag.throwIfErrors();
  }
  const r = new NetboxReader(opts, bag);
  for (const d of readResource(dir, 'devices', bag, true)) r.device(d);
  r.resolveDpus();
  for (const i of readResource(dir, 'interfaces', bag, true)) r.interface(i);
  const attach = new Map<number, { port: string; origin: string }>();
  for (const c of readResource(dir, 'cables', bag, false)) {
    const ends = r.cable(c);
    if (ends) r.addCable(c, ends, attach);
  }
  for (const a of readResource(dir, 'ip-addresses', bag, false)) r.address(a, attach);
  bag.throwIfErrors();

  const devices = [...r.devices.values()].filter((d) => d.mapping !== 'endpoint');
  const endpoints = [...r.endpoints.values()];
  const doc = new Document(
    {
      apiVersion: WEFT_API_VERSION,
      kind: 'Fabric',
      metadata: { name: o.name ?? 'netbox' },
      spec: {
        devices: devices.map((d) => deviceEntry(d, opts)),
        links: r.links.map((l) => ({ endpoints: [l.a, l.b] })),
        endpoints: endpoints.map((e) => ({ name: e.name, ...(e.host ? { host: e.host } : {}), ...(e.attach ? { attach: e.attach } : {}), addresses: e.addresses, labels: e.labels })),
      },
    },
    { aliasDuplicateObjects: false },
  );
  doc.commentBefore = ` Imported from NetBox: ${dir}\n Generated by weft import netbox; the README section "Importing from Kubernetes, Cilium and NetBox" describes the mapping.`;
  const spec = doc.get('spec');
  const comment = (key: string, lines: string[][]): void => {
    const seq = isMap(spec) ? spec.get(key) : undefined;
    if (!isSeq(seq)) return;
    seq.items.forEach((item, i) => {
      if (!isMap(item)) return;
      item.commentBefore = lines[i].map((l) => ` ${l}`).join('\n');
      for (const p of item.items) {
        const v = p.value as { flow?: boolean } | null;
        if (v && (isMap(v) || isSeq(v))) v.flow = true;
      }
    });
  };
  comment('devices', devices.map((d) => [`NetBox device ${d.netboxName} (id ${d.id}) at ${where(d.obj)}`]));
  comment('links', r.links.map((l) => [l.origin]));
  comment('endpoints', endpoints.map((e) => e.origins));
  const textOut = doc.toString({ lineWidth: 0 });
  try {
    parseFabric(textOut, 'imported fabric');
  } catch (e) {
    if (e instanceof InputError) throw new Error(`internal: the imported fabric does not parse: ${e.message}`);
    throw e;
  }
  return { text: textOut, counts: { devices: devices.length, links: r.links.length, endpoints: endpoints.length }, warnings: bag.items.filter((d) => d.severity === 'warning') };
}
