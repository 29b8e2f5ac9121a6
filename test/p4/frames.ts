// Ethernet frames for the packets the switch checks (SwitchPacket): IPv4 or
// IPv6 with TCP, UDP or ICMP/ICMPv6 headers as on the wire, each ending in an
// 8-byte marker ("WEFT" + a 32-bit number) so a capture tells which frame
// came out. bmv2 keeps the payload as it is, so the marker survives.

import type { SwitchPacket } from '../../targets/switch-common/index.ts';

const MARK = Buffer.from('WEFT');

function ipv4Checksum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += h.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function addressBytes(value: bigint, bytes: number): Buffer {
  return Buffer.from(value.toString(16).padStart(bytes * 2, '0'), 'hex');
}

function l4Header(p: SwitchPacket): Buffer {
  if (p.proto === 6) {
    const t = Buffer.alloc(20);
    t.writeUInt16BE(p.sport, 0);
    t.writeUInt16BE(p.dport, 2);
    t.writeUInt32BE(1, 4);
    t[12] = 5 << 4;
    t[13] = p.tcpFlags;
    t.writeUInt16BE(64240, 14);
    return t;
  }
  if (p.proto === 17) {
    const u = Buffer.alloc(8);
    u.writeUInt16BE(p.sport, 0);
    u.writeUInt16BE(p.dport, 2);
    u.writeUInt16BE(8 + MARK.length + 4, 4);
    return u;
  }
  if (p.proto === 1 || p.proto === 58) {
    const c = Buffer.alloc(8);
    c[0] = p.icmpType;
    c[1] = p.icmpCode;
    return c;
  }
  return Buffer.alloc(0);
}

/** Every test frame's destination MAC (its source is 02:00:00:00:00:01). */
export const FRAME_DST_MAC = '02:00:00:00:00:02';

/** The frame of `p` carrying marker `id` (a non-IP packet: Ethernet and the marker). */
export function frameOf(p: SwitchPacket, id: number): Buffer {
  const eth = Buffer.alloc(14);
  Buffer.from(FRAME_DST_MAC.replace(/:/g, ''), 'hex').copy(eth, 0);
  Buffer.from('020000000001', 'hex').copy(eth, 6);
  eth.writeUInt16BE(p.etherType, 12);
  const marker = Buffer.alloc(8);
  MARK.copy(marker, 0);
  marker.writeUInt32BE(id, 4);
  if (!p.src || !p.dst) return Buffer.concat([eth, marker]);
  const l4 = Buffer.concat([l4Header(p), marker]);
  if (p.src.family === 4) {
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + l4.length, 2);
    ip.writeUInt16BE(id & 0xffff, 4);
    ip[8] = 64;
    ip[9] = p.proto;
    addressBytes(p.src.value, 4).copy(ip, 12);
    addressBytes(p.dst.value, 4).copy(ip, 16);
    ip.writeUInt16BE(ipv4Checksum(ip), 10);
    return Buffer.concat([eth, ip, l4]);
  }
  const ip = Buffer.alloc(40);
  ip.writeUInt32BE(0x60000000, 0);
  ip.writeUInt16BE(l4.length, 4);
  ip[6] = p.proto;
  ip[7] = 64;
  addressBytes(p.src.value, 16).copy(ip, 8);
  addressBytes(p.dst.value, 16).copy(ip, 24);
  return Buffer.concat([eth, ip, l4]);
}

/** The marker a captured frame carries, or undefined for frames the test did not send. */
export function markerOf(frame: Buffer): number | undefined {
  if (frame.length < 8) return undefined;
  const tail = frame.subarray(frame.length - 8);
  return tail.subarray(0, 4).equals(MARK) ? tail.readUInt32BE(4) : undefined;
}
