/* Address -> identity: a longest-prefix match done as one exact hash lookup
 * per prefix length present in this slot (weft_plen_v1), longest first; the
 * first hit is the longest match. The full length is tried first, alone, as
 * it answers for every local address. The compiler resolved overlapping CIDRs,
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
	__u32 table;   /* WEFT_PLEN_*: which lengths to try */
	int skip;      /* a length already tried without a hit, or -1 */
	int known_len; /* a length already tried with a hit (its value in out), or -1 */
	int hit_len;   /* out: the length of the hit, -1 for none */
	__u8 slot;
	__u8 family;
	__u16 pad;
	struct weft_id_value out;
};

static __always_inline struct weft_id_value *weft_id_at(__u8 slot, __u8 family, const __u32 *addr, int len)
{
	if (family == 4) {
		struct weft_id4_key k = { .slot = slot, .plen = len, .addr = addr[0] & weft_mask32(len) };

		return bpf_map_lookup_elem(&WEFT_MAP_ID4, &k);
	}
	struct weft_id6_key k = { .slot = slot, .plen = len };

	k.addr[0] = addr[0] & weft_mask32(len);
	k.addr[1] = addr[1] & weft_mask32(len - 32);
	k.addr[2] = addr[2] & weft_mask32(len - 64);
	k.addr[3] = addr[3] & weft_mask32(len - 96);
	return bpf_map_lookup_elem(&WEFT_MAP_ID6, &k);
}

static long weft_id_step(__u32 i, void *ctx)
{
	struct weft_id_search *s = ctx;
	struct weft_plens *pl = weft_plens(s->slot, s->table);
	struct weft_id_value *v;

	if (!pl || i >= pl->count)
		return 1;
	/* the mask keeps the index provably inside len[WEFT_PLEN_MAX = 256] */
	int len = pl->len[i & 0xff];

	if (len == s->skip)
		return 0;
	if (len == s->known_len) {
		s->hit_len = len;
		return 1;
	}
	v = weft_id_at(s->slot, s->family, s->addr, len);
	if (!v)
		return 0;
	s->out = *v;
	s->hit_len = len;
	return 1;
}

static __always_inline void weft_id_search_init(struct weft_id_search *s, __u8 slot, __u8 family, const __u32 *addr, __u32 table)
{
	__builtin_memset(s, 0, sizeof(*s));
	__builtin_memcpy(s->addr, addr, 16);
	s->slot = slot;
	s->family = family;
	s->table = table;
	s->skip = -1;
	s->known_len = -1;
	s->hit_len = -1;
}

/* Fills s->out with the first entry found at the lengths s->table lists,
 * longest first (identity 0 without flags when none). */
static __always_inline void weft_id_search(struct weft_id_search *s)
{
	bpf_loop(s->family == 4 ? WEFT_ID4_MAX_LENS : WEFT_ID6_MAX_LENS, weft_id_step, s, 0);
}

/* Unknown addresses (no prefix covers them) resolve to identity 0, not local.
 * A full-length entry is the longest match there is, so it is tried first
 * without the walk: a local address (WEFT_ID_FLAG_LOCAL is only ever on a
 * full-length entry) costs one lookup. `hint`, when not null, is an earlier
 * search of the same address over other lengths (weft_id_denied_ingress):
 * its hit, at a length the identity table also holds, is not looked up again. */
static __always_inline struct weft_id_value weft_identity(__u8 slot, __u8 family, const __u32 *addr, const struct weft_id_search *hint)
{
	int full = family == 4 ? 32 : 128;
	struct weft_id_search s;

	if (hint && hint->hit_len == full)
		return hint->out;
	struct weft_id_value *v = weft_id_at(slot, family, addr, full);

	if (v)
		return *v;
	weft_id_search_init(&s, slot, family, addr, family == 4 ? WEFT_PLEN_ID4 : WEFT_PLEN_ID6);
	s.skip = full;
	if (hint && hint->hit_len >= 0) {
		s.known_len = hint->hit_len;
		s.out = hint->out;
	}
	weft_id_search(&s);
	return s.out;
}

/* Whether the source's longest match is flagged WEFT_ID_FLAG_DENY_INGRESS,
 * looking only at the lengths where that flag changes (share.ts
 * dropLengths); *s keeps the search, a hint for weft_identity. The first
 * length, usually the only one, is looked up in line: the bpf_loop walk
 * (a call per step, the lengths re-read each step) costs more than the
 * lookup itself, so it only runs for the lengths after a miss. */
static __always_inline int weft_id_denied_ingress(struct weft_id_search *s, __u8 slot, __u8 family, const __u32 *addr)
{
	struct weft_plens *pl = weft_plens(slot, family == 4 ? WEFT_PLEN_DROP4 : WEFT_PLEN_DROP6);
	struct weft_id_value *v;

	weft_id_search_init(s, slot, family, addr, family == 4 ? WEFT_PLEN_DROP4 : WEFT_PLEN_DROP6);
	if (!pl || pl->count == 0)
		return 0;
	int first = pl->len[0];

	v = weft_id_at(slot, family, addr, first);
	if (v) {
		s->out = *v;
		s->hit_len = first;
	} else if (pl->count > 1) {
		s->skip = first;
		weft_id_search(s);
	}
	return (s->out.flags & WEFT_ID_FLAG_DENY_INGRESS) != 0;
}

#endif /* WEFT_IDENTITY_H */
