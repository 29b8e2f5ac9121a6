/* An LRU hash, as a conntrack table would use: not on the NIC. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} flows SEC(".maps");

SEC("xdp")
int lru(struct xdp_md *ctx)
{
	__u32 k = first_byte(ctx);

	return bpf_map_lookup_elem(&flows, &k) ? XDP_PASS : XDP_DROP; /* offload: mapTypes */
}
