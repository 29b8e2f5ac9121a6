/* Connection tracking: an allowed new flow stores the key its replies will
 * carry; a packet whose own key is stored is a reply and passes. The map is
 * keyed by addresses, not identities, so it survives policy generations.
 *
 *   tcp/udp:        stored key = (dst, src, dport, sport) of the opener
 *   icmp echo:      request type 8 (icmpv6 128) stores (dst, src, id, 0);
 *                   a reply type 0 (icmpv6 129) looks up (src, dst, id, 0)
 *   anything else:  never tracked, never a reply
 *
 * Alongside, weft_ctremotes_v1 is a bit set over a hash of the address a
 * reply will come from, set (atomically, never cleared) whenever a
 * connection is tracked. A clear bit proves that no tracked connection can
 * have a reply from that address, in any generation: the early XDP stage
 * relies on it to drop without a conntrack lookup. It lives as long as the
 * conntrack map (a reload adopts both). */
#ifndef WEFT_CT_H
#define WEFT_CT_H

#include "maps.h"
#include "parse.h"

struct weft_ct_key {
	__u8 family;
	__u8 proto;
	__u16 sport;
	__u16 dport;
	__u16 pad;
	__u32 src[4];
	__u32 dst[4];
};

struct weft_ct_value {
	__u32 generation;
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct weft_ct_key);
	__type(value, struct weft_ct_value);
} WEFT_MAP_CT SEC(".maps");

#define WEFT_CT_REMOTE_WORDS 1024 /* 65,536 bits */

struct weft_ct_remotes {
	__u64 w[WEFT_CT_REMOTE_WORDS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct weft_ct_remotes);
} WEFT_MAP_CT_REMOTES SEC(".maps");

static __always_inline __u32 weft_ct_remote_hash(const __u32 *addr)
{
	__u32 x = addr[0] ^ addr[1] ^ addr[2] ^ addr[3];

	return (x * 2654435761U) >> 16; /* 16 bits: word (10) and bit (6) */
}

/* 1: a reply from this address may be tracked; 0: certainly not. */
static __always_inline int weft_ct_may_reply_from(const __u32 *addr)
{
	__u32 k = 0;
	struct weft_ct_remotes *r = bpf_map_lookup_elem(&WEFT_MAP_CT_REMOTES, &k);
	__u32 h = weft_ct_remote_hash(addr);

	if (!r)
		return 1;
	return (r->w[(h >> 6) & (WEFT_CT_REMOTE_WORDS - 1)] >> (h & 63)) & 1;
}

static __always_inline void weft_ct_note_remote(const __u32 *addr)
{
	__u32 k = 0;
	struct weft_ct_remotes *r = bpf_map_lookup_elem(&WEFT_MAP_CT_REMOTES, &k);
	__u32 h = weft_ct_remote_hash(addr);

	if (r)
		__sync_fetch_and_or(&r->w[(h >> 6) & (WEFT_CT_REMOTE_WORDS - 1)], 1ULL << (h & 63));
}

static __always_inline int weft_ct_echo_request(const struct weft_flow *f)
{
	return (f->proto == WEFT_ICMP && f->icmp_type == 8) || (f->proto == WEFT_ICMPV6 && f->icmp_type == 128);
}

static __always_inline int weft_ct_echo_reply(const struct weft_flow *f)
{
	return (f->proto == WEFT_ICMP && f->icmp_type == 0) || (f->proto == WEFT_ICMPV6 && f->icmp_type == 129);
}

static __always_inline int weft_ct_is_reply(const struct weft_flow *f)
{
	struct weft_ct_key k = { .family = f->family, .proto = f->proto };

	if (f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP) {
		k.sport = f->sport;
		k.dport = f->dport;
	} else if (weft_ct_echo_reply(f)) {
		k.sport = f->icmp_id;
	} else {
		return 0;
	}
	__builtin_memcpy(k.src, f->src, 16);
	__builtin_memcpy(k.dst, f->dst, 16);
	return bpf_map_lookup_elem(&WEFT_MAP_CT, &k) != 0;
}

/* Returns 0 when tracked (or nothing to track), -1 when the table refused. */
static __always_inline int weft_ct_track(const struct weft_flow *f, __u32 generation)
{
	struct weft_ct_key k = { .family = f->family, .proto = f->proto };
	struct weft_ct_value v = { .generation = generation };

	if (f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP) {
		k.sport = f->dport;
		k.dport = f->sport;
	} else if (weft_ct_echo_request(f)) {
		k.sport = f->icmp_id;
	} else {
		return 0;
	}
	__builtin_memcpy(k.src, f->dst, 16);
	__builtin_memcpy(k.dst, f->src, 16);
	/* Noted before the entry exists: a reply never finds an entry whose bit is clear. */
	weft_ct_note_remote(k.src);
	/* Existing entries are left alone: the fast path writes only new ones. */
	if (bpf_map_lookup_elem(&WEFT_MAP_CT, &k))
		return 0;
	return bpf_map_update_elem(&WEFT_MAP_CT, &k, &v, BPF_NOEXIST) == 0 ? 0 : -1;
}

#endif /* WEFT_CT_H */
