/* SPDX-License-Identifier: GPL-2.0 */
/*
 * IP protocol numbers as the policy names them, and the protocol key of the
 * policy tables: shared by the host datapath and the NIC prefilter, whose
 * tables key protocols alike (targets/host/abi.ts).
 */
#ifndef WEFT_PROTO_H
#define WEFT_PROTO_H

#include <linux/in.h>
#include "abi.h"

#define WEFT_ICMP 1
#define WEFT_ICMPV6 58

/* The protocol as the policy tables key it: the ones a rule can name, else "other". */
static __always_inline __u8 weft_ir_proto(__u8 proto)
{
	switch (proto) {
	case WEFT_ICMP:
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case WEFT_ICMPV6:
		return proto;
	default:
		return WEFT_IR_PROTO_OTHER;
	}
}

#endif /* WEFT_PROTO_H */
