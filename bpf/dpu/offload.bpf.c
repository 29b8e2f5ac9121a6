/* Weft DPU/SmartNIC prefilter: a stateless XDP program small enough for a
 * NIC's offload engine (Netronome NFP class: HASH and ARRAY maps with flags
 * 0, map lookups as the only helper, atomic add as the only datapath map
 * write, constant stack offsets, no loops, no tail calls). The host behind
 * the NIC (or the DPU's own datapath) still judges everything this passes;
 * this program only drops what the policy certainly denies.
 *
 * Built per device: targets/dpu/build.ts passes the prefix lengths the
 * device's share uses and its default verdict as -D constants, so every
 * lookup below is unrolled over exactly those lengths (no LPM trie, no
 * bpf_loop) and the object needs no .rodata map.
 *
 * Precedence (first row that applies decides):
 *   1. not IPv4 (ARP, IPv6, ...)                               -> pass
 *   2. malformed header, or a non-first fragment (no ports)    -> pass
 *   3. neither address is an endpoint behind this NIC          -> pass
 *   4. ICMP echo reply (it may answer an allowed echo request)  -> pass
 *   5. forward verdict allows                                  -> pass
 *   6. TCP with SYN set and ACK clear: it opens a connection,
 *      so it answers none                                      -> drop
 *   7. other tcp, or udp, whose reverse flow (ports swapped) is
 *      allowed: it may answer an allowed connection             -> pass
 *   8.                                                          -> drop
 * A verdict is, as on the host (bpf/lib/policy.h): the cell of (direction,
 * local identity, remote identity, protocol, port key) at the longest port
 * prefix present; else the same with WEFT_ANY_REMOTE; else the default.
 * Direction: egress when the source is local, else ingress.
 *
 * Keys and values have the host's layouts (targets/host/abi.ts), slot 0, so
 * the codegen writes the same record files. */

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include "../lib/abi.h"
#include "../lib/l2.h"
#include "../lib/proto.h"
#include "../lib/records.h"

/* Defaults build a valid object for tests and `make`; codegen always sets them. */
#ifndef WEFT_DPU_ID4_LENS
#define WEFT_DPU_ID4_LENS { 32, 0 }
#define WEFT_DPU_ID4_NLENS 2
#endif
#ifndef WEFT_DPU_PORT_LENS
#define WEFT_DPU_PORT_LENS { 16, 0 }
#define WEFT_DPU_PORT_NLENS 2
#endif
#ifndef WEFT_DPU_DEFAULT_VERDICT
#define WEFT_DPU_DEFAULT_VERDICT WEFT_VERDICT_DENY
#endif

#define WEFT_DPU_ECHO_REPLY 0
#define WEFT_DPU_ECHO_REPLY_V6 129
#define WEFT_DPU_TCP_SYN 0x02
#define WEFT_DPU_TCP_ACK 0x10

/* Counter slots of weft_dpu_counters_v1 (targets/dpu/abi.ts lists them in this order). */
enum weft_dpu_counter {
	WEFT_DPU_CNT_PASS_NOT_IPV4,
	WEFT_DPU_CNT_PASS_UNPARSED,
	WEFT_DPU_CNT_PASS_NOT_LOCAL,
	WEFT_DPU_CNT_PASS_ECHO_REPLY,
	WEFT_DPU_CNT_PASS_ALLOWED,
	WEFT_DPU_CNT_PASS_MAY_REPLY,
	WEFT_DPU_CNT_DROP,
	WEFT_DPU_CNT__MAX,
};

/* max_entries are set by the loader from maps.json; flags stay 0 (preallocated). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct weft_id4_key);
	__type(value, struct weft_id_value);
} weft_dpu_id4_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct weft_policy_key);
	__type(value, struct weft_policy_value);
} weft_dpu_policy_v1 SEC(".maps");

/* Drops per rule: index rule + 1; index 0 counts drops by the default action. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} weft_dpu_stats_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WEFT_DPU_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} weft_dpu_counters_v1 SEC(".maps");

/* What the prefilter reads of an IPv4 packet; ports in host order. */
struct weft_dpu_pkt {
	__u32 src; /* network order */
	__u32 dst;
	__u8 proto;
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 icmp_code;
	__u16 sport;
	__u16 dport;
};

