// The L2 stage of the reference pipeline (p4/weft.p4, after the ACL): the
// P4Runtime updates that fill weft_l2_fwd (exact destination MAC -> egress
// port) and the multicast group its default action floods to (every port;
// the egress drops the copy going back out of the ingress port). The lab
// builds the (mac, port) list from its topology; Weft's policy never touches
// this table.

import { P4INFO, type P4InfoObject } from './p4info.ts';
import { toBytes } from './entries.ts';

/** The multicast group flood() sets (WEFT_FLOOD_GROUP in p4/weft.p4). */
export const FLOOD_GROUP = 1;

export interface MacPort {
  /** "aa:bb:cc:dd:ee:ff" (case-insensitive; "-" also accepted as separator). */
  mac: string;
  /** P4 port number, 0-510. */
  port: number;
}

export interface ForwardingIds {
  tableId: number;
  dstMacFieldId: number;
  forwardId: number;
  portParamId: number;
}

/** P4Runtime proto3 JSON of the forwarding updates: table entries and the flood group. */
export type ForwardingUpdate =
  | {
      type: 'INSERT';
      entity: {
        tableEntry: {
          tableId: number;
          match: { fieldId: number; exact: { value: string } }[];
          action: { action: { actionId: number; params: { paramId: number; value: string }[] } };
        };
      };
    }
  | {
      type: 'INSERT';
      entity: { packetReplicationEngineEntry: { multicastGroupEntry: { multicastGroupId: number; replicas: { egressPort: number; instance: number }[] } } };
    };

/** Ids of weft_l2_fwd and its forward(port) action, or what the P4Info lacks. */
export function forwardingIds(info: P4InfoObject = P4INFO): ForwardingIds {
  const table = info.tables?.find((t) => t.preamble?.alias === 'weft_l2_fwd' || t.preamble?.name?.endsWith('.weft_l2_fwd'));
  const field = table?.matchFields?.find((f) => f.name === 'dst_mac');
  if (!table?.preamble?.id || !field?.id || field.matchType !== 'EXACT' || field.bitwidth !== 48) throw new Error('p4info: no table weft_l2_fwd with an exact 48-bit dst_mac key');
  const action = info.actions?.find((a) => a.preamble?.alias === 'forward' || a.preamble?.name?.endsWith('.forward'));
  const param = action?.params?.find((p) => p.name === 'port');
  if (!action?.preamble?.id || !param?.id) throw new Error('p4info: no action forward(port)');
  return { tableId: table.preamble.id, dstMacFieldId: field.id, forwardId: action.preamble.id, portParamId: param.id };
}

/** A MAC address as a 48-bit number, or an Error naming what is valid. */
export function parseMac(text: string): bigint {
  const m = /^([0-9a-f]{2})([:-][0-9a-f]{2}){5}$/i.exec(text);
  if (!m) throw new Error(`"${text}" is not a MAC address (valid: six hex pairs separated by ":" or "-", e.g. 02:42:ac:11:00:02)`);
  return BigInt(`0x${text.replace(/[:-]/g, '')}`);
}

/** An INSERT of one weft_l2_fwd entry: `mac` to `port`. */
function l2Entry(ids: ForwardingIds, mac: bigint, port: number): ForwardingUpdate {
  return {
    type: 'INSERT',
    entity: {
      tableEntry: {
        tableId: ids.tableId,
        match: [{ fieldId: ids.dstMacFieldId, exact: { value: toBytes(mac).toString('base64') } }],
        action: { action: { actionId: ids.forwardId, params: [{ paramId: ids.portParamId, value: toBytes(BigInt(port)).toString('base64') }] } },
      },
    },
  };
}

/** v1model's drop port: an egress_spec of 511 is dropped, as mark_to_drop does. */
export const DROP_PORT = 511;

/**
 * INSERT updates that keep the IEEE 802.1D reserved link-local group
 * addresses (01:80:c2:00:00:00 to :0f: STP, LACP, LLDP, 802.1X) on their
 * link, as a bridge must: the default action would flood them, and a
 * neighbour would then hear LLDP from nodes it is not linked to.
 */
export function linkLocalDropUpdates(ids: ForwardingIds = forwardingIds()): ForwardingUpdate[] {
  return Array.from({ length: 16 }, (_, i) => l2Entry(ids, 0x0180c2000000n + BigInt(i), DROP_PORT));
}

/**
 * INSERT updates for the forwarding stage: one weft_l2_fwd entry per MAC and
 * the flood group over `ports` (every port of the switch). Refuses a MAC that
 * is multicast/broadcast (those are flooded), a MAC given two different
 * ports, and a port outside 0-510.
 */
export function forwardingUpdates(hosts: MacPort[], ports: number[], ids: ForwardingIds = forwardingIds()): ForwardingUpdate[] {
  const checkPort = (p: number, what: string): void => {
    if (!Number.isInteger(p) || p < 0 || p > 510) throw new Error(`${what}: port ${p} outside 0-510 (v1model ports are 9 bits; 511 drops)`);
  };
  const byMac = new Map<bigint, MacPort>();
  for (const h of hosts) {
    const mac = parseMac(h.mac);
    checkPort(h.port, h.mac);
    if ((mac >> 40n) & 1n) throw new Error(`${h.mac}: a multicast or broadcast MAC is flooded, not forwarded to one port`);
    const seen = byMac.get(mac);
    if (seen && seen.port !== h.port) throw new Error(`${h.mac}: given two ports, ${seen.port} and ${h.port}`);
    byMac.set(mac, h);
  }
  for (const p of ports) checkPort(p, 'flood group');
  const updates: ForwardingUpdate[] = [...byMac].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([mac, h]) => l2Entry(ids, mac, h.port));
  const replicas = [...new Set(ports)].sort((a, b) => a - b).map((egressPort) => ({ egressPort, instance: 1 }));
  updates.push({ type: 'INSERT', entity: { packetReplicationEngineEntry: { multicastGroupEntry: { multicastGroupId: FLOOD_GROUP, replicas } } } });
  return updates;
}
