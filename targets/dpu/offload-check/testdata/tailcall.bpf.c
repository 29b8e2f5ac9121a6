/* bpf_tail_call: the NIC runs one program per port, no tail calls. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} next SEC(".maps");

SEC("xdp")
int tailcall(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &next, 0); /* offload: tailCalls */
	return XDP_PASS;
}