enum weft_dpu_parse_result {
	WEFT_DPU_PARSED,
	WEFT_DPU_NOT_IPV4,
	WEFT_DPU_UNPARSED, /* truncated, or a non-first fragment */
};

/* Ethernet (up to two VLAN tags), IPv4 with options, and the L4 fields the verdict needs. */
static __always_inline int weft_dpu_parse(void *data, void *end, struct weft_dpu_pkt *p)
{
	void *l3;
	__be16 proto;

	switch (weft_l2(data, end, &l3, &proto)) {
	case WEFT_L2_SHORT:
		return WEFT_DPU_NOT_IPV4;
	case WEFT_L2_TRUNCATED:
		return WEFT_DPU_UNPARSED;
	}
	if (proto != bpf_htons(ETH_P_IP))
		return WEFT_DPU_NOT_IPV4;
	struct iphdr *ip = l3;

	if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl < 5)
		return WEFT_DPU_UNPARSED;
	if (bpf_ntohs(ip->frag_off) & 0x1fff)
		return WEFT_DPU_UNPARSED;
	p->src = ip->saddr;
	p->dst = ip->daddr;
	p->proto = ip->protocol;

	__u8 *l4 = l3 + ip->ihl * 4;

	if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
		/* TCP flags sit in byte 13; UDP needs its ports only */
		if ((void *)(l4 + (p->proto == IPPROTO_TCP ? 14 : 4)) > end)
			return WEFT_DPU_UNPARSED;
		p->sport = (__u16)l4[0] << 8 | l4[1];
		p->dport = (__u16)l4[2] << 8 | l4[3];
		if (p->proto == IPPROTO_TCP)
			p->tcp_flags = l4[13];
	} else if (p->proto == WEFT_ICMP || p->proto == WEFT_ICMPV6) {
		if ((void *)(l4 + 2) > end)
			return WEFT_DPU_UNPARSED;
		p->icmp_type = l4[0];
		p->icmp_code = l4[1];
	}
	return WEFT_DPU_PARSED;
}

