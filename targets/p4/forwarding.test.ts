// The forwarding stage's updates: ids from the checked-in P4Info, canonical
// bytes, one entry per MAC, the flood group over every port (its id as in
// p4/weft.p4), link-local group addresses sent to the drop port, and clear
// refusals of bad input.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { DROP_PORT, FLOOD_GROUP, forwardingIds, forwardingUpdates, linkLocalDropUpdates, parseMac } from './forwarding.ts';
import { P4_SOURCE_PATH } from './p4info.ts';

describe('forwarding entries', () => {
  const ids = forwardingIds();

  it('reads the table and action ids from the P4Info', () => {
    expect(ids).toEqual({ tableId: 0x02000010, dstMacFieldId: 1, forwardId: 0x01000010, portParamId: 1 });
    expect(readFileSync(P4_SOURCE_PATH, 'utf8')).toMatch(new RegExp(`const bit<16> WEFT_FLOOD_GROUP = ${FLOOD_GROUP};`));
  });

  it('writes one exact entry per MAC, sorted, and the flood group over every port', () => {
    const updates = forwardingUpdates(
      [
        { mac: '02:00:00:00:00:0b', port: 2 },
        { mac: '02-00-00-00-00-0A', port: 1 },
        { mac: '02:00:00:00:00:0b', port: 2 },
      ],
      [3, 1, 2, 1],
    );
    expect(updates.length).toBe(3);
    const [a, b, flood] = updates;
    if (!('tableEntry' in a.entity) || !('tableEntry' in b.entity) || !('packetReplicationEngineEntry' in flood.entity)) throw new Error('wrong update kinds');
    expect(Buffer.from(a.entity.tableEntry.match[0].exact.value, 'base64').toString('hex')).toBe('02000000000a');
    expect(Buffer.from(a.entity.tableEntry.action.action.params[0].value, 'base64')).toEqual(Buffer.from([1]));
    expect(Buffer.from(b.entity.tableEntry.match[0].exact.value, 'base64').toString('hex')).toBe('02000000000b');
    expect(a.entity.tableEntry.tableId).toBe(ids.tableId);
    expect(flood.entity.packetReplicationEngineEntry.multicastGroupEntry).toEqual({
      multicastGroupId: FLOOD_GROUP,
      replicas: [1, 2, 3].map((egressPort) => ({ egressPort, instance: 1 })),
    });
  });

  it('refuses bad MACs, broadcast MACs, conflicting ports and ports out of range', () => {
    expect(() => parseMac('02:00:00:00:00')).toThrow(/not a MAC address \(valid: six hex pairs/);
    expect(parseMac('FF:ff:ff:ff:ff:ff')).toBe(0xffffffffffffn);
    expect(() => forwardingUpdates([{ mac: 'ff:ff:ff:ff:ff:ff', port: 1 }], [1])).toThrow(/multicast or broadcast MAC is flooded/);
    expect(() => forwardingUpdates([{ mac: '02:00:00:00:00:01', port: 1 }, { mac: '02:00:00:00:00:01', port: 2 }], [1, 2])).toThrow(/given two ports, 1 and 2/);
    expect(() => forwardingUpdates([{ mac: '02:00:00:00:00:01', port: 511 }], [1])).toThrow(/port 511 outside 0-510/);
    expect(() => forwardingUpdates([], [600])).toThrow(/flood group: port 600 outside 0-510/);
  });

  it('sends the 16 reserved link-local group addresses (LLDP, STP, ...) to the drop port', () => {
    const updates = linkLocalDropUpdates(ids);
    const macs = updates.map((u) => ('tableEntry' in u.entity ? Buffer.from(u.entity.tableEntry.match[0].exact.value, 'base64').toString('hex') : 'not a table entry'));
    expect(macs).toEqual(Array.from({ length: 16 }, (_, i) => `0180c20000${i.toString(16).padStart(2, '0')}`));
    const ports = updates.map((u) => ('tableEntry' in u.entity ? Buffer.from(u.entity.tableEntry.action.action.params[0].value, 'base64').readUIntBE(0, 2) : -1));
    expect(new Set(ports)).toEqual(new Set([DROP_PORT]));
  });
});
