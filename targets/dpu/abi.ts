// The binary contract between the DPU prefilter (bpf/dpu/offload.bpf.c) and
// its TypeScript side. Keys and values of the identity and policy maps are
// the host's (targets/host/abi.ts, slot 0), so the host's encoders and record
// files serve both; only the map names, the program and the counters are the
// prefilter's own.

/** Maps of the prefilter object, by concern; the suffix is bumped whenever a layout changes. */
export const DPU_MAP = {
  id4: 'weft_dpu_id4_v1',
  policy: 'weft_dpu_policy_v1',
  stats: 'weft_dpu_stats_v1',
  counters: 'weft_dpu_counters_v1',
} as const;
export type DpuMapConcern = keyof typeof DPU_MAP;

export const DPU_PROG = 'weft_dpu_xdp';

/** Counter slots of weft_dpu_counters_v1, in the order of enum weft_dpu_counter. */
export const DPU_COUNTERS = ['pass_not_ipv4', 'pass_unparsed', 'pass_not_local', 'pass_echo_reply', 'pass_allowed', 'pass_may_reply', 'drop'] as const;

/** Counter and stats values are one u64 each (ARRAY maps, not per-CPU: the NIC has none). */
export const DPU_COUNTER_VALUE = 8;
