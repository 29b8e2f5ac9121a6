/* Counters, per CPU so the fast path never contends and never writes a
 * policy value: rule hits in packets and bytes (slot * stride + rule + 1;
 * + 0 for the default action) and global event counters (enum weft_counter).
 *
 * A rule hit counter carries the generation it counts for: the first hit in
 * a new generation restarts it, so switching slots never has to clear
 * counters (a cost that would grow with the number of rules). */
#ifndef WEFT_STATS_H
#define WEFT_STATS_H

#include "maps.h"

struct weft_rule_hits {
	__u64 count;
	__u64 bytes;
	__u32 generation;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct weft_rule_hits);
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
static __always_inline void weft_count_rule(const struct weft_slot *s, __u32 rule_plus_one, __u32 len)
{
	__u32 k = s->slot * weft_cfg.stats_stride + rule_plus_one;
	struct weft_rule_hits *v = bpf_map_lookup_elem(&WEFT_MAP_STATS, &k);

	if (!v)
		return;
	if (v->generation != s->generation) {
		v->generation = s->generation;
		v->count = 0;
		v->bytes = 0;
	}
	v->count += 1;
	v->bytes += len;
}

#endif /* WEFT_STATS_H */
