// DPU and SmartNIC profiles: the declared limits of each kind of NIC Weft
// offloads to. Codegen sizes its program and maps from them, the offload
// checker holds the built ELF against them, and placement reads which mode a
// profile can enforce. A new NIC family is one more entry here.

import type { DpuProfile } from '../../inventory/model.ts';
import type { EnforcementMode } from '../contract.ts';

/** BPF map types by their kernel number (include/uapi/linux/bpf.h, enum bpf_map_type). */
export const BPF_MAP_TYPE = {
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  RINGBUF: 27,
} as const;

/** Helper ids by their kernel number (include/uapi/linux/bpf.h, __BPF_FUNC_MAPPER). */
export const BPF_HELPER = {
  map_lookup_elem: 1,
  map_update_elem: 2,
  map_delete_elem: 3,
  ktime_get_ns: 5,
  get_prandom_u32: 7,
  tail_call: 12,
  perf_event_output: 25,
  xdp_adjust_head: 44,
  redirect_map: 51,
  xdp_adjust_tail: 65,
  loop: 181,
} as const;

/** XDP return codes (enum xdp_action). */
export const XDP_ACTION = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;

/** How the program reaches the NIC. */
export type AttachKind =
  /** XDP offloaded into the NIC (prog_ifindex/map_ifindex, XDP_FLAGS_HW_MODE). */
  | 'xdp-offload'
  /** XDP in the NIC driver on the host (no offload engine). */
  | 'xdp-native'
  /** The full Weft datapath on the DPU's own Linux, on its host-facing and uplink ports. */
  | 'dpu-linux';

export interface OffloadLimits {
  /** Map types the NIC can hold (BPF_MAP_TYPE values). */
  mapTypes: number[];
  /** Map flags the NIC accepts: any bit outside this mask is refused. */
  mapFlagsMask: number;
  /** Largest key + value, in bytes, of one map entry. */
  maxKeyPlusValue: number;
  /** Helpers a program may call (BPF_HELPER values). */
  helpers: number[];
  tailCalls: boolean;
  bpfToBpfCalls: boolean;
  /** Only atomic add may write map memory from the datapath. */
  onlyAtomicAddWrites: boolean;
  /** Stack offsets must be constants. */
  constantStackOffsets: boolean;
  maxStackBytes: number;
  /** Program length budget in BPF instructions (firmware-reported on real NICs). */
  maxInstructions: number;
  /** XDP return codes the program may produce. */
  returnCodes: number[];
  /** Programs that can be offloaded onto one port at once. */
  programsPerPort: number;
}

export interface ProfileSpec {
  name: DpuProfile;
  summary: string;
  attach: AttachKind;
  /** What the profile can enforce: a stateless NIC only prefilters. */
  modes: EnforcementMode[];
  /** Entries the NIC's maps can hold in all, unless the inventory's capacity says otherwise. */
  defaultEntries: number;
  /** Limits the built program must meet; undefined where the device runs a full kernel. */
  limits?: OffloadLimits;
  /** Rules the embedded switch takes in hardware (tc flower, skip_sw); undefined where there is none. */
  eswitchRules?: number;
}

// Each value as the Linux nfp driver enforces it (drivers/net/ethernet/
// netronome/nfp/bpf/). Where the firmware reports the figure, the value is
// the one Weft plans with.
const NFP_LIMITS: OffloadLimits = {
  // offload.c nfp_bpf_map_alloc: only types the firmware advertises, which
  // the kernel narrows to HASH and ARRAY (kernel/bpf/offload.c); a
  // PERF_EVENT_ARRAY is "offload neutral" and stays on the host
  // (offload.c nfp_map_ptrs_record), so perf_event_output has somewhere to go.
  mapTypes: [BPF_MAP_TYPE.HASH, BPF_MAP_TYPE.ARRAY, BPF_MAP_TYPE.PERF_EVENT_ARRAY],
  // offload.c nfp_bpf_map_alloc: "map flags are not supported" for any flag.
  mapFlagsMask: 0,
  // offload.c nfp_bpf_map_alloc: key and value, each rounded up to 8 bytes,
  // against the firmware's max_elem_sz (fw.h struct nfp_bpf_cap_tlv_maps).
  maxKeyPlusValue: 64,
  // verifier.c nfp_bpf_check_helper_call: these, each where the firmware has
  // it; map update and delete only where the firmware advertises them
  // (bpf->helpers.map_update / map_delete), so Weft plans without them.
  helpers: [
    BPF_HELPER.map_lookup_elem,
    BPF_HELPER.get_prandom_u32,
    BPF_HELPER.perf_event_output,
    BPF_HELPER.xdp_adjust_head,
    BPF_HELPER.xdp_adjust_tail,
  ],
  // verifier.c nfp_bpf_check_helper_call: bpf_tail_call is an unsupported function id.
  tailCalls: false,
  // jit.c bpf_to_bpf_call and verifier.c nfp_bpf_get_stack_usage.
  bpfToBpfCalls: true,
  // verifier.c nfp_bpf_check_ptr ("map writes not supported") and
  // nfp_bpf_check_atomic (BPF_ADD only, to a map value).
  onlyAtomicAddWrites: true,
  // verifier.c nfp_bpf_check_stack_access ("variable ptr stack access").
  constantStackOffsets: true,
  // verifier.c nfp_bpf_finalize: the call chain's frames against the
  // firmware's NFP_NET_CFG_BPF_STACK_SZ * 64; 512 is also the kernel's MAX_BPF_STACK.
  maxStackBytes: 512,
  // offload.c nfp_net_bpf_load: against the firmware's NFP_NET_CFG_BPF_MAX_LEN.
  maxInstructions: 4096,
  // jit.c nfp_outro_xdp: 0-3 (aborted, drop, pass, tx) are carried out; any
  // other value, XDP_REDIRECT included, is dropped as an abort.
  returnCodes: [XDP_ACTION.ABORTED, XDP_ACTION.DROP, XDP_ACTION.PASS, XDP_ACTION.TX],
  programsPerPort: 1,
};

export const PROFILES: Record<DpuProfile, ProfileSpec> = {
  nfp: {
    name: 'nfp',
    summary: 'XDP offloaded into the SmartNIC (Netronome NFP class): stateless prefilter within the offload limits',
    attach: 'xdp-offload',
    modes: ['prefilter'],
    defaultEntries: 16_384,
    limits: NFP_LIMITS,
  },
  generic: {
    name: 'generic',
    summary: 'native-mode XDP on a NIC without offload: the nfp program without its limits',
    attach: 'xdp-native',
    modes: ['prefilter'],
    defaultEntries: 1_048_576,
  },
  bluefield: {
    name: 'bluefield',
    summary: 'DPU with its own Linux (BlueField class): the full stateful datapath on its ports',
    attach: 'dpu-linux',
    modes: ['exact', 'prefilter'],
    defaultEntries: 1_048_576,
    eswitchRules: 4_096,
  },
};

export const PROFILE_NAMES = Object.keys(PROFILES) as DpuProfile[];

export function profileOf(name: DpuProfile): ProfileSpec {
  return PROFILES[name];
}
