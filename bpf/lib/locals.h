/* This host's endpoint addresses per slot, for the XDP stage: "is this
 * address local?" is asked of both addresses of every packet, and a hash-map
 * lookup (a call, jhash, a bucket walk) costs as much as the rest of an early
 * drop. Here it is an array read the verifier inlines, one hash multiply and
 * at most WEFT_LOCALS_WAYS compares. Layout: targets/host/abi.ts LOCALS_*;
 * the loader writes a slot's table with the slot's other maps. */
#ifndef WEFT_LOCALS_H
#define WEFT_LOCALS_H

#include "maps.h"

struct weft_locals_bucket {
	__u32 count; /* addresses in addr[], or WEFT_LOCALS_OVERFLOW */
	__u32 pad[3];
	__u32 addr[WEFT_LOCALS_WAYS][4];
};

struct weft_locals {
	struct weft_locals_bucket b[WEFT_LOCALS_BUCKETS];
};

_Static_assert(sizeof(struct weft_locals_bucket) == WEFT_LOCALS_BUCKET, "locals bucket layout");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4); /* slot * 2 + (IPv6) */
	__type(key, __u32);
	__type(value, struct weft_locals);
} WEFT_MAP_LOCALS SEC(".maps");

enum weft_local {
	WEFT_LOCAL_NO,
	WEFT_LOCAL_YES,
	WEFT_LOCAL_MAYBE, /* the bucket overflowed: ask the identity table */
};

static __always_inline enum weft_local weft_local(__u8 slot, __u8 family, const __u32 *addr)
{
	__u32 k = slot * 2 + (family == 6);
	struct weft_locals *t = bpf_map_lookup_elem(&WEFT_MAP_LOCALS, &k);

	if (!t)
		return WEFT_LOCAL_MAYBE;
	__u32 h = ((addr[0] ^ addr[1] ^ addr[2] ^ addr[3]) * 2654435761U) >> (32 - WEFT_LOCALS_BUCKET_BITS);
	struct weft_locals_bucket *b = &t->b[h & (WEFT_LOCALS_BUCKETS - 1)];
	__u32 n = b->count;

	if (n == WEFT_LOCALS_OVERFLOW)
		return WEFT_LOCAL_MAYBE;
#pragma unroll
	for (int i = 0; i < WEFT_LOCALS_WAYS; i++) {
		if (i < n && b->addr[i][0] == addr[0] && b->addr[i][1] == addr[1] && b->addr[i][2] == addr[2] && b->addr[i][3] == addr[3])
			return WEFT_LOCAL_YES;
	}
	return WEFT_LOCAL_NO;
}

#endif /* WEFT_LOCALS_H */
