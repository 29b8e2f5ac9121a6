// The SNMP walk of one device: SNMPv2-MIB system group, IF-MIB ifTable and
// ifXTable, IP-MIB ipAddrTable and ipAddressTable, and LLDP-MIB (local ports,
// remote systems and their management addresses), read with net-snmp over
// v2c or v3. Credentials go to net-snmp and nowhere else.

import snmp, { type Session, type Varbind } from 'net-snmp';
import { isIP } from 'node:net';
import { formatIp } from '../../orchestrator/net/ip.ts';
import type { SnmpCredentials } from './credentials.ts';
import { capabilitiesOf, formatMac, PORT_ID_INTERFACE_NAME, PORT_ID_LOCAL, PORT_ID_MAC, type DeviceFacts, type InterfaceFact, type NeighbourFact } from './facts.ts';

const OID = {
  sysDescr: '1.3.6.1.2.1.1.1.0',
  sysName: '1.3.6.1.2.1.1.5.0',
  ifEntry: '1.3.6.1.2.1.2.2.1',
  ifXEntry: '1.3.6.1.2.1.31.1.1.1',
  ipAddrEntry: '1.3.6.1.2.1.4.20.1',
  ipAddressEntry: '1.3.6.1.2.1.4.34.1',
  lldpLocSysCapEnabled: '1.0.8802.1.1.2.1.3.6.0',
  lldpLocPortEntry: '1.0.8802.1.1.2.1.3.7.1',
  lldpRemEntry: '1.0.8802.1.1.2.1.4.1.1',
  lldpRemManAddrEntry: '1.0.8802.1.1.2.1.4.2.1',
} as const;

/** Columns of the tables that the walk reads. */
const IF = { descr: 2, physAddress: 6, operStatus: 8 } as const;
const IFX_NAME = 1;
const IP_AD_ENT_IF_INDEX = 2;
const IP_ADDRESS_IF_INDEX = 3;
const REM_MAN_ADDR_IF_SUBTYPE = 3;
const REM = { portIdSubtype: 6, portId: 7, portDesc: 8, sysName: 9, sysDesc: 10, capEnabled: 12 } as const;
const LOC_PORT = { idSubtype: 2, id: 3, desc: 4 } as const;

export interface SnmpOptions {
  credentials: SnmpCredentials;
  port: number;
  timeoutMs: number;
  retries: number;
}

export class SnmpUnreachableError extends Error {
  constructor(address: string, cause: string) {
    super(`snmp ${address}: ${cause}`);
    this.name = 'SnmpUnreachableError';
  }
}

function openSession(address: string, o: SnmpOptions): Session {
  const options = { port: o.port, timeout: o.timeoutMs, retries: o.retries, transport: isIP(address) === 6 ? ('udp6' as const) : ('udp4' as const) };
  const c = o.credentials;
  if (c.version === '2c') return snmp.createSession(address, c.community.reveal(), { ...options, version: snmp.Version2c });
  const level = c.priv ? snmp.SecurityLevel.authPriv : c.auth ? snmp.SecurityLevel.authNoPriv : snmp.SecurityLevel.noAuthNoPriv;
  return snmp.createV3Session(
    address,
    {
      name: c.user,
      level,
      ...(c.auth ? { authProtocol: snmp.AuthProtocols[c.auth.protocol], authKey: c.auth.key.reveal() } : {}),
      ...(c.priv ? { privProtocol: snmp.PrivProtocols[c.priv.protocol], privKey: c.priv.key.reveal() } : {}),
    },
    options,
  );
}

/** One row of a walked table: the index after the column (as numbers) and the value. */
interface Cell {
  column: number;
  index: number[];
  value: unknown;
}

/** Walks a table entry, or one column of it (fewer requests when one column is all that is needed). */
function walk(session: Session, entry: string, onlyColumn?: number): Promise<Cell[]> {
  const base = onlyColumn === undefined ? entry : `${entry}.${onlyColumn}`;
  const prefix = `${entry}.`;
  const cells: Cell[] = [];
  return new Promise((resolve, reject) => {
    session.subtree(
      base,
      20,
      (vbs: Varbind[]) => {
        for (const vb of vbs) {
          if (snmp.isVarbindError(vb) || !vb.oid.startsWith(prefix)) continue;
          const [column, ...index] = vb.oid.slice(prefix.length).split('.').map(Number);
          cells.push({ column, index, value: vb.value });
        }
      },
      (err) => (err ? reject(err) : resolve(cells)),
    );
  });
}

function get(session: Session, oids: string[]): Promise<Map<string, unknown>> {
  return new Promise((resolve, reject) =>
    session.get(oids, (err, vbs) => {
      if (err) return reject(err);
      resolve(new Map(vbs.filter((vb) => !snmp.isVarbindError(vb)).map((vb) => [vb.oid, vb.value])));
    }),
  );
}

function text(v: unknown): string | undefined {
  if (Buffer.isBuffer(v)) return v.toString('utf8').replace(/\0+$/, '');
  return typeof v === 'string' ? v : undefined;
}

/** An InetAddress carried in an OID index: type (1 IPv4, 2 IPv6), length, bytes. */
function inetFromIndex(idx: number[]): { address: string; rest: number[] } | undefined {
  const [type, len, ...bytes] = idx;
  if ((type !== 1 && type !== 2) || len !== (type === 1 ? 4 : 16) || bytes.length < len) return undefined;
  const value = bytes.slice(0, len).reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
  return { address: formatIp(type === 1 ? 4 : 6, value), rest: bytes.slice(len) };
}

