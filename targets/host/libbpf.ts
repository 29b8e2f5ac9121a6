// libbpf 1.1 (the system's libbpf.so.1) and the few libc calls the loader
// needs, bound through koffi. Thin: every function returns what libbpf does,
// and `check` turns a negative errno into an Error naming the call. Higher
// layers (loader.ts) own the kernel objects and their lifetimes.

import koffi from 'koffi';
import { logger } from '../../orchestrator/log.ts';

const log = logger('libbpf');

export const LIBBPF_PATH = 'libbpf.so.1';

const lib = koffi.load(LIBBPF_PATH);
const libc = koffi.load('libc.so.6');

export const BPF_ANY = 0;
export const BPF_TC_INGRESS = 1;
export const BPF_TC_EGRESS = 2;
export const BPF_TC_F_REPLACE = 1;
export const XDP_FLAGS_SKB_MODE = 2;
export const XDP_FLAGS_DRV_MODE = 4;
export const CLONE_NEWNET = 0x40000000;

const TcHook = koffi.struct('bpf_tc_hook', {
  sz: 'size_t',
  ifindex: 'int',
  attach_point: 'int',
  parent: 'uint32_t',
});
const TcOpts = koffi.struct('bpf_tc_opts', {
  sz: 'size_t',
  prog_fd: 'int',
  flags: 'uint32_t',
  prog_id: 'uint32_t',
  handle: 'uint32_t',
  priority: 'uint32_t',
});
const BatchOpts = koffi.struct('bpf_map_batch_opts', { sz: 'size_t', elem_flags: 'uint64_t', flags: 'uint64_t' });

export interface TcHookSpec {
  ifindex: number;
  attachPoint: number;
}

const PrintFn = koffi.proto('int weft_libbpf_print_fn(int level, const char *fmt, void *ap)');
const RingSampleFn = koffi.proto('int weft_ring_sample_fn(void *ctx, void *data, size_t size)');

const fn = {
  setPrint: lib.func('void *libbpf_set_print(weft_libbpf_print_fn *fn)'),
  openFile: lib.func('void *bpf_object__open_file(const char *path, void *opts)'),
  objectClose: lib.func('void bpf_object__close(void *obj)'),
  objectLoad: lib.func('int bpf_object__load(void *obj)'),
  findMap: lib.func('void *bpf_object__find_map_by_name(void *obj, const char *name)'),
  nextMap: lib.func('void *bpf_object__next_map(void *obj, void *map)'),
  mapName: lib.func('const char *bpf_map__name(void *map)'),
  mapSetMaxEntries: lib.func('int bpf_map__set_max_entries(void *map, uint32_t n)'),
  mapMaxEntries: lib.func('uint32_t bpf_map__max_entries(void *map)'),
  mapSetInitialValue: lib.func('int bpf_map__set_initial_value(void *map, const void *data, size_t size)'),
  mapReuseFd: lib.func('int bpf_map__reuse_fd(void *map, int fd)'),
  mapFd: lib.func('int bpf_map__fd(void *map)'),
  findProgram: lib.func('void *bpf_object__find_program_by_name(void *obj, const char *name)'),
  programFd: lib.func('int bpf_program__fd(void *prog)'),
  updateElem: lib.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
  lookupElem: lib.func('int bpf_map_lookup_elem(int fd, const void *key, _Out_ void *value)'),
  deleteElem: lib.func('int bpf_map_delete_elem(int fd, const void *key)'),
  getNextKey: lib.func('int bpf_map_get_next_key(int fd, const void *key, _Out_ void *next)'),
  updateBatch: lib.func('int bpf_map_update_batch(int fd, const void *keys, const void *values, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)'),
  objPin: lib.func('int bpf_obj_pin(int fd, const char *path)'),
  objGet: lib.func('int bpf_obj_get(const char *path)'),
  progGetFdById: lib.func('int bpf_prog_get_fd_by_id(uint32_t id)'),
  mapGetFdById: lib.func('int bpf_map_get_fd_by_id(uint32_t id)'),
  testRun: lib.func('int bpf_prog_test_run_opts(int fd, void *opts)'),
  tcHookCreate: lib.func('int bpf_tc_hook_create(bpf_tc_hook *hook)'),
  tcHookDestroy: lib.func('int bpf_tc_hook_destroy(bpf_tc_hook *hook)'),
  tcAttach: lib.func('int bpf_tc_attach(bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)'),
  tcDetach: lib.func('int bpf_tc_detach(bpf_tc_hook *hook, bpf_tc_opts *opts)'),
  tcQuery: lib.func('int bpf_tc_query(bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)'),
  xdpAttach: lib.func('int bpf_xdp_attach(int ifindex, int prog_fd, uint32_t flags, void *opts)'),
  xdpDetach: lib.func('int bpf_xdp_detach(int ifindex, uint32_t flags, void *opts)'),
  xdpQueryId: lib.func('int bpf_xdp_query_id(int ifindex, int flags, _Out_ uint32_t *id)'),
  ringNew: lib.func('void *ring_buffer__new(int map_fd, weft_ring_sample_fn *sample_cb, void *ctx, void *opts)'),
  ringPoll: lib.func('int ring_buffer__poll(void *rb, int timeout_ms)'),
  ringConsume: lib.func('int ring_buffer__consume(void *rb)'),
  ringFree: lib.func('void ring_buffer__free(void *rb)'),
  vsnprintf: libc.func('int vsnprintf(_Out_ uint8_t *buf, size_t n, const char *fmt, void *ap)'),
  close: libc.func('int close(int fd)'),
  setns: libc.func('int setns(int fd, int nstype)'),
  ifNameToIndex: libc.func('uint32_t if_nametoindex(const char *name)'),
  strerror: libc.func('const char *strerror(int errnum)'),
};

