/* 300 B in the program and 400 B in the function it calls: over 512 B together. */
#include "common.h"

/* Reads both ends of a buffer on its caller's stack, so the whole buffer stays. */
static __attribute__((noinline)) int ends(volatile __u8 *buf, __u32 size)
{
	return buf[0] + buf[size - 1];
}

static __attribute__((noinline)) int deep(int b)
{
	volatile __u8 scratch[400];

	scratch[0] = b;
	scratch[399] = b;
	return ends(scratch, sizeof(scratch));
}

SEC("xdp")
int bigstack(struct xdp_md *ctx)
{
	volatile __u8 scratch[300];
	int b = first_byte(ctx);

	scratch[0] = b;
	scratch[299] = b;
	return deep(ends(scratch, sizeof(scratch))) & 1 ? XDP_DROP : XDP_PASS; /* offload: maxStackBytes */
}
