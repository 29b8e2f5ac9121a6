/* Packet parsing: Ethernet (up to two VLAN tags), IPv4 (options), IPv6 (a
 * bounded walk over extension headers), and the L4 fields the policy and
 * conntrack need. */
#ifndef WEFT_PARSE_H
#define WEFT_PARSE_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include "ctx.h"
#include "l2.h"
#include "proto.h"

enum weft_parse_result {
	WEFT_PARSE_OK = 0,
	WEFT_PARSE_NOT_IP,    /* ARP, LLDP, ...: not the policy's business */
	WEFT_PARSE_MALFORMED, /* truncated or inconsistent IP/L4 header */
};

struct weft_flow {
	__u32 src[4]; /* network order; IPv4 in src[0] */
	__u32 dst[4];
	__u8 family;  /* 4 or 6 */
	__u8 proto;   /* IP protocol after IPv6 extension headers */
	__u8 frag;    /* 1: a non-first fragment, L4 fields unknown */
	__u8 hop_limit;
	__u8 icmp_type;
	__u8 icmp_code;
	__u16 icmp_id; /* host order */
	__u16 sport;   /* host order */
	__u16 dport;
};

#define WEFT_IPV6_MAX_EXT 4

static __always_inline int weft_parse_l4(struct weft_pkt *p, void *l4, struct weft_flow *f)
{
	if (f->frag)
		return WEFT_PARSE_OK;
	if (f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP) {
		__be16 *ports = l4;

		if ((void *)(ports + 2) > p->data_end)
			return WEFT_PARSE_MALFORMED;
		f->sport = bpf_ntohs(ports[0]);
		f->dport = bpf_ntohs(ports[1]);
		return WEFT_PARSE_OK;
	}
	if (f->proto == WEFT_ICMP || f->proto == WEFT_ICMPV6) {
		__u8 *h = l4;

		/* type, code, checksum, then the echo identifier */
		if ((void *)(h + 8) > p->data_end)
			return WEFT_PARSE_MALFORMED;
		f->icmp_type = h[0];
		f->icmp_code = h[1];
		f->icmp_id = ((__u16)h[4] << 8) | h[5];
	}
	return WEFT_PARSE_OK;
}

static __always_inline int weft_parse_ipv4(struct weft_pkt *p, void *l3, struct weft_flow *f)
{
	struct iphdr *ip = l3;

	if ((void *)(ip + 1) > p->data_end)
		return WEFT_PARSE_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return WEFT_PARSE_MALFORMED;
	f->family = 4;
	f->proto = ip->protocol;
	f->hop_limit = ip->ttl;
	f->src[0] = ip->saddr;
	f->dst[0] = ip->daddr;
	f->frag = (bpf_ntohs(ip->frag_off) & 0x1fff) != 0;
	return weft_parse_l4(p, l3 + ip->ihl * 4, f);
}

static __always_inline int weft_parse_ipv6(struct weft_pkt *p, void *l3, struct weft_flow *f)
{
	struct ipv6hdr *ip6 = l3;

	if ((void *)(ip6 + 1) > p->data_end)
		return WEFT_PARSE_MALFORMED;
	f->family = 6;
	f->hop_limit = ip6->hop_limit;
	__builtin_memcpy(f->src, &ip6->saddr, 16);
	__builtin_memcpy(f->dst, &ip6->daddr, 16);

	__u8 nh = ip6->nexthdr;
	void *cur = ip6 + 1;

#pragma unroll
	for (int i = 0; i < WEFT_IPV6_MAX_EXT; i++) {
		__u8 *h = cur;

		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS &&
		    nh != IPPROTO_FRAGMENT && nh != IPPROTO_AH)
			break;
		if ((void *)(h + 8) > p->data_end)
			return WEFT_PARSE_MALFORMED;
		if (nh == IPPROTO_FRAGMENT) {
			/* offset is the upper 13 bits of bytes 2-3 */
			if ((((__u16)h[2] << 8 | h[3]) & 0xfff8) != 0)
				f->frag = 1;
			nh = h[0];
			cur = h + 8;
		} else if (nh == IPPROTO_AH) {
			nh = h[0];
			cur = h + ((__u32)h[1] + 2) * 4;
		} else {
			nh = h[0];
			cur = h + ((__u32)h[1] + 1) * 8;
		}
	}
	/* Still an extension header after the bounded walk: we cannot see the
	 * transport header, so the packet is judged as unparseable. */
	if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS ||
	    nh == IPPROTO_FRAGMENT || nh == IPPROTO_AH)
		return WEFT_PARSE_MALFORMED;
	f->proto = nh;
	return weft_parse_l4(p, cur, f);
}

static __always_inline int weft_parse(struct weft_pkt *p, struct weft_flow *f)
{
	void *l3;
	__be16 proto;

	switch (weft_l2(p->data, p->data_end, &l3, &proto)) {
	case WEFT_L2_SHORT:
		return WEFT_PARSE_NOT_IP;
	case WEFT_L2_TRUNCATED:
		return WEFT_PARSE_MALFORMED;
	}
	if (proto == bpf_htons(ETH_P_IP))
		return weft_parse_ipv4(p, l3, f);
	if (proto == bpf_htons(ETH_P_IPV6))
		return weft_parse_ipv6(p, l3, f);
	return WEFT_PARSE_NOT_IP;
}

#endif /* WEFT_PARSE_H */
