/* Shared map plumbing: the control array (active slot, generation, default
 * verdicts) and the load-time settings. Every other header declares its own
 * maps next to the code using them. */
#ifndef WEFT_MAPS_H
#define WEFT_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "abi.h"

/* Set by the loader before load (bpf_map__set_initial_value on .rodata). */
struct weft_cfg {
	__u32 stats_stride; /* rule counters per slot: rules + 1 */
	__u32 seen_mark;    /* skb mark bit of an already judged packet; 0: off */
	__u32 log_rate;     /* flow log events per second, per CPU */
	__u32 log_burst;    /* flow log events a CPU may emit at once after a quiet spell */
};

const volatile struct weft_cfg weft_cfg = {
	.stats_stride = 1,
	.seen_mark = WEFT_DEFAULT_SEEN_MARK,
	.log_rate = 100,
	.log_burst = 100,
};

/* u32 slots, see WEFT_CTL_*: the loader fills the inactive slot's entries
 * of every map, then flips WEFT_CTL_ACTIVE_SLOT in one 4-byte update, so a
 * packet reads the slot once and sees one generation throughout. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WEFT_CTL_ENTRIES);
	__type(key, __u32);
	__type(value, __u32);
} WEFT_MAP_CTL SEC(".maps");

/* Prefix lengths present per slot and table (WEFT_PLEN_*), longest first:
 * the longest-prefix lookups try exactly these, so their cost follows the
 * number of distinct lengths, not the number of entries. */
struct weft_plens {
	__u32 count;
	__u8 len[WEFT_PLEN_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * WEFT_PLEN_TABLES);
	__type(key, __u32);
	__type(value, struct weft_plens);
} WEFT_MAP_PLEN SEC(".maps");

static __always_inline struct weft_plens *weft_plens(__u8 slot, __u32 table)
{
	__u32 k = slot * WEFT_PLEN_TABLES + table;

	return bpf_map_lookup_elem(&WEFT_MAP_PLEN, &k);
}

struct weft_slot {
	__u32 generation; /* recorded in conntrack entries, for status */
	__u8 slot;        /* 0 or 1 */
	__u8 deflt;       /* WEFT_VERDICT_* when no cell matches */
};

static __always_inline int weft_slot_read(struct weft_slot *s)
{
	__u32 k = WEFT_CTL_ACTIVE_SLOT;
	__u32 *v = bpf_map_lookup_elem(&WEFT_MAP_CTL, &k);

	if (!v)
		return -1;
	s->slot = *v & 1;
	k = WEFT_CTL_DEFAULT_SLOT0 + s->slot;
	v = bpf_map_lookup_elem(&WEFT_MAP_CTL, &k);
	if (!v)
		return -1;
	s->deflt = *v;
	k = WEFT_CTL_GENERATION;
	v = bpf_map_lookup_elem(&WEFT_MAP_CTL, &k);
	if (!v)
		return -1;
	s->generation = *v;
	return 0;
}

#endif /* WEFT_MAPS_H */
