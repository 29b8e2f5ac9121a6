/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Ethernet and up to two VLAN tags (802.1Q, 802.1ad) in front of L3. The
 * host datapath and the NIC prefilter both judge tagged frames, so both walk
 * the tags here.
 */
#ifndef WEFT_L2_H
#define WEFT_L2_H

#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>

#define WEFT_L2_OK 0
/* No whole Ethernet header: nothing to judge. */
#define WEFT_L2_SHORT 1
/* A VLAN tag cut short. */
#define WEFT_L2_TRUNCATED 2

/* Sets *l3 to the network header and *proto to its ethertype. */
static __always_inline int weft_l2(void *data, void *end, void **l3, __be16 *proto)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return WEFT_L2_SHORT;
	__be16 type = eth->h_proto;
	void *next = eth + 1;

#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (type != bpf_htons(ETH_P_8021Q) && type != bpf_htons(ETH_P_8021AD))
			break;
		__be16 *tag = next; /* TCI, then the inner ethertype */

		if ((void *)(tag + 2) > end)
			return WEFT_L2_TRUNCATED;
		type = tag[1];
		next = tag + 2;
	}
	*l3 = next;
	*proto = type;
	return WEFT_L2_OK;
}

#endif /* WEFT_L2_H */
