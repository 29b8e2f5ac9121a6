// The binary contract between the host datapath (bpf/) and its TypeScript
// loader: map names, key and value layouts, verdict and direction codes,
// counter slots. Defined here once; bpf/lib/abi.h is rendered from this file
// (`make -C bpf abi`) and a test keeps the checked-in header in sync.

import { ANY_REMOTE } from '../../orchestrator/ir/share.ts';

/** Maps by concern; the suffix is bumped whenever a layout changes. */
export const MAP = {
  ctl: 'weft_ctl_v1',
  id4: 'weft_id4_v2',
  id6: 'weft_id6_v2',
  policy: 'weft_policy_v2',
  plen: 'weft_plen_v1',
  ct: 'weft_ct_v1',
  ctRemotes: 'weft_ctremotes_v1',
  stats: 'weft_stats_v3',
  counters: 'weft_counters_v2',
  failsafe: 'weft_failsafe_v1',
  flowlog: 'weft_flowlog_v1',
  logRate: 'weft_lograte_v1',
  locals: 'weft_locals_v1',
} as const;
export type MapConcern = keyof typeof MAP;

/** Program names (function names in bpf/weft.bpf.c). */
export const PROG = { tc: 'weft_tc', xdp: 'weft_xdp' } as const;

export const VERDICT = { allow: 1, deny: 2 } as const;
/** egress: a local endpoint is the source; ingress: a local endpoint is the destination. */
export const DIR = { egress: 1, ingress: 2 } as const;

/** Slots of the weft_ctl_v1 array (u32 values). */
export const CTL = {
  activeSlot: 0,
  generation: 1,
  defaultSlot0: 2,
  defaultSlot1: 3,
  /** Failsafe entries listed; 0 skips the failsafe lookups on the fast path. */
  failsafeCount: 4,
  entries: 5,
} as const;

/** Bit in an identity value's flags: the address belongs to an endpoint of this host (only ever on a full-length entry, so one exact lookup tells). */
export const ID_FLAG_LOCAL = 1;
/** Bit in an identity value's flags: every cell and the default deny every flow from this identity to this host. */
export const ID_FLAG_DENY_INGRESS = 2;

/**
 * Longest-prefix match as exact hash lookups, one per prefix length present
 * (longest first); the lengths present per slot and table are listed in
 * weft_plen_v1, so the cost depends on how many distinct lengths a host's
 * share uses (at most 33 / 129 / 17), never on how many entries it has.
 *
 * Identity keys: slot u8 | prefix length u8 | zero u16 | address, masked to
 * the prefix, network order (4 or 16 bytes).
 */
export const ID4_KEY = 8;
export const ID6_KEY = 20;
/** Identity value: identity u32, flags u32 (ID_FLAG_*). */
export const ID_VALUE = 8;

/**
 * Policy key (16 bytes, network order):
 *   0 slot u8 | 1 dir u8 | 2 proto u8 (IR proto) | 3 port-key prefix length u8 (0..16)
 *   4 local identity u32 | 8 remote identity u32 | 12 port key u16, masked | 14 zero u16
 */
export const POLICY_KEY = 16;

/**
 * weft_plen_v1: index slot * PLEN_TABLES + table; value: count u32, then up to PLEN_MAX lengths (u8, descending). 256 so that an index masked to 8 bits is always in bounds.
 * drop4/drop6 list the lengths of the identity table at which ID_FLAG_DENY_INGRESS differs from the enclosing entry's
 * (share.ts dropLengths): the XDP early stage looks up the source at those lengths only.
 */
export const PLEN = { id4: 0, id6: 1, policy: 2, drop4: 3, drop6: 4 } as const;
export const PLEN_TABLES = 5;
export const PLEN_MAX = 256;
export const PLEN_VALUE = 4 + PLEN_MAX;

/**
 * weft_locals_v1: this host's endpoint addresses per slot, as a hash table in
 * an array map, so that XDP tells whether an address is local with one
 * inlined array read and a few compares instead of a hash-map lookup.
 * Index slot * 2 + (family 4: 0, 6: 1); value LOCALS_BUCKETS buckets of
 * LOCALS_BUCKET bytes: count u32 (addresses listed, or LOCALS_OVERFLOW when
 * more hashed to it than it holds), pad 12 bytes, then LOCALS_WAYS addresses
 * of 16 bytes (network order, IPv4 in the first 4, rest zero).
 * Bucket of an address: (w0 ^ w1 ^ w2 ^ w3) * 2654435761 >> (32 - LOCALS_BUCKET_BITS),
 * over its four u32 words as a little-endian load reads them.
 * An overflowing bucket answers "maybe": XDP then looks the address up in the identity table.
 */
