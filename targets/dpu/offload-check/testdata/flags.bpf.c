/* A hash map without preallocation: the NIC takes no map flags. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u32);
} sparse SEC(".maps");

SEC("xdp")
int flags(struct xdp_md *ctx)
{
	__u32 k = first_byte(ctx);
	__u32 *v = bpf_map_lookup_elem(&sparse, &k); /* offload: mapFlagsMask */

	return v && *v ? XDP_DROP : XDP_PASS;
}
