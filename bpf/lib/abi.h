/* Generated from targets/host/abi.ts by `make -C bpf abi`; do not edit. */
#ifndef WEFT_ABI_H
#define WEFT_ABI_H

#define WEFT_MAP_CTL weft_ctl_v1
#define WEFT_MAP_ID4 weft_id4_v2
#define WEFT_MAP_ID6 weft_id6_v2
#define WEFT_MAP_POLICY weft_policy_v2
#define WEFT_MAP_PLEN weft_plen_v1
#define WEFT_MAP_CT weft_ct_v1
#define WEFT_MAP_STATS weft_stats_v2
#define WEFT_MAP_COUNTERS weft_counters_v1
#define WEFT_MAP_FAILSAFE weft_failsafe_v1

#define WEFT_VERDICT_ALLOW 1
#define WEFT_VERDICT_DENY 2
#define WEFT_DIR_EGRESS 1
#define WEFT_DIR_INGRESS 2

#define WEFT_CTL_ACTIVE_SLOT 0
#define WEFT_CTL_GENERATION 1
#define WEFT_CTL_DEFAULT_SLOT0 2
#define WEFT_CTL_FAILSAFE_COUNT 4
#define WEFT_CTL_ENTRIES 5
#define WEFT_ID_FLAG_LOCAL 1
#define WEFT_ID4_KEY 8
#define WEFT_ID6_KEY 20
#define WEFT_POLICY_KEY 16
#define WEFT_PLEN_ID4 0
#define WEFT_PLEN_ID6 1
#define WEFT_PLEN_POLICY 2
#define WEFT_PLEN_TABLES 3
#define WEFT_PLEN_MAX 256
#define WEFT_POLICY_VALUE 8
#define WEFT_CT_KEY 40
#define WEFT_CT_VALUE 8
#define WEFT_FAILSAFE_KEY 20
#define WEFT_STATS_DEFAULT_INDEX 0
#define WEFT_STATS_VALUE 16
#define WEFT_IR_PROTO_OTHER 0
#define WEFT_ANY_REMOTE 0
#define WEFT_DEFAULT_SEEN_MARK 0x00100000

enum weft_counter {
	WEFT_CNT_PASS_NON_IP = 0,
	WEFT_CNT_PASS_ND = 1,
	WEFT_CNT_PASS_FAILSAFE = 2,
	WEFT_CNT_PASS_NOT_LOCAL = 3,
	WEFT_CNT_PASS_SEEN = 4,
	WEFT_CNT_PASS_CT_REPLY = 5,
	WEFT_CNT_ALLOW_POLICY = 6,
	WEFT_CNT_DENY_POLICY = 7,
	WEFT_CNT_DROP_MALFORMED = 8,
	WEFT_CNT_DROP_FRAGMENT = 9,
	WEFT_CNT_XDP_DROP = 10,
	WEFT_CNT_CT_FULL = 11,
	WEFT_CNT__MAX = 12,
};

#endif /* WEFT_ABI_H */
