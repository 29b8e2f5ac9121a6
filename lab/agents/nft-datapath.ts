// The lab's switch datapath: renders a SwitchAclTable into an nftables
// `bridge` family table hooked on forwarding, so the emulated switch enforces
// its ACL on the real packets crossing its bridge. Each program() replaces the
// whole table in one `nft -f` transaction (atomic: packets see the old table
// or the new one); each entry counts into a named counter.

import type { AclField, FieldMatch, SwitchAclEntry, SwitchAclTable, SwitchDatapath } from './datapath.ts';
import { formatIp } from '../../orchestrator/net/ip.ts';
import { run } from '../exec.ts';

export interface NftDatapathOptions {
  /** nftables table name (bridge family). */
  table?: string;
  /** Run nft inside this namespace; absent: the caller's own namespace. */
  netns?: string;
}

/** Field widths in bits, to tell a full mask (exact match) from a partial one. */
const WIDTH: Record<AclField, number> = {
  etherType: 16,
  ipv4Src: 32,
  ipv4Dst: 32,
  ipv6Src: 128,
  ipv6Dst: 128,
  ipProto: 8,
  l4Src: 16,
  l4Dst: 16,
  tcpFlags: 8,
  icmpType: 8,
  icmpCode: 8,
};

/**
 * The nft expression of each field. ICMP type/code are read as the first two
 * bytes of the transport header so one expression serves ICMP and ICMPv6;
 * l4 ports likewise (`th`), the entry's ipProto match saying which protocol.
 */
const EXPR: Record<AclField, string> = {
  etherType: 'ether type',
  ipv4Src: 'ip saddr',
  ipv4Dst: 'ip daddr',
  ipv6Src: 'ip6 saddr',
  ipv6Dst: 'ip6 daddr',
  ipProto: 'meta l4proto',
  l4Src: 'th sport',
  l4Dst: 'th dport',
  tcpFlags: 'tcp flags',
  icmpType: '@th,0,8',
  icmpCode: '@th,8,8',
};

/** Rendering order: cheap L2/L3 matches first, the way a TCAM key reads. */
const FIELD_ORDER: AclField[] = ['etherType', 'ipv4Src', 'ipv4Dst', 'ipv6Src', 'ipv6Dst', 'ipProto', 'l4Src', 'l4Dst', 'tcpFlags', 'icmpType', 'icmpCode'];

function formatValue(field: AclField, v: bigint): string {
  switch (field) {
    case 'ipv4Src':
    case 'ipv4Dst':
      return formatIp(4, v);
    case 'ipv6Src':
    case 'ipv6Dst':
      return formatIp(6, v);
    case 'etherType':
    case 'tcpFlags':
      return `0x${v.toString(16)}`;
    case 'ipProto':
    case 'l4Src':
    case 'l4Dst':
    case 'icmpType':
    case 'icmpCode':
      return v.toString();
  }
}

/** The prefix length of a contiguous mask, or undefined. */
function prefixLen(mask: bigint, width: number): number | undefined {
  for (let len = 0; len <= width; len++) {
    const m = len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(width - len);
    if (m === mask) return len;
  }
  return undefined;
}

/** The nft match for one field: '' when it matches everything, null when it matches nothing. */
function renderMatch(field: AclField, m: FieldMatch): string | null {
  const width = WIDTH[field];
  const full = (1n << BigInt(width)) - 1n;
  const expr = EXPR[field];
  switch (m.kind) {
    case 'ternary': {
      const mask = m.mask & full;
      // A value with bits outside its mask can never equal (field & mask).
      if ((m.value & ~mask) !== 0n) return null;
      if (mask === 0n) return '';
      const value = m.value;
      if (mask === full) return `${expr} ${formatValue(field, value)}`;
      const isAddr = field === 'ipv4Src' || field === 'ipv4Dst' || field === 'ipv6Src' || field === 'ipv6Dst';
      const len = isAddr ? prefixLen(mask, width) : undefined;
      if (len !== undefined) return `${expr} ${formatValue(field, value)}/${len}`;
      return `${expr} & ${formatValue(field, mask)} == ${formatValue(field, value)}`;
    }
    case 'range': {
      const lo = m.lo < 0n ? 0n : m.lo;
      const hi = m.hi > full ? full : m.hi;
      if (lo === 0n && hi === full) return '';
      if (lo > hi) return null;
      return lo === hi ? `${expr} ${formatValue(field, lo)}` : `${expr} ${formatValue(field, lo)}-${formatValue(field, hi)}`;
    }
    case 'set': {
      // An anonymous interval set: one lookup however many intervals.
      const items = m.ranges.filter(([lo, hi]) => lo <= hi && lo <= full).map(([lo, hi]) => [lo < 0n ? 0n : lo, hi > full ? full : hi] as const);
      if (items.length === 0) return null;
      if (items.some(([lo, hi]) => lo === 0n && hi === full)) return '';
      const text = items.map(([lo, hi]) => (lo === hi ? formatValue(field, lo) : `${formatValue(field, lo)}-${formatValue(field, hi)}`));
      return `${expr} { ${text.join(', ')} }`;
    }
  }
}

