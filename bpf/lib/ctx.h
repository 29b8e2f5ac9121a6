/* The thin context layer: XDP and TC hand the shared logic the same view of
 * a packet, so nothing below this header names xdp_md or __sk_buff. */
#ifndef WEFT_CTX_H
#define WEFT_CTX_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct weft_pkt {
	void *data;
	void *data_end;
	__u32 len; /* the whole packet's length in bytes (per-rule byte counters) */
};

static __always_inline struct weft_pkt weft_pkt_from_xdp(struct xdp_md *ctx)
{
	struct weft_pkt p = {
		.data = (void *)(long)ctx->data,
		.data_end = (void *)(long)ctx->data_end,
		.len = ctx->data_end - ctx->data,
	};
	return p;
}

/* Bytes the parser may read: Ethernet, two VLAN tags, IPv6 with a few
 * extension headers, and the first 8 bytes of L4. */
#define WEFT_PULL_LEN 128

static __always_inline struct weft_pkt weft_pkt_from_skb(struct __sk_buff *skb)
{
	__u32 linear = skb->data_end - skb->data;

	/* Headers of a GRO or fragmented skb may sit outside the linear part;
	 * pulling is only paid for when they do. */
	if (linear < WEFT_PULL_LEN && skb->len > linear)
		bpf_skb_pull_data(skb, skb->len < WEFT_PULL_LEN ? skb->len : WEFT_PULL_LEN);
	struct weft_pkt p = {
		.data = (void *)(long)skb->data,
		.data_end = (void *)(long)skb->data_end,
		.len = skb->len,
	};
	return p;
}

#endif /* WEFT_CTX_H */