/** A libbpf call failed; `errno` is positive, as in errno.h. */
export class LibbpfError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
    detail?: string,
  ) {
    super(`${call}: ${fn.strerror(errno) as string} (errno ${errno})${detail ? `: ${detail}` : ''}`);
    this.name = 'LibbpfError';
  }
}

export function check(call: string, rc: number, detail?: string): number {
  if (rc < 0) throw new LibbpfError(call, -rc, detail);
  return rc;
}

// libbpf reports through one global print callback; the loader collects its
// lines (the verifier log among them) while it works and logs them at debug.
let capture: string[] | undefined;
// The verifier log arrives as one message of up to 16 MiB (libbpf's log buffer);
// a va_list can be formatted only once, so the buffer is that large from the start.
const printBuf = Buffer.allocUnsafeSlow(16 << 20);
const printCb = koffi.register(
  (level: number, fmt: string, ap: unknown) => {
    const n = fn.vsnprintf(printBuf, printBuf.length, fmt, ap) as number;
    const text = printBuf.subarray(0, Math.max(0, Math.min(n, printBuf.length - 1))).toString('utf8');
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      // While a caller collects the lines it reports them itself.
      if (capture) capture.push(line);
      if (level === 0 && !capture) log.warn({ libbpf: line });
      else log.debug({ libbpf: line });
    }
    return 0;
  },
  koffi.pointer(PrintFn),
);
fn.setPrint(printCb);

/** Runs `f` and returns its result with every line libbpf printed meanwhile. */
export function withLibbpfLog<T>(f: () => T): { result?: T; error?: unknown; lines: string[] } {
  const lines: string[] = [];
  const prev = capture;
  capture = lines;
  try {
    return { result: f(), lines };
  } catch (error) {
    return { error, lines };
  } finally {
    capture = prev;
  }
}

function errnoNow(): number {
  return koffi.errno() || 1;
}

export type Ptr = unknown;

