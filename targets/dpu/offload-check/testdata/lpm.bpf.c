/* An LPM trie: the NIC holds hash and array maps only. */
#include "common.h"

struct lpm_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} prefixes SEC(".maps");

SEC("xdp")
int lpm(struct xdp_md *ctx)
{
	struct lpm_key k = { .prefixlen = 32, .addr = first_byte(ctx) };
	__u32 *v = bpf_map_lookup_elem(&prefixes, &k); /* offload: mapTypes */

	return v ? XDP_DROP : XDP_PASS;
}
