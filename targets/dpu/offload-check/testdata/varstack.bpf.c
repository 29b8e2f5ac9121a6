/* A stack write at an offset taken from the packet: the NIC needs constant offsets. */
#include "common.h"

SEC("xdp")
int varstack(struct xdp_md *ctx)
{
	volatile __u8 seen[64];
	int b = first_byte(ctx);

	if (b < 0)
		return XDP_PASS;
	seen[0] = 0;
	seen[b & 63] = 1; /* offload: constantStackOffsets */
	return seen[0] ? XDP_DROP : XDP_PASS;
}
