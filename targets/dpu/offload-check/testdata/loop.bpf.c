/* bpf_loop: the NIC runs no loop helper. */
#include "common.h"

static long step(__u32 i, void *ctx)
{
	__u32 *sum = ctx;

	*sum += i;
	return 0;
}

SEC("xdp")
int loop(struct xdp_md *ctx)
{
	__u32 sum = first_byte(ctx);

	bpf_loop(8, step, &sum, 0); /* offload: helpers */
	return sum & 1 ? XDP_DROP : XDP_PASS;
}
