/* Weft host datapath: TC programs judge every packet from or to an endpoint
 * of this host (policy + conntrack); an XDP program on the uplink drops early
 * what TC would certainly drop, without keeping state.
 *
 * Precedence, TC (first row that applies decides):
 *   1. skb already carries the seen mark (judged at another hook) -> pass
 *   2. not IPv4/IPv6                                           -> pass
 *   3. malformed IP or L4 header                               -> drop
 *   4. IPv6 neighbour discovery (ICMPv6 133-137, hop limit 255) -> pass
 *   5. failsafe (address, proto, port) listed                   -> pass
 *   6. neither address belongs to a local endpoint              -> pass
 *   7. non-first fragment (no ports to judge)                   -> drop
 *   8. reply of a tracked connection                            -> pass
 *   9. policy cell (egress when the source is local, else
 *      ingress), or the default action when no cell matches    -> allow
 *      (tracked, marked seen) | deny (drop)
 *
 * A verdict of row 9 by a cell whose rule has `log: true` is also flow-logged
 * (lib/flowlog.h, rate limited), at the hook that decides it: TC for an
 * allow (XDP leaves allows to TC), XDP or TC for a deny.
 *
 * XDP (uplink ingress) follows rows 2-5 and 7-9 with "the destination is
 * not local" at row 6, never tracks, and only drops where row 9 denies; a
 * fragment is left to TC. Every XDP drop is therefore a TC drop too.
 *
 * XDP early stage, between rows 6 and 7: the source is not a local
 * address, its identity is flagged WEFT_ID_FLAG_DENY_INGRESS (every cell
 * and the default deny every flow from it to this host) and no tracked
 * connection can have a reply from it (weft_ct_may_reply_from) -> drop,
 * without the conntrack and policy lookups. Whether an address is local
 * (row 6 for the destination, and this stage's source) is read from the
 * locals table (lib/locals.h) without a hash lookup, and the flag at only
 * the lengths where it changes (weft_id_denied_ingress), usually one: a drop
 * takes one hash lookup. Rows 7-9 would drop it too: a fragment would be dropped
 * by TC, and rows 8-9 cannot pass it. */

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "lib/abi.h"
#include "lib/ctx.h"
#include "lib/parse.h"
#include "lib/maps.h"
#include "lib/identity.h"
#include "lib/locals.h"
#include "lib/policy.h"
#include "lib/ct.h"
#include "lib/stats.h"
#include "lib/failsafe.h"
#include "lib/flowlog.h"

enum weft_hook {
	WEFT_HOOK_TC,
	WEFT_HOOK_XDP,
};

enum weft_outcome {
	WEFT_PASS,        /* not judged (not ours, or infrastructure) */
	WEFT_PASS_JUDGED, /* judged and allowed */
	WEFT_DROP,
};

static __always_inline int weft_is_nd(const struct weft_flow *f)
{
	return f->family == 6 && f->proto == WEFT_ICMPV6 && f->hop_limit == 255 &&
	       f->icmp_type >= 133 && f->icmp_type <= 137;
}

