/* The policy: one exact hash lookup per port-key prefix length present in
 * this slot (at most 17, longest first), keyed by (slot, direction, protocol,
 * local identity, remote identity, port key). The compiler turned each
 * cell's port range into a few prefixes of the 16-bit port key, and cells of
 * one (slot, dir, proto, local, remote) are disjoint, so at most one entry
 * can match a packet and the cost does not depend on the number of rules.
 *
 * Precedence (orchestrator/ir/share.ts), first row that matches decides:
 *   1. (local, remote, proto, port): a cell naming the remote identity
 *   2. (local, WEFT_ANY_REMOTE, proto, port): a cell valid for every remote
 *      without a cell of its own at that (proto, port); addresses of
 *      identities no cell of this host names resolve to WEFT_ANY_REMOTE, so
 *      for them row 1 is row 2 and is looked up once
 *   3. the slot's default action
 *
 * Key (WEFT_POLICY_KEY bytes, network order):
 *   byte 0      slot
 *   byte 1      direction (WEFT_DIR_EGRESS: local is the source,
 *                          WEFT_DIR_INGRESS: local is the destination)
 *   byte 2      IR protocol (1, 6, 17, 58; WEFT_IR_PROTO_OTHER for the rest)
 *   byte 3      port-key prefix length (0..16)
 *   bytes 4-7   local identity
 *   bytes 8-11  remote identity
 *   bytes 12-13 port key masked to the prefix: tcp/udp destination port;
 *               icmp (type << 8 | code); other 0
 *   bytes 14-15 zero */
#ifndef WEFT_POLICY_H
#define WEFT_POLICY_H

#include "maps.h"
#include "parse.h"
#include "records.h"

#define WEFT_PORT_MAX_LENS 17

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct weft_policy_key);
	__type(value, struct weft_policy_value);
} WEFT_MAP_POLICY SEC(".maps");

static __always_inline __u16 weft_port_key(const struct weft_flow *f)
{
	switch (f->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		return f->dport;
	case WEFT_ICMP:
	case WEFT_ICMPV6:
		return ((__u16)f->icmp_type << 8) | f->icmp_code;
	default:
		return 0;
	}
}

struct weft_policy_search {
	struct weft_policy_key k;
	__u16 port;
	__u8 found;
	__u8 from; /* first index of the lengths to walk (0 is looked up in line) */
	struct weft_policy_value out;
};

/* The cell at one port-key prefix length; the mask keeps the length in 0..31. */
static __always_inline struct weft_policy_value *weft_policy_at(struct weft_policy_key *k, __u16 port, __u8 len)
{
	len &= 31;
	__u16 mask = len >= 16 ? 0xffff : (__u16)~(0xffff >> len);

	k->plen = len;
	k->port = bpf_htons(port & mask);
	return bpf_map_lookup_elem(&WEFT_MAP_POLICY, k);
}

/* One bpf_loop step per prefix length (the index masked to stay inside len[WEFT_PLEN_MAX = 256]). */
static long weft_policy_step(__u32 i, void *ctx)
{
	struct weft_policy_search *s = ctx;
	struct weft_plens *pl = weft_plens(s->k.slot, WEFT_PLEN_POLICY);
	struct weft_policy_value *v;

	if (!pl || i >= pl->count)
		return 1;
	if (i < s->from)
		return 0;
	v = weft_policy_at(&s->k, s->port, pl->len[i & 0xff]);
	if (!v)
		return 0;
	s->out = *v;
	s->found = 1;
	return 1;
}

/* The longest port-key prefix first, in line: a bpf_loop walk (a call per
 * step, the lengths re-read each step) costs more than the lookup itself, so
 * it only runs over the lengths after a miss. Returns s->found. */
static __always_inline int weft_policy_walk(struct weft_policy_search *s)
{
	struct weft_plens *pl = weft_plens(s->k.slot, WEFT_PLEN_POLICY);
	struct weft_policy_value *v;

	if (!pl || pl->count == 0)
		return 0;
	v = weft_policy_at(&s->k, s->port, pl->len[0]);
	if (v) {
		s->out = *v;
		s->found = 1;
		return 1;
	}
	if (pl->count > 1) {
		s->from = 1;
		bpf_loop(WEFT_PORT_MAX_LENS, weft_policy_step, s, 0);
	}
	return s->found;
}

/* Fills *out and returns 1 when a cell matches; 0: the default action applies. */
static __always_inline int weft_policy_lookup(__u8 slot, __u8 dir, const struct weft_flow *f, __u32 local, __u32 remote,
					      struct weft_policy_value *out)
{
	struct weft_policy_search s = {
		.k = {
			.slot = slot,
			.dir = dir,
			.proto = weft_ir_proto(f->proto),
			.local = bpf_htonl(local),
			.remote = bpf_htonl(remote),
		},
		.port = weft_port_key(f),
	};

	if (!weft_policy_walk(&s) && remote != WEFT_ANY_REMOTE) {
		s.k.remote = bpf_htonl(WEFT_ANY_REMOTE);
		weft_policy_walk(&s);
	}
	*out = s.out;
	return s.found;
}

#endif /* WEFT_POLICY_H */
