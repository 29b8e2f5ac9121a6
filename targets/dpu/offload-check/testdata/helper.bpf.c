/* bpf_ktime_get_ns: the NIC has no clock helper. */
#include "common.h"

SEC("xdp")
int helper(struct xdp_md *ctx)
{
	__u64 now = bpf_ktime_get_ns(); /* offload: helpers */

	return now & 1 ? XDP_DROP : XDP_PASS;
}
