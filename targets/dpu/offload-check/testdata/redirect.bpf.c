/* XDP_REDIRECT, as a verdict returned through a BPF function and by helper:
 * the NIC only drops, passes or sends back. */
#include "common.h"

/* One line, so whichever instruction clang puts the constant in carries it. */
static __attribute__((noinline)) int verdict_for(int b) { return b == 0xff ? XDP_REDIRECT : XDP_PASS; } /* offload: returnCodes */

SEC("xdp")
int redirect_const(struct xdp_md *ctx)
{
	return verdict_for(first_byte(ctx));
}

SEC("xdp")
int redirect_helper(struct xdp_md *ctx)
{
	if (first_byte(ctx) == 0xff)
		return bpf_redirect(2, 0); /* offload: returnCodes */
	return XDP_PASS;
}