static __always_inline enum weft_outcome weft_judge(struct weft_pkt *pkt, enum weft_hook hook)
{
	struct weft_flow f = {};
	struct weft_slot s;

	switch (weft_parse(pkt, &f)) {
	case WEFT_PARSE_NOT_IP:
		weft_count(WEFT_CNT_PASS_NON_IP);
		return WEFT_PASS;
	case WEFT_PARSE_MALFORMED:
		weft_count(WEFT_CNT_DROP_MALFORMED);
		return WEFT_DROP;
	default:
		break;
	}
	if (weft_is_nd(&f)) {
		weft_count(WEFT_CNT_PASS_ND);
		return WEFT_PASS;
	}
	if (weft_failsafe(&f)) {
		weft_count(WEFT_CNT_PASS_FAILSAFE);
		return WEFT_PASS;
	}
	if (weft_slot_read(&s) < 0)
		return WEFT_DROP;

	struct weft_id_value src, dst;
	struct weft_id_search drop_search;
	const struct weft_id_search *src_hint = 0;

	/* XDP: whether the destination is local (row 6) comes from the locals
	 * table; anything else passes without a hash lookup. */
	if (hook == WEFT_HOOK_XDP) {
		struct weft_id_value *d = 0;
		enum weft_local dst_is = weft_local(s.slot, f.family, f.dst);

		if (dst_is == WEFT_LOCAL_MAYBE) {
			d = weft_id_at(s.slot, f.family, f.dst, f.family == 4 ? 32 : 128);
			dst_is = d && (d->flags & WEFT_ID_FLAG_LOCAL) ? WEFT_LOCAL_YES : WEFT_LOCAL_NO;
		}
		if (dst_is == WEFT_LOCAL_NO) {
			weft_count(WEFT_CNT_PASS_NOT_LOCAL);
			return WEFT_PASS;
		}
		/* dropLengths leave local addresses out, so the early stage only
		 * judges a source that is certainly not local. */
		int src_remote = weft_local(s.slot, f.family, f.src) == WEFT_LOCAL_NO;

		if (src_remote && weft_id_denied_ingress(&drop_search, s.slot, f.family, f.src) && !weft_ct_may_reply_from(f.src)) {
			weft_count(WEFT_CNT_XDP_DROP_EARLY);
			return WEFT_DROP;
		}
		if (!d)
			d = weft_id_at(s.slot, f.family, f.dst, f.family == 4 ? 32 : 128);
		/* listed local but not in the identity table: not this slot's to judge here, TC will */
		if (!d || !(d->flags & WEFT_ID_FLAG_LOCAL)) {
			weft_count(WEFT_CNT_PASS_NOT_LOCAL);
			return WEFT_PASS;
		}
		dst = *d;
		if (src_remote)
			src_hint = &drop_search;
	} else {
		dst = weft_identity(s.slot, f.family, f.dst, 0);
	}
	src = weft_identity(s.slot, f.family, f.src, src_hint);

	int src_local = src.flags & WEFT_ID_FLAG_LOCAL;
	int dst_local = dst.flags & WEFT_ID_FLAG_LOCAL;

	if (hook == WEFT_HOOK_TC && !(src_local || dst_local)) {
		weft_count(WEFT_CNT_PASS_NOT_LOCAL);
		return WEFT_PASS;
	}
	if (f.frag) {
		if (hook == WEFT_HOOK_XDP)
			return WEFT_PASS;
		weft_count(WEFT_CNT_DROP_FRAGMENT);
		return WEFT_DROP;
	}
	if (weft_ct_is_reply(&f)) {
		weft_count(WEFT_CNT_PASS_CT_REPLY);
		return WEFT_PASS_JUDGED;
	}

	struct weft_policy_value cell;
	__u8 dir = hook == WEFT_HOOK_TC && src_local ? WEFT_DIR_EGRESS : WEFT_DIR_INGRESS;
	int hit;

	if (dir == WEFT_DIR_EGRESS)
		hit = weft_policy_lookup(s.slot, dir, &f, src.id, dst.id, &cell);
	else
		hit = weft_policy_lookup(s.slot, dir, &f, dst.id, src.id, &cell);

	__u8 verdict = hit ? cell.verdict : s.deflt;
	__u32 rule_plus_one = hit ? cell.rule + 1 : WEFT_STATS_DEFAULT_INDEX;
	int logged = hit && (cell.flags & WEFT_POLICY_FLAG_LOG);

	if (verdict == WEFT_VERDICT_ALLOW) {
		if (hook == WEFT_HOOK_XDP)
			return WEFT_PASS;
		weft_count_rule(&s, rule_plus_one, pkt->len);
		weft_count(WEFT_CNT_ALLOW_POLICY);
		if (logged)
			weft_flowlog(&f, &s, cell.rule, verdict, dir, WEFT_FLOWLOG_HOOK_TC, pkt->len);
		if (weft_ct_track(&f, s.generation) < 0)
			weft_count(WEFT_CNT_CT_FULL);
		return WEFT_PASS_JUDGED;
	}
	weft_count_rule(&s, rule_plus_one, pkt->len);
	weft_count(hook == WEFT_HOOK_XDP ? WEFT_CNT_XDP_DROP : WEFT_CNT_DENY_POLICY);
	if (logged)
		weft_flowlog(&f, &s, cell.rule, verdict, dir, hook == WEFT_HOOK_XDP ? WEFT_FLOWLOG_HOOK_XDP : WEFT_FLOWLOG_HOOK_TC, pkt->len);
	return WEFT_DROP;
}

SEC("tc")
int weft_tc(struct __sk_buff *skb)
{
	__u32 mark = weft_cfg.seen_mark;

	if (mark && (skb->mark & mark)) {
		weft_count(WEFT_CNT_PASS_SEEN);
		return TC_ACT_OK;
	}
	struct weft_pkt pkt = weft_pkt_from_skb(skb);

	switch (weft_judge(&pkt, WEFT_HOOK_TC)) {
	case WEFT_DROP:
		return TC_ACT_SHOT;
	case WEFT_PASS_JUDGED:
		skb->mark |= mark;
		return TC_ACT_OK;
	default:
		return TC_ACT_OK;
	}
}

SEC("xdp")
int weft_xdp(struct xdp_md *ctx)
{
	struct weft_pkt pkt = weft_pkt_from_xdp(ctx);

	return weft_judge(&pkt, WEFT_HOOK_XDP) == WEFT_DROP ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
