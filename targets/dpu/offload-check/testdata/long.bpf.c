/* Checked against a small instruction budget: its last instructions are
 * mix's, which sits on one line so each of them carries the marked line. */
#include "common.h"

static __attribute__((noinline)) int mix(int b) { return (b * 3) ^ (b >> 2) ^ (b * 5 + 7); } /* offload: maxInstructions */

SEC("xdp")
int too_long(struct xdp_md *ctx)
{
	return mix(first_byte(ctx)) & 1 ? XDP_DROP : XDP_PASS;
}
