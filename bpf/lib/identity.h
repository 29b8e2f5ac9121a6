/* Address -> identity: one longest-prefix lookup per address in a per-family
 * trie. The compiler resolved overlapping CIDRs, except holes and endpoint
 * addresses into these prefixes, so the datapath never sees a group.
 *
 * Key (WEFT_ID{4,6}_DATA bytes after prefixlen): slot u8, 3 zero bytes, the
 * address in network order. prefixlen = WEFT_ID_PREFIX_BASE + address bits,
 * so an entry only ever matches lookups of its own slot. */
#ifndef WEFT_IDENTITY_H
#define WEFT_IDENTITY_H

#include "maps.h"
#include "parse.h"

struct weft_id4_key {
	__u32 prefixlen;
	__u8 slot;
	__u8 zero[3];
	__u32 addr;
};

struct weft_id6_key {
	__u32 prefixlen;
	__u8 slot;
	__u8 zero[3];
	__u32 addr[4];
};

struct weft_id_value {
	__u32 id;    /* identity; 0: no cell of this host involves it */
	__u32 flags; /* WEFT_ID_FLAG_LOCAL: an address of this host's endpoints */
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct weft_id4_key);
	__type(value, struct weft_id_value);
} WEFT_MAP_ID4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct weft_id6_key);
	__type(value, struct weft_id_value);
} WEFT_MAP_ID6 SEC(".maps");

/* Unknown addresses (empty tables) resolve to identity 0, not local. */
static __always_inline struct weft_id_value weft_identity(__u8 slot, __u8 family, const __u32 *addr)
{
	struct weft_id_value out = {};
	struct weft_id_value *v;

	if (family == 4) {
		struct weft_id4_key k = { .prefixlen = WEFT_ID_PREFIX_BASE + 32, .slot = slot, .addr = addr[0] };

		v = bpf_map_lookup_elem(&WEFT_MAP_ID4, &k);
	} else {
		struct weft_id6_key k = { .prefixlen = WEFT_ID_PREFIX_BASE + 128, .slot = slot };

		__builtin_memcpy(k.addr, addr, 16);
		v = bpf_map_lookup_elem(&WEFT_MAP_ID6, &k);
	}
	if (v)
		out = *v;
	return out;
}

#endif /* WEFT_IDENTITY_H */
