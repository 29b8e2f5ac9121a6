/* Fits the nfp profile: hash and array maps, lookups, an atomic counter,
 * a bpf-to-bpf call and only DROP, PASS and TX as verdicts. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} verdicts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __attribute__((noinline)) int count(__u32 verdict)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &verdict);

	if (c)
		__sync_fetch_and_add(c, 1);
	return verdict;
}

SEC("xdp")
int good(struct xdp_md *ctx)
{
	__u32 key = first_byte(ctx);
	__u32 *v = bpf_map_lookup_elem(&verdicts, &key);

	if (!v)
		return count(XDP_PASS);
	if (*v == 1)
		return count(XDP_DROP);
	if (*v == 3)
		return count(XDP_TX);
	return count(XDP_PASS);
}
