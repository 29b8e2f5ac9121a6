/* A map declared the pre-BTF way, in the "maps" section: an LRU hash. */
#include "common.h"

/* The layout libbpf reads from the "maps" section (struct bpf_map_def). */
struct legacy_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct legacy_map_def recent SEC("maps") = {
	.type = BPF_MAP_TYPE_LRU_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u32),
	.max_entries = 128,
};

SEC("xdp")
int legacy(struct xdp_md *ctx)
{
	__u32 k = first_byte(ctx);

	return bpf_map_lookup_elem(&recent, &k) ? XDP_DROP : XDP_PASS; /* offload: mapTypes */
}
