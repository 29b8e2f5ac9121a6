/* Counters, per CPU so the fast path never contends and never writes a
 * policy value: rule hits (slot * stride + rule + 1; + 0 for the default
 * action) and global event counters (enum weft_counter). */
#ifndef WEFT_STATS_H
#define WEFT_STATS_H

#include "maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} WEFT_MAP_STATS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WEFT_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} WEFT_MAP_COUNTERS SEC(".maps");

static __always_inline void weft_count(enum weft_counter c)
{
	__u32 k = c;
	__u64 *v = bpf_map_lookup_elem(&WEFT_MAP_COUNTERS, &k);

	if (v)
		*v += 1;
}

/* rule_plus_one: 0 for the default action, else IR rule index + 1. */
static __always_inline void weft_count_rule(__u8 slot, __u32 rule_plus_one)
{
	__u32 k = slot * weft_cfg.stats_stride + rule_plus_one;
	__u64 *v = bpf_map_lookup_elem(&WEFT_MAP_STATS, &k);

	if (v)
		*v += 1;
}

#endif /* WEFT_STATS_H */