export const LOCALS_BUCKET_BITS = 8;
export const LOCALS_BUCKETS = 1 << LOCALS_BUCKET_BITS;
export const LOCALS_WAYS = 4;
export const LOCALS_BUCKET = 16 + 16 * LOCALS_WAYS;
export const LOCALS_OVERFLOW = 0xffffffff;

/** Policy value: rule u32 (IR rule index), verdict u8, flags u8 (POLICY_FLAG_*), pad u16. */
export const POLICY_VALUE = 8;
/** Bit in a policy value's flags: the rule has `log: true`, so its verdicts are flow-logged. */
export const POLICY_FLAG_LOG = 1;

/**
 * Flow log event (weft_flowlog_v1, a BPF ring buffer), one per logged verdict:
 *   0 ts_ns u64 (CLOCK_MONOTONIC) | 8 rule u32 (IR index) | 12 generation u32 |
 *   16 src 16 bytes | 32 dst 16 bytes (network order, IPv4 in the first 4) |
 *   48 sport u16 | 50 dport u16 (host order; ICMP: 0 and type << 8 | code) |
 *   52 family u8 (4, 6) | 53 proto u8 (IP protocol) | 54 verdict u8 (VERDICT) |
 *   55 dir u8 (DIR) | 56 hook u8 (FLOWLOG_HOOK) | 57 slot u8 | 58 pad u16 | 60 packet length u32
 */
export const FLOWLOG_EVENT = 64;
export const FLOWLOG_HOOK = { tc: 0, xdp: 1 } as const;
/** Ring buffer size in bytes (a power of two, at least a page): room for 3640 unread events (each with an 8-byte record header). */
export const FLOWLOG_RING_BYTES = 1 << 18;
/** Flow log rate limit state (weft_lograte_v1, per CPU, one entry): tokens u64 (in 1e-9 events), last refill ns u64. */
export const LOGRATE_VALUE = 16;

/**
 * Conntrack key (40 bytes): family u8 | proto u8 | sport u16 | dport u16 | pad u16 |
 * src 16 bytes | dst 16 bytes (IPv4 in the first 4 bytes, rest zero).
 * Ports are host order. ICMP echo: sport = echo id, dport = 0.
 * The key stored is the one the reply will carry.
 */
export const CT_KEY = 40;
/** Conntrack value: generation u32 that opened it, flags u32. */
export const CT_VALUE = 8;

/** Failsafe key (20 bytes): family u8 | proto u8 | port u16 (host order) | addr 16 bytes. */
export const FAILSAFE_KEY = 20;

/** Per-CPU global counters (weft_counters_v1), index: name. */
export const COUNTERS = [
  'pass_non_ip',
  'pass_nd',
  'pass_failsafe',
  'pass_not_local',
  'pass_seen',
  'pass_ct_reply',
  'allow_policy',
  'deny_policy',
  'drop_malformed',
  'drop_fragment',
  'xdp_drop',
  'xdp_drop_early',
  'ct_full',
  'log_emitted',
  'log_suppressed',
  'log_lost',
] as const;

/** Per-CPU rule hit counters (weft_stats_v3): index slot * stride + rule + 1; + 0 is the default action. */
export const STATS_DEFAULT_INDEX = 0;
/** Rule hit counter value, per CPU: packets u64, bytes u64, generation u32 that the counts belong to, pad u32. */
export const STATS_VALUE = 24;

/** skb mark bit a TC program sets once it has judged a packet, so a forwarded packet is judged once per host. */
export const DEFAULT_SEEN_MARK = 0x00100000;

export const IR_PROTO_OTHER = 0;


function define(name: string, value: number | string): string {
  return `#define ${name} ${typeof value === 'string' ? `"${value}"` : value}`;
}