export const libbpf = {
  openFile(path: string): Ptr {
    const obj = fn.openFile(path, null);
    if (!obj) throw new LibbpfError('bpf_object__open_file', errnoNow(), path);
    return obj;
  },
  close(obj: Ptr): void {
    fn.objectClose(obj);
  },
  load(obj: Ptr): void {
    check('bpf_object__load', fn.objectLoad(obj) as number);
  },
  findMap(obj: Ptr, name: string): Ptr {
    const m = fn.findMap(obj, name);
    if (!m) throw new Error(`object has no map ${name}`);
    return m;
  },
  /** The object's internal .rodata map (load-time settings). */
  rodataMap(obj: Ptr): Ptr {
    for (let m = fn.nextMap(obj, null); m; m = fn.nextMap(obj, m)) {
      if ((fn.mapName(m) as string).endsWith('.rodata')) return m;
    }
    throw new Error('object has no .rodata map');
  },
  setMaxEntries(map: Ptr, n: number): void {
    check('bpf_map__set_max_entries', fn.mapSetMaxEntries(map, n) as number);
  },
  maxEntries(map: Ptr): number {
    return fn.mapMaxEntries(map) as number;
  },
  setInitialValue(map: Ptr, data: Buffer): void {
    check('bpf_map__set_initial_value', fn.mapSetInitialValue(map, data, data.length) as number);
  },
  reuseFd(map: Ptr, fd: number): void {
    check('bpf_map__reuse_fd', fn.mapReuseFd(map, fd) as number);
  },
  mapFd(map: Ptr): number {
    return check('bpf_map__fd', fn.mapFd(map) as number);
  },
  programFd(obj: Ptr, name: string): number {
    const p = fn.findProgram(obj, name);
    if (!p) throw new Error(`object has no program ${name}`);
    return check('bpf_program__fd', fn.programFd(p) as number);
  },
  update(fd: number, key: Buffer, value: Buffer, flags = BPF_ANY): void {
    check('bpf_map_update_elem', fn.updateElem(fd, key, value, flags) as number);
  },
  /** False when the key is absent. */
  lookup(fd: number, key: Buffer, value: Buffer): boolean {
    const rc = fn.lookupElem(fd, key, value) as number;
    if (rc === -2) return false;
    check('bpf_map_lookup_elem', rc);
    return true;
  },
  /** False when the key was absent. */
  delete(fd: number, key: Buffer): boolean {
    const rc = fn.deleteElem(fd, key) as number;
    if (rc === -2) return false;
    check('bpf_map_delete_elem', rc);
    return true;
  },
  /** False at the end of the map. */
  nextKey(fd: number, key: Buffer | null, next: Buffer): boolean {
    const rc = fn.getNextKey(fd, key, next) as number;
    if (rc === -2) return false;
    check('bpf_map_get_next_key', rc);
    return true;
  },
  /** Returns false when the map type has no batch support (the caller falls back). */
  updateBatch(fd: number, keys: Buffer, values: Buffer, count: number): boolean {
    const n = [count];
    const rc = fn.updateBatch(fd, keys, values, n, { sz: koffi.sizeof(BatchOpts), elem_flags: 0, flags: 0 }) as number;
    if (rc === -22 || rc === -95 || rc === -524) return false; // EINVAL, EOPNOTSUPP, ENOTSUPP
    check('bpf_map_update_batch', rc);
    return true;
  },
  pin(fd: number, path: string): void {
    check('bpf_obj_pin', fn.objPin(fd, path) as number, path);
  },
  /** -errno when absent or not a bpf object. */
  objGet(path: string): number {
    return fn.objGet(path) as number;
  },
  progFdById(id: number): number {
    return check('bpf_prog_get_fd_by_id', fn.progGetFdById(id) as number);
  },
  mapFdById(id: number): number {
    return check('bpf_map_get_fd_by_id', fn.mapGetFdById(id) as number);
  },
  closeFd(fd: number): void {
    fn.close(fd);
  },
  /** Creates the clsact qdisc; false when it was already there. */
  tcHookCreate(h: TcHookSpec): boolean {
    // An existing qdisc is the normal case after the first apply; libbpf would print the kernel's refusal.
    const r = withLibbpfLog(() => fn.tcHookCreate({ sz: koffi.sizeof(TcHook), ifindex: h.ifindex, attach_point: h.attachPoint, parent: 0 }) as number);
    const rc = r.result ?? -1;
    if (rc === -17) return false; // EEXIST
    check('bpf_tc_hook_create', rc);
    return true;
  },
  /** Destroys the whole clsact qdisc (ingress and egress). */
  tcHookDestroy(ifindex: number): number {
    return fn.tcHookDestroy({ sz: koffi.sizeof(TcHook), ifindex, attach_point: BPF_TC_INGRESS | BPF_TC_EGRESS, parent: 0 }) as number;
  },
  /** Attaches (or atomically replaces) the filter at handle/priority; returns the prog id. */
  tcAttach(h: TcHookSpec, progFd: number, handle: number, priority: number): number {
    const opts = { sz: koffi.sizeof(TcOpts), prog_fd: progFd, flags: BPF_TC_F_REPLACE, prog_id: 0, handle, priority };
    check('bpf_tc_attach', fn.tcAttach({ sz: koffi.sizeof(TcHook), ifindex: h.ifindex, attach_point: h.attachPoint, parent: 0 }, opts) as number);
    return opts.prog_id;
  },
  tcDetach(h: TcHookSpec, handle: number, priority: number): number {
    return fn.tcDetach(
      { sz: koffi.sizeof(TcHook), ifindex: h.ifindex, attach_point: h.attachPoint, parent: 0 },
      { sz: koffi.sizeof(TcOpts), prog_fd: 0, flags: 0, prog_id: 0, handle, priority },
    ) as number;
  },
  /** The prog id at handle/priority, or 0 when nothing is attached there. */
  tcQuery(h: TcHookSpec, handle: number, priority: number): number {
    const opts = { sz: koffi.sizeof(TcOpts), prog_fd: 0, flags: 0, prog_id: 0, handle, priority };
    const rc = fn.tcQuery({ sz: koffi.sizeof(TcHook), ifindex: h.ifindex, attach_point: h.attachPoint, parent: 0 }, opts) as number;
    return rc < 0 ? 0 : opts.prog_id;
  },
  xdpAttach(ifindex: number, progFd: number, flags: number): number {
    return fn.xdpAttach(ifindex, progFd, flags, null) as number;
  },
  xdpDetach(ifindex: number, flags: number): number {
    return fn.xdpDetach(ifindex, flags, null) as number;
  },
  /** The attached XDP prog id for a mode (XDP_FLAGS_*), 0 when none. */
  xdpQueryId(ifindex: number, flags: number): number {
    const id = [0];
    const rc = fn.xdpQueryId(ifindex, flags, id) as number;
    return rc < 0 ? 0 : id[0];
  },
  setns(fd: number, nstype: number): void {
    const rc = fn.setns(fd, nstype) as number;
    if (rc < 0) throw new LibbpfError('setns', errnoNow());
  },
  ifIndex(name: string): number {
    return fn.ifNameToIndex(name) as number;
  },
};

