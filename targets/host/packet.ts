// Ethernet frames for a Flow, as BPF_PROG_TEST_RUN feeds them to the host
// programs (verification and benchmark). Checksums are left zero: neither
// the kernel's test-run path nor the programs look at them.

import type { Flow } from '../../orchestrator/flow.ts';

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const IPV6_NO_NEXT = 59;

function l4(f: Flow): Buffer {
  if (f.proto === 6) {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(f.sport, 0);
    h.writeUInt16BE(f.dport, 2);
    h[12] = 5 << 4;
    h[13] = 0x02; // SYN
    return h;
  }
  if (f.proto === 17) {
    const h = Buffer.alloc(8);
    h.writeUInt16BE(f.sport, 0);
    h.writeUInt16BE(f.dport, 2);
    h.writeUInt16BE(8, 4);
    return h;
  }
  if (f.proto === 1 || f.proto === 58) {
    const h = Buffer.alloc(8);
    h[0] = f.icmpType ?? 0;
    h[1] = f.icmpCode ?? 0;
    h.writeUInt16BE(f.icmpId ?? 0, 4);
    return h;
  }
  return Buffer.alloc(8);
}

export function buildPacket(f: Flow, hopLimit = 64): Buffer {
  const eth = Buffer.alloc(14);
  eth.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]);
  let payload = l4(f);
  if (f.src.family === 4) {
    eth.writeUInt16BE(ETH_P_IP, 12);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + payload.length, 2);
    ip[8] = hopLimit;
    ip[9] = f.proto;
    ip.writeUInt32BE(Number(f.src.value), 12);
    ip.writeUInt32BE(Number(f.dst.value), 16);
    return Buffer.concat([eth, ip, payload]);
  }
  eth.writeUInt16BE(ETH_P_IPV6, 12);
  let next = f.proto;
  if (f.proto === 0) {
    // Next header 0 is a hop-by-hop options header, not a transport: carry
    // one (PadN only) followed by "no next header", which the datapath
    // classifies as an other-protocol packet just like protocol 0.
    payload = Buffer.from([IPV6_NO_NEXT, 0, 1, 4, 0, 0, 0, 0]);
    next = 0;
  }
  const ip6 = Buffer.alloc(40);
  ip6[0] = 0x60;
  ip6.writeUInt16BE(payload.length, 4);
  ip6[6] = next;
  ip6[7] = hopLimit;
  ip6.writeBigUInt64BE(f.src.value >> 64n, 8);
  ip6.writeBigUInt64BE(f.src.value & 0xffffffffffffffffn, 16);
  ip6.writeBigUInt64BE(f.dst.value >> 64n, 24);
  ip6.writeBigUInt64BE(f.dst.value & 0xffffffffffffffffn, 32);
  return Buffer.concat([eth, ip6, payload]);
}
