/* Flow logs: one event per verdict of a rule with `log: true`, through a
 * BPF ring buffer the agent reads (`weft agent logs`). Event layout: see
 * FLOWLOG_EVENT in targets/host/abi.ts.
 *
 * Rate limit, so that a flood of logged packets costs a bounded amount of
 * work and never starves the reader: a token bucket per CPU (no shared
 * state on the fast path), refilled at weft_cfg.log_rate events per second
 * up to weft_cfg.log_burst. An event over the limit is not emitted and
 * counts WEFT_CNT_LOG_SUPPRESSED; an event the full ring cannot take counts
 * WEFT_CNT_LOG_LOST. The verdict itself never depends on either. */
#ifndef WEFT_FLOWLOG_H
#define WEFT_FLOWLOG_H

#include "maps.h"
#include "parse.h"
#include "stats.h"

struct weft_flowlog_event {
	__u64 ts_ns;
	__u32 rule;
	__u32 generation;
	__u32 src[4];
	__u32 dst[4];
	__u16 sport;
	__u16 dport;
	__u8 family;
	__u8 proto;
	__u8 verdict;
	__u8 dir;
	__u8 hook;
	__u8 slot;
	__u16 pad;
	__u32 len;
};

_Static_assert(sizeof(struct weft_flowlog_event) == WEFT_FLOWLOG_EVENT, "flow log event layout");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, WEFT_FLOWLOG_RING_BYTES);
} WEFT_MAP_FLOWLOG SEC(".maps");

struct weft_lograte {
	__u64 tokens; /* in 1e-9 events, so refills need no division */
	__u64 last_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct weft_lograte);
} WEFT_MAP_LOG_RATE SEC(".maps");

#define WEFT_NS_PER_S 1000000000ULL

/* 1: this CPU may emit one more event now (and has paid for it). */
static __always_inline int weft_flowlog_take_token(void)
{
	__u32 k = 0;
	struct weft_lograte *b = bpf_map_lookup_elem(&WEFT_MAP_LOG_RATE, &k);

	if (!b)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	__u64 elapsed = now - b->last_ns;
	__u64 cap = (__u64)weft_cfg.log_burst * WEFT_NS_PER_S;

	/* a second refills at most log_rate events: caps the product below 2^64 */
	if (elapsed > WEFT_NS_PER_S)
		elapsed = WEFT_NS_PER_S;
	b->tokens += elapsed * weft_cfg.log_rate;
	if (b->tokens > cap)
		b->tokens = cap;
	b->last_ns = now;
	if (b->tokens < WEFT_NS_PER_S)
		return 0;
	b->tokens -= WEFT_NS_PER_S;
	return 1;
}

static __always_inline void weft_flowlog(const struct weft_flow *f, const struct weft_slot *s, __u32 rule, __u8 verdict,
					 __u8 dir, __u8 hook, __u32 len)
{
	if (!weft_flowlog_take_token()) {
		weft_count(WEFT_CNT_LOG_SUPPRESSED);
		return;
	}
	struct weft_flowlog_event *e = bpf_ringbuf_reserve(&WEFT_MAP_FLOWLOG, sizeof(*e), 0);

	if (!e) {
		weft_count(WEFT_CNT_LOG_LOST);
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->rule = rule;
	e->generation = s->generation;
	__builtin_memcpy(e->src, f->src, sizeof(e->src));
	__builtin_memcpy(e->dst, f->dst, sizeof(e->dst));
	if (f->proto == WEFT_ICMP || f->proto == WEFT_ICMPV6) {
		e->sport = 0;
		e->dport = ((__u16)f->icmp_type << 8) | f->icmp_code;
	} else {
		e->sport = f->sport;
		e->dport = f->dport;
	}
	e->family = f->family;
	e->proto = f->proto;
	e->verdict = verdict;
	e->dir = dir;
	e->hook = hook;
	e->slot = s->slot;
	e->pad = 0;
	e->len = len;
	bpf_ringbuf_submit(e, 0);
	weft_count(WEFT_CNT_LOG_EMITTED);
}

#endif /* WEFT_FLOWLOG_H */