/**
 * A consumer of one BPF ring buffer through libbpf's ring_buffer API, which
 * owns the mmapped ring and its memory ordering. Each record is copied into
 * a Buffer and handed to `onRecord` during poll/consume, on this thread.
 * A live handle: close() it.
 */
export class RingReader {
  private readonly rb: Ptr;
  private readonly cb: bigint;

  constructor(mapFd: number, onRecord: (record: Buffer) => void) {
    this.cb = koffi.register((_ctx: unknown, data: unknown, size: number | bigint) => {
      onRecord(Buffer.from(new Uint8Array(koffi.view(data, Number(size)))));
      return 0;
    }, koffi.pointer(RingSampleFn));
    this.rb = fn.ringNew(mapFd, this.cb, null, null);
    if (!this.rb) {
      koffi.unregister(this.cb);
      throw new LibbpfError('ring_buffer__new', errnoNow());
    }
  }

  /** Waits up to timeoutMs for records; returns how many were handed over. */
  poll(timeoutMs: number): number {
    const n = fn.ringPoll(this.rb, timeoutMs) as number;
    if (n === -4) return 0; // EINTR: a signal, not an error
    return check('ring_buffer__poll', n);
  }

  /** Hands over every record waiting now, without blocking. */
  consume(): number {
    return check('ring_buffer__consume', fn.ringConsume(this.rb) as number);
  }

  close(): void {
    fn.ringFree(this.rb);
    koffi.unregister(this.cb);
  }
}

/**
 * BPF_PROG_TEST_RUN with a reusable, pre-built options block: the verifier and
 * the benchmark run it hundreds of thousands of times.
 */
export class TestRunner {
  private readonly opts = Buffer.alloc(80);
  private readonly data: Buffer;

  constructor(
    private readonly progFd: number,
    maxPacket = 256,
  ) {
    this.data = Buffer.alloc(maxPacket);
    const o = this.opts;
    o.writeBigUInt64LE(80n, 0); // sz
    o.writeBigUInt64LE(koffi.address(this.data) as bigint, 8); // data_in
  }

  /** Runs the program `repeat` times on `packet`; returns its return value and mean ns per run. */
  run(packet: Buffer, repeat = 1): { retval: number; durationNs: number } {
    if (packet.length > this.data.length) throw new Error(`packet of ${packet.length} bytes exceeds ${this.data.length}`);
    packet.copy(this.data);
    const o = this.opts;
    o.writeUInt32LE(packet.length, 24); // data_size_in
    o.writeUInt32LE(0, 28); // data_size_out: the kernel writes the output length back here
    o.writeUInt32LE(0, 56); // retval
    o.writeInt32LE(repeat, 60); // repeat
    check('bpf_prog_test_run_opts', fn.testRun(this.progFd, o) as number);
    return { retval: o.readUInt32LE(56), durationNs: o.readUInt32LE(64) };
  }
}