static __always_inline void weft_dpu_add(void *map, __u32 index)
{
	__u64 *v = bpf_map_lookup_elem(map, &index);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline __u32 weft_dpu_mask(int bits)
{
	if (bits <= 0)
		return 0;
	if (bits >= 32)
		return 0xffffffff;
	return bpf_htonl(~((1U << (32 - bits)) - 1));
}

/* Longest prefix first; an address no prefix covers is identity 0, not local. */
static __always_inline struct weft_id_value weft_dpu_identity(__u32 addr)
{
	const __u8 lens[] = WEFT_DPU_ID4_LENS;
	struct weft_id_value none = {};

#pragma unroll
	for (int i = 0; i < WEFT_DPU_ID4_NLENS; i++) {
		struct weft_id4_key k = { .plen = lens[i], .addr = addr & weft_dpu_mask(lens[i]) };
		struct weft_id_value *v = bpf_map_lookup_elem(&weft_dpu_id4_v1, &k);

		if (v)
			return *v;
	}
	return none;
}

/* The cell for one remote at the longest port prefix present; 0 when none. */
static __always_inline int weft_dpu_cell(struct weft_policy_key *k, __u16 port, struct weft_policy_value *out)
{
	const __u8 lens[] = WEFT_DPU_PORT_LENS;

#pragma unroll
	for (int i = 0; i < WEFT_DPU_PORT_NLENS; i++) {
		__u16 mask = lens[i] >= 16 ? 0xffff : (__u16)~(0xffff >> lens[i]);
		struct weft_policy_value *v;

		k->plen = lens[i];
		k->port = bpf_htons(port & mask);
		v = bpf_map_lookup_elem(&weft_dpu_policy_v1, k);
		if (v) {
			*out = *v;
			return 1;
		}
	}
	return 0;
}

/* Verdict of (dir, local, remote, proto, port key); *rule is the stats index (rule + 1, 0: default). */
static __always_inline __u8 weft_dpu_verdict(__u8 dir, __u8 proto, __u32 local, __u32 remote, __u16 port, __u32 *rule)
{
	struct weft_policy_key k = {
		.dir = dir,
		.proto = proto,
		.local = bpf_htonl(local),
		.remote = bpf_htonl(remote),
	};
	struct weft_policy_value cell = {};

	if (weft_dpu_cell(&k, port, &cell)) {
		*rule = cell.rule + 1;
		return cell.verdict;
	}
	if (remote != WEFT_ANY_REMOTE) {
		k.remote = bpf_htonl(WEFT_ANY_REMOTE);
		if (weft_dpu_cell(&k, port, &cell)) {
			*rule = cell.rule + 1;
			return cell.verdict;
		}
	}
	*rule = 0;
	return WEFT_DPU_DEFAULT_VERDICT;
}

static __always_inline int weft_dpu_judge(void *data, void *end)
{
	struct weft_dpu_pkt f = {};

	switch (weft_dpu_parse(data, end, &f)) {
	case WEFT_DPU_NOT_IPV4:
		weft_dpu_add(&weft_dpu_counters_v1, WEFT_DPU_CNT_PASS_NOT_IPV4);
		return XDP_PASS;
	case WEFT_DPU_UNPARSED:
		weft_dpu_add(&weft_dpu_counters_v1, WEFT_DPU_CNT_PASS_UNPARSED);
		return XDP_PASS;
	default:
		break;
	}
	struct weft_id_value src = weft_dpu_identity(f.src);
	struct weft_id_value dst = weft_dpu_identity(f.dst);
	__u8 dir;
	__u32 local, remote;

	if (src.flags & WEFT_ID_FLAG_LOCAL) {
		dir = WEFT_DIR_EGRESS;
		local = src.id;
		remote = dst.id;
	} else if (dst.flags & WEFT_ID_FLAG_LOCAL) {
		dir = WEFT_DIR_INGRESS;
		local = dst.id;
		remote = src.id;
	} else {
		weft_dpu_add(&weft_dpu_counters_v1, WEFT_DPU_CNT_PASS_NOT_LOCAL);
		return XDP_PASS;
	}
	if ((f.proto == WEFT_ICMP && f.icmp_type == WEFT_DPU_ECHO_REPLY) ||
	    (f.proto == WEFT_ICMPV6 && f.icmp_type == WEFT_DPU_ECHO_REPLY_V6)) {
		weft_dpu_add(&weft_dpu_counters_v1, WEFT_DPU_CNT_PASS_ECHO_REPLY);
		return XDP_PASS;
	}
	__u8 proto = weft_ir_proto(f.proto);
	__u16 port = proto == WEFT_ICMP || proto == WEFT_ICMPV6 ? ((__u16)f.icmp_type << 8 | f.icmp_code)
		     : proto == WEFT_IR_PROTO_OTHER	       ? 0
							       : f.dport;
	__u32 rule, reverse_rule;

	if (weft_dpu_verdict(dir, proto, local, remote, port, &rule) == WEFT_VERDICT_ALLOW) {
		weft_dpu_add(&weft_dpu_counters_v1, WEFT_DPU_CNT_PASS_ALLOWED);
		return XDP_PASS;
	}
	int opens = proto == IPPROTO_TCP && (f.tcp_flags & (WEFT_DPU_TCP_SYN | WEFT_DPU_TCP_ACK)) == WEFT_DPU_TCP_SYN;

	if (!opens && (proto == IPPROTO_TCP || proto == IPPROTO_UDP) &&
	    weft_dpu_verdict(dir == WEFT_DIR_EGRESS ? WEFT_DIR_INGRESS : WEFT_DIR_EGRESS, proto, local, remote, f.sport,
			     &reverse_rule) == WEFT_VERDICT_ALLOW) {
		weft_dpu_add(&weft_dpu_counters_v1, WEFT_DPU_CNT_PASS_MAY_REPLY);
		return XDP_PASS;
	}
	weft_dpu_add(&weft_dpu_stats_v1, rule);
	weft_dpu_add(&weft_dpu_counters_v1, WEFT_DPU_CNT_DROP);
	return XDP_DROP;
}

SEC("xdp")
int weft_dpu_xdp(struct xdp_md *ctx)
{
	return weft_dpu_judge((void *)(long)ctx->data, (void *)(long)ctx->data_end);
}

char _license[] SEC("license") = "GPL";
