// What one walk learns about one device, per transport, before devices are
// merged into a fabric: names, interfaces, addresses and LLDP neighbours as
// the device itself reports them.

/** LLDP system capabilities (LLDP-MIB LldpSystemCapabilitiesMap bit order). */
export const CAPABILITIES = ['other', 'repeater', 'bridge', 'wlan', 'router', 'telephone', 'docsis', 'station'] as const;
export type Capability = (typeof CAPABILITIES)[number];

export interface InterfaceFact {
  /** ifIndex (SNMP) or the kernel's ifindex (ip -j link). */
  index?: number;
  name: string;
  descr?: string;
  /** Lowercase colon-separated MAC, absent for interfaces without one. */
  mac?: string;
  up?: boolean;
}

/** LLDP port id subtypes (IEEE 802.1AB) that name an interface directly. */
export const PORT_ID_INTERFACE_NAME = 5;
export const PORT_ID_MAC = 3;
export const PORT_ID_LOCAL = 7;

export interface NeighbourFact {
  /** The local interface the neighbour was heard on. */
  localPort: string;
  sysName?: string;
  sysDescr?: string;
  portIdSubtype: number;
  /** Interface name, or a MAC (lowercase, colon-separated) when portIdSubtype is 3. */
  portId: string;
  portDesc?: string;
  mgmtAddresses: string[];
  capabilities?: Capability[];
}

export interface DeviceFacts {
  /** The address the device answered on. */
  address: string;
  via: ('snmp' | 'ssh')[];
  sysName?: string;
  sysDescr?: string;
  /** `hostname` over SSH. */
  hostname?: string;
  /** /etc/os-release over SSH: PRETTY_NAME, ID, ... */
  osRelease?: Record<string, string>;
  interfaces: InterfaceFact[];
  /** Every IP address configured on the device. */
  addresses: string[];
  neighbours: NeighbourFact[];
  /** Capabilities the device advertises itself (lldpLocSysCapEnabled). */
  capabilities?: Capability[];
  snmp?: { port: number };
  ssh?: { user: string; port: number; hostKey: string };
}

/** The LLDP-MIB BITS encoding: bit 0 is the most significant bit of the first octet. */
export function capabilitiesOf(bits: Buffer): Capability[] {
  return CAPABILITIES.filter((_, i) => i < bits.length * 8 && (bits[i >> 3] & (0x80 >> (i & 7))) !== 0);
}

export function formatMac(bytes: Buffer): string | undefined {
  if (bytes.length !== 6 || bytes.every((b) => b === 0)) return undefined;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** SNMP's view first (it carries LLDP); SSH adds the hostname, OS and what SNMP lacked. */
export function combineFacts(a: DeviceFacts | undefined, b: DeviceFacts | undefined): DeviceFacts {
  if (!a) return b as DeviceFacts;
  if (!b) return a;
  const names = new Set(a.interfaces.map((i) => i.name));
  return {
    ...b,
    ...a,
    via: [...new Set([...a.via, ...b.via])],
    hostname: b.hostname ?? a.hostname,
    osRelease: b.osRelease ?? a.osRelease,
    interfaces: [...a.interfaces, ...b.interfaces.filter((i) => !names.has(i.name))],
    addresses: [...new Set([...a.addresses, ...b.addresses])].sort(),
    neighbours: [...a.neighbours, ...b.neighbours],
    ...(a.ssh ?? b.ssh ? { ssh: a.ssh ?? b.ssh } : {}),
    ...(a.snmp ?? b.snmp ? { snmp: a.snmp ?? b.snmp } : {}),
  };
}
