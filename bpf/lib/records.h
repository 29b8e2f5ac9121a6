/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel key and value layouts of the identity and policy maps, the records
 * targets/host/records.ts writes: shared by the host datapath and the NIC
 * prefilter, which load the same records.
 */
#ifndef WEFT_RECORDS_H
#define WEFT_RECORDS_H

#include <linux/types.h>
#include "abi.h"

struct weft_id4_key {
	__u8 slot;
	__u8 plen;
	__u16 zero;
	__u32 addr;
};

struct weft_id6_key {
	__u8 slot;
	__u8 plen;
	__u16 zero;
	__u32 addr[4];
};

struct weft_id_value {
	__u32 id;    /* identity; 0: no cell of this host involves it */
	__u32 flags; /* WEFT_ID_FLAG_LOCAL: an address of this host's endpoints */
};

struct weft_policy_key {
	__u8 slot;
	__u8 dir;
	__u8 proto;
	__u8 plen;
	__be32 local;
	__be32 remote;
	__be16 port;
	__u16 zero;
};

struct weft_policy_value {
	__u32 rule; /* IR rule index */
	__u8 verdict;
	__u8 flags;
	__u16 pad;
};

_Static_assert(sizeof(struct weft_id4_key) == WEFT_ID4_KEY, "identity key layout");
_Static_assert(sizeof(struct weft_policy_key) == WEFT_POLICY_KEY, "policy key layout");
_Static_assert(sizeof(struct weft_policy_value) == WEFT_POLICY_VALUE, "policy value layout");

#endif /* WEFT_RECORDS_H */
