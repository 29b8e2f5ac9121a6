/* A plain store into a map value: the NIC only adds atomically. */
#include "common.h"

struct seen {
	__u32 hits;
	__u32 last;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct seen);
} seen SEC(".maps");

SEC("xdp")
int mapstore(struct xdp_md *ctx)
{
	__u32 k = 0;
	struct seen *s = bpf_map_lookup_elem(&seen, &k);

	if (!s)
		return XDP_PASS;
	__sync_fetch_and_add(&s->hits, 1);
	s->last = first_byte(ctx); /* offload: onlyAtomicAddWrites */
	return XDP_PASS;
}
