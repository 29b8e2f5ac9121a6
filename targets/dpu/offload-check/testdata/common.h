/* Shared by the offload checker's test programs: includes and a first-byte
 * read, so each program shows only the construct it is about. A line marked
 * "offload: RULE" is where the checker must report RULE. */
#ifndef OFFLOAD_TEST_COMMON_H
#define OFFLOAD_TEST_COMMON_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* The packet's first byte, or -1 when the packet is empty. */
static __always_inline int first_byte(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;

	if (data + 1 > end)
		return -1;
	return *data;
}

char _license[] SEC("license") = "GPL";

#endif