function verdict(a: 'permit' | 'deny'): string {
  return a === 'permit' ? 'accept' : 'drop';
}

export interface RenderedTable {
  text: string;
  /** Entry id -> counter name. */
  counters: Map<string, string>;
}

/** The whole nft transaction that replaces `table` with this ACL. */
export function renderNftTable(table: string, acl: SwitchAclTable): RenderedTable {
  // Higher priority wins; equal priorities keep their given order.
  const ordered = acl.entries.map((e, i) => ({ e, i })).sort((x, y) => y.e.priority - x.e.priority || x.i - y.i);
  const counters = new Map<string, string>();
  const lines: string[] = [];
  for (const { e } of ordered) {
    // Entries with one id (one table entry split over ports, families or set members) share its counter.
    let name = counters.get(e.id);
    if (name === undefined) counters.set(e.id, (name = `e${counters.size}`));
    const rule = renderEntry(e, name);
    // An entry that can match nothing keeps its counter (at zero) and no rule.
    if (rule !== null) lines.push(`    ${rule}`);
  }
  const counterDecls = [...counters.values()].map((n) => `  counter ${n} { }`);
  const text = [
    // Creating then deleting makes the delete valid when the table does not exist yet.
    `table bridge ${table} { }`,
    `delete table bridge ${table}`,
    `table bridge ${table} {`,
    ...counterDecls,
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    ...lines,
    `    ether type != { ip, ip6 } ${verdict(acl.defaultNonIp)}`,
    `    ${verdict(acl.defaultIp)}`,
    '  }',
    '}',
    '',
  ].join('\n');
  return { text, counters };
}

/** Protocols whose headers carry each transport-header field: the raw `th`/`@th` reads need the guard. */
const NEEDS_PROTO: Partial<Record<AclField, readonly bigint[]>> = {
  l4Src: [6n, 17n],
  l4Dst: [6n, 17n],
  icmpType: [1n, 58n],
  icmpCode: [1n, 58n],
};

/**
 * The entry's exact protocol, when it has one. A field the packet does not
 * carry never matches (a port match never matches ICMP); nft reads `th`
 * bytes of any protocol, so an entry whose protocol does not already say so
 * gets an explicit `meta l4proto` guard.
 */
function protoGuard(e: SwitchAclEntry): string | null {
  const p = e.match.ipProto;
  const exact = p?.kind === 'ternary' && (p.mask & 0xffn) === 0xffn ? p.value : p?.kind === 'range' && p.lo === p.hi ? p.lo : undefined;
  const guards: string[] = [];
  for (const [f, protos] of Object.entries(NEEDS_PROTO) as [AclField, readonly bigint[]][]) {
    if (!e.match[f]) continue;
    if (exact !== undefined) {
      if (!protos.includes(exact)) return null;
      continue;
    }
    guards.push(`meta l4proto { ${protos.join(', ')} }`);
  }
  return [...new Set(guards)].join(' ');
}

function renderEntry(e: SwitchAclEntry, counter: string): string | null {
  const parts: string[] = [];
  if (e.inPort !== undefined) parts.push(`iifname ${JSON.stringify(e.inPort)}`);
  const guard = protoGuard(e);
  if (guard === null) return null;
  if (guard !== '') parts.push(guard);
  for (const f of FIELD_ORDER) {
    const m = e.match[f];
    if (!m) continue;
    const r = renderMatch(f, m);
    if (r === null) return null;
    if (r !== '') parts.push(r);
  }
  parts.push(`counter name ${JSON.stringify(counter)}`, verdict(e.action));
  return parts.join(' ');
}

export class NftDatapath implements SwitchDatapath {
  private readonly table: string;
  private counterNames = new Map<string, string>();

  constructor(private readonly opts: NftDatapathOptions = {}) {
    this.table = opts.table ?? 'weft_acl';
  }

  private argv(args: string[]): string[] {
    return this.opts.netns ? ['ip', 'netns', 'exec', this.opts.netns, 'nft', ...args] : ['nft', ...args];
  }

  async program(acl: SwitchAclTable): Promise<void> {
    const r = renderNftTable(this.table, acl);
    await run(this.argv(['-f', '-']), { input: r.text });
    this.counterNames = r.counters;
  }

  async counters(): Promise<Map<string, bigint>> {
    const out = new Map<string, bigint>();
    if (this.counterNames.size === 0) return out;
    const r = await run(this.argv(['-j', 'list', 'counters', 'table', 'bridge', this.table]));
    const doc = JSON.parse(r.stdout) as { nftables: { counter?: { name: string; packets: number } }[] };
    const packets = new Map<string, bigint>();
    for (const item of doc.nftables) if (item.counter) packets.set(item.counter.name, BigInt(item.counter.packets));
    for (const [id, name] of this.counterNames) out.set(id, packets.get(name) ?? 0n);
    return out;
  }

  async close(): Promise<void> {
    await run(this.argv(['delete', 'table', 'bridge', this.table]), { allowFail: true });
    this.counterNames.clear();
  }
}
