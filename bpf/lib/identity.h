/* Address -> identity: a longest-prefix match done as one exact hash lookup
 * per prefix length present in this slot (weft_plen_v1), longest first; the
 * first hit is the longest match. The compiler resolved overlapping CIDRs,
 * except holes and endpoint addresses into these prefixes, so the datapath
 * never sees a group.
 *
 * Key: slot u8 | prefix length u8 | zero u16 | address masked to the prefix
 * (network order). */
#ifndef WEFT_IDENTITY_H
#define WEFT_IDENTITY_H

#include "maps.h"
#include "parse.h"

#include "records.h"

#define WEFT_ID4_MAX_LENS 33
#define WEFT_ID6_MAX_LENS 129

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct weft_id4_key);
	__type(value, struct weft_id_value);
} WEFT_MAP_ID4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct weft_id6_key);
	__type(value, struct weft_id_value);
} WEFT_MAP_ID6 SEC(".maps");

/* Network-order mask of the first `bits` bits of a 32-bit word (bits may be <= 0 or >= 32). */
static __always_inline __u32 weft_mask32(int bits)
{
	if (bits <= 0)
		return 0;
	if (bits >= 32)
		return 0xffffffff;
	return bpf_htonl(~((1U << (32 - bits)) - 1));
}

/* One bpf_loop step per prefix length: the verifier checks the step once,
 * instead of unrolling up to 129 lookups per address into the program. */
struct weft_id_search {
	__u32 addr[4];
	__u8 slot;
	__u8 family;
	__u8 found;
	__u8 pad;
	struct weft_id_value out;
};

static long weft_id_step(__u32 i, void *ctx)
{
	struct weft_id_search *s = ctx;
	struct weft_plens *pl = weft_plens(s->slot, s->family == 4 ? WEFT_PLEN_ID4 : WEFT_PLEN_ID6);
	struct weft_id_value *v;

	if (!pl || i >= pl->count)
		return 1;
	/* the mask keeps the index provably inside len[WEFT_PLEN_MAX = 256] */
	int len = pl->len[i & 0xff];

	if (s->family == 4) {
		struct weft_id4_key k = { .slot = s->slot, .plen = len, .addr = s->addr[0] & weft_mask32(len) };

		v = bpf_map_lookup_elem(&WEFT_MAP_ID4, &k);
	} else {
		struct weft_id6_key k = { .slot = s->slot, .plen = len };

		k.addr[0] = s->addr[0] & weft_mask32(len);
		k.addr[1] = s->addr[1] & weft_mask32(len - 32);
		k.addr[2] = s->addr[2] & weft_mask32(len - 64);
		k.addr[3] = s->addr[3] & weft_mask32(len - 96);
		v = bpf_map_lookup_elem(&WEFT_MAP_ID6, &k);
	}
	if (!v)
		return 0;
	s->out = *v;
	s->found = 1;
	return 1;
}

/* Unknown addresses (no prefix covers them) resolve to identity 0, not local. */
static __always_inline struct weft_id_value weft_identity(__u8 slot, __u8 family, const __u32 *addr)
{
	struct weft_id_search s = { .slot = slot, .family = family };

	__builtin_memcpy(s.addr, addr, 16);
	bpf_loop(family == 4 ? WEFT_ID4_MAX_LENS : WEFT_ID6_MAX_LENS, weft_id_step, &s, 0);
	return s.out;
}

#endif /* WEFT_IDENTITY_H */
