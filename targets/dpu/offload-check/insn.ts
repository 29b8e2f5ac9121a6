// eBPF instruction encoding (include/uapi/linux/bpf.h, bpf_common.h): the
// opcode fields the offload checker reads, and helper names for reports.

export const CLASS = { LD: 0, LDX: 1, ST: 2, STX: 3, ALU: 4, JMP: 5, JMP32: 6, ALU64: 7 } as const;
export const MODE = { MEM: 0x60, MEMSX: 0x80, ATOMIC: 0xc0 } as const;
export const ALU_OP = { ADD: 0x00, SUB: 0x10, MUL: 0x20, OR: 0x40, AND: 0x50, LSH: 0x60, RSH: 0x70, NEG: 0x80, XOR: 0xa0, MOV: 0xb0 } as const;
export const JMP_OP = { JA: 0x00, CALL: 0x80, EXIT: 0x90 } as const;
/** Atomic operation in the imm field of BPF_STX | BPF_ATOMIC. */
export const ATOMIC_ADD = 0x00;
export const LD_IMM64 = 0x18; // BPF_LD | BPF_IMM | BPF_DW
/** src_reg of a call to a BPF function rather than a helper. */
export const PSEUDO_CALL = 1;
export const REG_FP = 10;

export interface RawInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  /** ld_imm64 only: the upper half, from the second slot. */
  imm2?: number;
}

export const cls = (code: number): number => code & 0x07;
export const mode = (code: number): number => code & 0xe0;
export const op = (code: number): number => code & 0xf0;
export const srcIsReg = (code: number): boolean => (code & 0x08) !== 0;
/** Bytes moved by a load or store. */
export const accessSize = (code: number): number => [4, 2, 1, 8][(code >> 3) & 3];

export function isStore(i: RawInsn): boolean {
  return (cls(i.code) === CLASS.ST || cls(i.code) === CLASS.STX) && mode(i.code) === MODE.MEM;
}
export function isAtomic(i: RawInsn): boolean {
  return cls(i.code) === CLASS.STX && mode(i.code) === MODE.ATOMIC;
}
export function isLoad(i: RawInsn): boolean {
  return cls(i.code) === CLASS.LDX && (mode(i.code) === MODE.MEM || mode(i.code) === MODE.MEMSX);
}
export function isCall(i: RawInsn): boolean {
  return cls(i.code) === CLASS.JMP && op(i.code) === JMP_OP.CALL;
}
export function isExit(i: RawInsn): boolean {
  return cls(i.code) === CLASS.JMP && op(i.code) === JMP_OP.EXIT;
}
export function isJump(i: RawInsn): boolean {
  const c = cls(i.code);
  return (c === CLASS.JMP || c === CLASS.JMP32) && !isCall(i) && !isExit(i);
}

/** Decodes the 8-byte slot at `at` (ld_imm64 also reads the next slot). */
export function decode(bytes: Uint8Array, at: number): RawInsn {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, Math.min(16, bytes.length - at));
  const insn: RawInsn = {
    code: view.getUint8(0),
    dst: view.getUint8(1) & 0x0f,
    src: view.getUint8(1) >> 4,
    off: view.getInt16(2, true),
    imm: view.getInt32(4, true),
  };
  if (insn.code === LD_IMM64 && view.byteLength >= 16) insn.imm2 = view.getInt32(12, true);
  return insn;
}

/** Slots an instruction takes: ld_imm64 spans two. */
export const slots = (i: RawInsn): number => (i.code === LD_IMM64 ? 2 : 1);

// Helper names by id (__BPF_FUNC_MAPPER order); the ones an XDP or TC
// program meets. Others are reported by number.
const HELPERS_1_TO_70 = [
  'map_lookup_elem', 'map_update_elem', 'map_delete_elem', 'probe_read', 'ktime_get_ns', 'trace_printk',
  'get_prandom_u32', 'get_smp_processor_id', 'skb_store_bytes', 'l3_csum_replace', 'l4_csum_replace', 'tail_call',
  'clone_redirect', 'get_current_pid_tgid', 'get_current_uid_gid', 'get_current_comm', 'get_cgroup_classid',
  'skb_vlan_push', 'skb_vlan_pop', 'skb_get_tunnel_key', 'skb_set_tunnel_key', 'perf_event_read', 'redirect',
  'get_route_realm', 'perf_event_output', 'skb_load_bytes', 'get_stackid', 'csum_diff', 'skb_get_tunnel_opt',
  'skb_set_tunnel_opt', 'skb_change_proto', 'skb_change_type', 'skb_under_cgroup', 'get_hash_recalc',
  'get_current_task', 'probe_write_user', 'current_task_under_cgroup', 'skb_change_tail', 'skb_pull_data',
  'csum_update', 'set_hash_invalid', 'get_numa_node_id', 'skb_change_head', 'xdp_adjust_head', 'probe_read_str',
  'get_socket_cookie', 'get_socket_uid', 'set_hash', 'setsockopt', 'skb_adjust_room', 'redirect_map',
  'sk_redirect_map', 'sock_map_update', 'xdp_adjust_meta', 'perf_event_read_value', 'perf_prog_read_value',
  'getsockopt', 'override_return', 'sock_ops_cb_flags_set', 'msg_redirect_map', 'msg_apply_bytes',
  'msg_cork_bytes', 'msg_pull_data', 'bind', 'xdp_adjust_tail', 'skb_get_xfrm_state', 'get_stack',
  'skb_load_bytes_relative', 'fib_lookup', 'sock_hash_update',
];
export const HELPER_NAMES = new Map<number, string>([
  ...HELPERS_1_TO_70.map((name, i): [number, string] => [i + 1, name]),
  [130, 'ringbuf_output'],
  [131, 'ringbuf_reserve'],
  [132, 'ringbuf_submit'],
  [133, 'ringbuf_discard'],
  [152, 'redirect_neigh'],
  [155, 'redirect_peer'],
  [181, 'loop'],
  [189, 'xdp_load_bytes'],
  [190, 'xdp_store_bytes'],
]);

export function helperName(id: number): string {
  return HELPER_NAMES.get(id) ?? `helper#${id}`;
}

/** Helpers whose effect is an XDP_REDIRECT verdict. */
export const REDIRECT_HELPERS = new Set([23, 51, 152, 155]);
