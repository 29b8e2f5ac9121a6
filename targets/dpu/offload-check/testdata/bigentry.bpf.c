/* Key 16 B + value 64 B: beyond the NIC's 64 B entries. */
#include "common.h"

struct wide_key {
	__u32 words[4];
};

struct wide_value {
	__u64 words[8];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct wide_key);
	__type(value, struct wide_value);
} wide SEC(".maps");

SEC("xdp")
int bigentry(struct xdp_md *ctx)
{
	struct wide_key k = { .words = { first_byte(ctx) } };
	struct wide_value *v = bpf_map_lookup_elem(&wide, &k); /* offload: maxKeyPlusValue */

	return v && v->words[7] ? XDP_DROP : XDP_PASS;
}