function byIndex<T>(cells: Cell[], column: number, f: (v: unknown) => T | undefined): Map<string, T> {
  const out = new Map<string, T>();
  for (const c of cells) {
    if (c.column !== column) continue;
    const v = f(c.value);
    if (v !== undefined) out.set(c.index.join('.'), v);
  }
  return out;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const buf = (v: unknown): Buffer | undefined => (Buffer.isBuffer(v) ? v : undefined);

/** Walks one device; rejects with SnmpUnreachableError when it does not answer sysName. */
export async function snmpFacts(address: string, o: SnmpOptions): Promise<DeviceFacts> {
  const session = openSession(address, o);
  // net-snmp reports socket errors on the session; each request also fails, which is what we report.
  session.on('error', () => undefined);
  try {
    let system: Map<string, unknown>;
    try {
      system = await get(session, [OID.sysDescr, OID.sysName, OID.lldpLocSysCapEnabled]);
    } catch (e) {
      throw new SnmpUnreachableError(address, e instanceof Error ? e.message : String(e));
    }
    const [ifEntry, ifName, ipAd, ipAddress, locPorts, rem, remMan] = [
      await walk(session, OID.ifEntry),
      await walk(session, OID.ifXEntry, IFX_NAME),
      await walk(session, OID.ipAddrEntry, IP_AD_ENT_IF_INDEX),
      await walk(session, OID.ipAddressEntry, IP_ADDRESS_IF_INDEX),
      await walk(session, OID.lldpLocPortEntry),
      await walk(session, OID.lldpRemEntry),
      await walk(session, OID.lldpRemManAddrEntry, REM_MAN_ADDR_IF_SUBTYPE),
    ];

    const names = byIndex(ifName, IFX_NAME, text);
    const descr = byIndex(ifEntry, IF.descr, text);
    const phys = byIndex(ifEntry, IF.physAddress, buf);
    const oper = byIndex(ifEntry, IF.operStatus, num);
    const interfaces: InterfaceFact[] = [...descr.keys()].map((i) => {
      const mac = phys.get(i) && formatMac(phys.get(i) as Buffer);
      return { index: Number(i), name: names.get(i) || (descr.get(i) as string), descr: descr.get(i), ...(mac ? { mac } : {}), up: oper.get(i) === 1 };
    });
    const ifByIndex = new Map(interfaces.map((i) => [String(i.index), i.name]));

    const addresses = new Set<string>();
    for (const c of ipAd) if (c.index.length === 4) addresses.add(c.index.join('.'));
    for (const c of ipAddress) {
      const a = inetFromIndex(c.index);
      if (a) addresses.add(a.address);
    }

    // lldpLocPortNum is usually the ifIndex; the port id names the interface when its subtype says so.
    const locSubtype = byIndex(locPorts, LOC_PORT.idSubtype, num);
    const locId = byIndex(locPorts, LOC_PORT.id, text);
    const locDesc = byIndex(locPorts, LOC_PORT.desc, text);
    const ifNames = new Set(interfaces.map((i) => i.name));
    const localPort = (portNum: string): string => {
      const id = locId.get(portNum);
      const st = locSubtype.get(portNum);
      if (id && (st === PORT_ID_INTERFACE_NAME || (st === PORT_ID_LOCAL && ifNames.has(id)))) return id;
      return ifByIndex.get(portNum) ?? locDesc.get(portNum) ?? id ?? `port${portNum}`;
    };

    // lldpRemEntry index: timeMark.localPortNum.remIndex
    const remKey = (idx: number[]): string => idx.slice(0, 3).join('.');
    const mgmt = new Map<string, string[]>();
    for (const c of remMan) {
      const a = inetFromIndex(c.index.slice(3));
      if (!a) continue;
      const k = remKey(c.index);
      mgmt.set(k, [...(mgmt.get(k) ?? []), a.address]);
    }
    const remSubtype = byIndex(rem, REM.portIdSubtype, num);
    const remPortIdRaw = byIndex(rem, REM.portId, buf);
    const remPortDesc = byIndex(rem, REM.portDesc, text);
    const remSysName = byIndex(rem, REM.sysName, text);
    const remSysDesc = byIndex(rem, REM.sysDesc, text);
    const remCaps = byIndex(rem, REM.capEnabled, buf);
    const neighbours: NeighbourFact[] = [...remSubtype.keys()].map((k) => {
      const subtype = remSubtype.get(k) as number;
      const raw = remPortIdRaw.get(k) ?? Buffer.alloc(0);
      const portId = subtype === PORT_ID_MAC ? (formatMac(raw) ?? raw.toString('hex')) : raw.toString('utf8');
      const n: NeighbourFact = { localPort: localPort(k.split('.')[1]), portIdSubtype: subtype, portId, mgmtAddresses: mgmt.get(k) ?? [] };
      if (remSysName.get(k)) n.sysName = remSysName.get(k);
      if (remSysDesc.get(k)) n.sysDescr = remSysDesc.get(k);
      if (remPortDesc.get(k)) n.portDesc = remPortDesc.get(k);
      const caps = remCaps.get(k);
      if (caps) n.capabilities = capabilitiesOf(caps);
      return n;
    });

    const facts: DeviceFacts = { address, via: ['snmp'], interfaces, addresses: [...addresses].sort(), neighbours, snmp: { port: o.port } };
    const sysName = text(system.get(OID.sysName));
    const sysDescr = text(system.get(OID.sysDescr));
    const caps = buf(system.get(OID.lldpLocSysCapEnabled));
    if (sysName) facts.sysName = sysName;
    if (sysDescr) facts.sysDescr = sysDescr;
    if (caps) facts.capabilities = capabilitiesOf(caps);
    return facts;
  } finally {
    session.close();
  }
}
