/* A per-CPU array of counters: the NIC has no per-CPU maps. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} packets SEC(".maps");

SEC("xdp")
int percpu(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *c = bpf_map_lookup_elem(&packets, &k); /* offload: mapTypes */

	if (c)
		__sync_fetch_and_add(c, 1);
	return XDP_PASS;
}