/** The C header with the same constants. */
export function renderAbiHeader(): string {
  const lines = [
    '/* Generated from targets/host/abi.ts by `make -C bpf abi`; do not edit. */',
    '#ifndef WEFT_ABI_H',
    '#define WEFT_ABI_H',
    '',
  ];
  for (const [k, v] of Object.entries(MAP)) lines.push(`#define WEFT_MAP_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()} ${v}`);
  lines.push('');
  for (const [k, v] of Object.entries(VERDICT)) lines.push(define(`WEFT_VERDICT_${k.toUpperCase()}`, v));
  for (const [k, v] of Object.entries(DIR)) lines.push(define(`WEFT_DIR_${k.toUpperCase()}`, v));
  lines.push('');
  lines.push(define('WEFT_CTL_ACTIVE_SLOT', CTL.activeSlot));
  lines.push(define('WEFT_CTL_GENERATION', CTL.generation));
  lines.push(define('WEFT_CTL_DEFAULT_SLOT0', CTL.defaultSlot0));
  lines.push(define('WEFT_CTL_FAILSAFE_COUNT', CTL.failsafeCount));
  lines.push(define('WEFT_CTL_ENTRIES', CTL.entries));
  lines.push(define('WEFT_ID_FLAG_LOCAL', ID_FLAG_LOCAL));
  lines.push(define('WEFT_ID_FLAG_DENY_INGRESS', ID_FLAG_DENY_INGRESS));
  lines.push(define('WEFT_ID4_KEY', ID4_KEY));
  lines.push(define('WEFT_ID6_KEY', ID6_KEY));
  lines.push(define('WEFT_POLICY_KEY', POLICY_KEY));
  for (const [k, v] of Object.entries(PLEN)) lines.push(define(`WEFT_PLEN_${k.toUpperCase()}`, v));
  lines.push(define('WEFT_PLEN_TABLES', PLEN_TABLES));
  lines.push(define('WEFT_PLEN_MAX', PLEN_MAX));
  lines.push(define('WEFT_LOCALS_BUCKET_BITS', LOCALS_BUCKET_BITS));
  lines.push(define('WEFT_LOCALS_BUCKETS', LOCALS_BUCKETS));
  lines.push(define('WEFT_LOCALS_WAYS', LOCALS_WAYS));
  lines.push(define('WEFT_LOCALS_BUCKET', LOCALS_BUCKET));
  lines.push(`#define WEFT_LOCALS_OVERFLOW 0x${LOCALS_OVERFLOW.toString(16)}U`);
  lines.push(define('WEFT_POLICY_VALUE', POLICY_VALUE));
  lines.push(define('WEFT_POLICY_FLAG_LOG', POLICY_FLAG_LOG));
  lines.push(define('WEFT_FLOWLOG_EVENT', FLOWLOG_EVENT));
  for (const [k, v] of Object.entries(FLOWLOG_HOOK)) lines.push(define(`WEFT_FLOWLOG_HOOK_${k.toUpperCase()}`, v));
  lines.push(define('WEFT_FLOWLOG_RING_BYTES', FLOWLOG_RING_BYTES));
  lines.push(define('WEFT_LOGRATE_VALUE', LOGRATE_VALUE));
  lines.push(define('WEFT_CT_KEY', CT_KEY));
  lines.push(define('WEFT_CT_VALUE', CT_VALUE));
  lines.push(define('WEFT_FAILSAFE_KEY', FAILSAFE_KEY));
  lines.push(define('WEFT_STATS_DEFAULT_INDEX', STATS_DEFAULT_INDEX));
  lines.push(define('WEFT_STATS_VALUE', STATS_VALUE));
  lines.push(define('WEFT_IR_PROTO_OTHER', IR_PROTO_OTHER));
  lines.push(define('WEFT_ANY_REMOTE', ANY_REMOTE));
  lines.push(`#define WEFT_DEFAULT_SEEN_MARK 0x${DEFAULT_SEEN_MARK.toString(16).padStart(8, '0')}`);
  lines.push('');
  lines.push('enum weft_counter {');
  COUNTERS.forEach((c, i) => lines.push(`\tWEFT_CNT_${c.toUpperCase()} = ${i},`));
  lines.push(`\tWEFT_CNT__MAX = ${COUNTERS.length},`);
  lines.push('};');
  lines.push('');
  lines.push('#endif /* WEFT_ABI_H */');
  return `${lines.join('\n')}\n`;
}
