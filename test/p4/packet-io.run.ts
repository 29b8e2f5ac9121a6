// Runs inside a test namespace (ip netns exec): sends raw Ethernet frames
// with AF_PACKET sockets and captures what comes out of one interface.
// Input on stdin, one JSON object:
//   {"capture": "p0", "send": [{"iface": "p1", "frames": ["<base64>", ...]}], "settleMs": 500}
// Output on stdout: {"captured": ["<base64>", ...]} — every frame received on
// the capture interface from before the first send until no frame has
// arrived for settleMs. Sends are paced so the switch's queues never drop.

import koffi from 'koffi';

const AF_PACKET = 17;
const SOCK_RAW = 3;
const ETH_P_ALL_BE = 0x0300; // htons(ETH_P_ALL = 3)
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const MSG_DONTWAIT = 0x40;
const PACKET_OUTGOING = 4;

const libc = koffi.load('libc.so.6');
const socket = libc.func('int socket(int domain, int type, int protocol)') as (d: number, t: number, p: number) => number;
const bind = libc.func('int bind(int fd, const void *addr, uint32_t len)') as (fd: number, a: Buffer, l: number) => number;
const send = libc.func('long send(int fd, const void *buf, size_t len, int flags)') as (fd: number, b: Buffer, l: number, f: number) => number;
const recvfrom = libc.func('long recvfrom(int fd, _Out_ void *buf, size_t len, int flags, _Out_ void *addr, _Inout_ uint32_t *alen)') as (
  fd: number,
  b: Buffer,
  l: number,
  f: number,
  a: Buffer,
  alen: number[],
) => number;
const setsockopt = libc.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)') as (fd: number, l: number, n: number, v: Buffer, len: number) => number;
const ifNameToIndex = libc.func('uint32_t if_nametoindex(const char *name)') as (n: string) => number;
const close = libc.func('int close(int fd)') as (fd: number) => number;

function open(iface: string): number {
  const index = ifNameToIndex(iface);
  if (!index) throw new Error(`no interface ${iface}`);
  const fd = socket(AF_PACKET, SOCK_RAW, ETH_P_ALL_BE);
  if (fd < 0) throw new Error('socket(AF_PACKET) failed (needs root)');
  const size = Buffer.alloc(4);
  size.writeInt32LE(8 * 1024 * 1024);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size, 4);
  const sll = Buffer.alloc(20);
  sll.writeUInt16LE(AF_PACKET, 0);
  sll.writeUInt16LE(ETH_P_ALL_BE, 2);
  sll.writeInt32LE(index, 4);
  if (bind(fd, sll, sll.length) !== 0) throw new Error(`bind to ${iface} failed`);
  return fd;
}

/** Every frame waiting on `fd`, leaving out the ones this host sent. */
function drain(fd: number, into: string[]): number {
  const buf = Buffer.alloc(9216);
  const addr = Buffer.alloc(20);
  let n = 0;
  for (;;) {
    const len = recvfrom(fd, buf, buf.length, MSG_DONTWAIT, addr, [addr.length]);
    if (len <= 0) return n;
    // sockaddr_ll.sll_pkttype at byte 10.
    if (addr[10] === PACKET_OUTGOING) continue;
    into.push(Buffer.from(buf.subarray(0, len)).toString('base64'));
    n++;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const req = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { capture: string; send: { iface: string; frames: string[] }[]; settleMs?: number; burst?: number };
  const cap = open(req.capture);
  const captured: string[] = [];
  drain(cap, []);
  const burst = req.burst ?? 8;
  for (const s of req.send) {
    const fd = open(s.iface);
    for (let i = 0; i < s.frames.length; i++) {
      const f = Buffer.from(s.frames[i], 'base64');
      if (send(fd, f, f.length, 0) !== f.length) throw new Error(`send on ${s.iface} failed`);
      if (i % burst === burst - 1) {
        await sleep(10);
        drain(cap, captured);
      }
    }
    close(fd);
  }
  const settle = req.settleMs ?? 500;
  let quietSince = Date.now();
  while (Date.now() - quietSince < settle) {
    if (drain(cap, captured) > 0) quietSince = Date.now();
    await sleep(20);
  }
  close(cap);
  process.stdout.write(JSON.stringify({ captured }));
}

main().catch((e: unknown) => {
  process.stderr.write(`packet-io: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
});
