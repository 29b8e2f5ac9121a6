/* The failsafe allow list: (address, protocol, port) triples that always pass,
 * checked before anything else so a bad policy cannot lock out management SSH.
 * A packet matches when (dst, proto, dport) or (src, proto, sport) is listed:
 * the first is a connection to the service, the second its answer. */
#ifndef WEFT_FAILSAFE_H
#define WEFT_FAILSAFE_H

#include "maps.h"
#include "parse.h"

struct weft_failsafe_key {
	__u8 family;
	__u8 proto;
	__u16 port; /* host order */
	__u32 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct weft_failsafe_key);
	__type(value, __u32);
} WEFT_MAP_FAILSAFE SEC(".maps");

static __always_inline int weft_failsafe(const struct weft_flow *f)
{
	__u32 ck = WEFT_CTL_FAILSAFE_COUNT;
	__u32 *count = bpf_map_lookup_elem(&WEFT_MAP_CTL, &ck);

	/* Most hosts list nothing: one array read instead of two hash lookups. */
	if (!count || *count == 0)
		return 0;
	if (f->frag || (f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP))
		return 0;
	struct weft_failsafe_key k = { .family = f->family, .proto = f->proto, .port = f->dport };

	__builtin_memcpy(k.addr, f->dst, 16);
	if (bpf_map_lookup_elem(&WEFT_MAP_FAILSAFE, &k))
		return 1;
	k.port = f->sport;
	__builtin_memcpy(k.addr, f->src, 16);
	return bpf_map_lookup_elem(&WEFT_MAP_FAILSAFE, &k) != 0;
}

#endif /* WEFT_FAILSAFE_H */
