// IP address and prefix values. Addresses are bigints in both families so the
// identity sweep and the datapath encoders treat IPv4 and IPv6 alike.

export type Family = 4 | 6;

export const FAMILY_BITS: Record<Family, number> = { 4: 32, 6: 128 };

export interface IpAddr {
  family: Family;
  value: bigint;
}

/** A prefix in canonical form: host bits of `addr` are zero. */
export interface Cidr {
  family: Family;
  addr: bigint;
  len: number;
}

/**
 * Dotted quad, each part 0-255 without leading zeros. Read character by
 * character into a number, made a bigint once: a fabric file holds an
 * address per endpoint, and splitting, matching and shifting bigints per
 * part was a large share of loading one.
 */
export function parseIpv4(text: string): bigint | undefined {
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || dots === 3) return undefined;
      v = v * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && part === 0) return undefined; // a leading zero
      part = part * 10 + (c - 0x30);
      if (++digits > 3 || part > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || digits === 0) return undefined;
  return BigInt(v * 256 + part);
}

export function parseIpv6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.includes(':::')) return undefined;
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    tailV4 = parseIpv4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = head.split('::');
  if (dbl.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const left = parseGroups(dbl[0]);
  const right = dbl.length === 2 ? parseGroups(dbl[1]) : [];
  if (!left || !right) return undefined;
  let groups: number[];
  if (dbl.length === 2) {
    const fill = 8 - left.length - right.length;
    if (fill < 1) return undefined;
    groups = [...left, ...new Array<number>(fill).fill(0), ...right];
  } else {
    groups = left;
  }
  if (groups.length !== 8) return undefined;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  if (tailV4 !== undefined) v = (v & ~0xffffffffn) | tailV4;
  return v;
}

export function parseIp(text: string): IpAddr | undefined {
  if (text.includes(':')) {
    const v = parseIpv6(text);
    return v === undefined ? undefined : { family: 6, value: v };
  }
  const v = parseIpv4(text);
  return v === undefined ? undefined : { family: 4, value: v };
}

export type CidrParse = { ok: true; cidr: Cidr } | { ok: false; reason: string };

/**
 * Parses "a.b.c.d/len", "x::/len" or a bare address (a host prefix).
 * Host bits set below the prefix length are an error, as in most NOS CLIs,
 * because they usually mean a typo in the length.
 */
export function parseCidr(text: string): CidrParse {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(addrText);
  if (!ip) return { ok: false, reason: `"${addrText}" is not an IPv4 or IPv6 address` };
  const bits = FAMILY_BITS[ip.family];
  let len = bits;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(lenText) || Number(lenText) > bits) {
      return { ok: false, reason: `prefix length "${lenText}" is not within 0-${bits} for IPv${ip.family}` };
    }
    len = Number(lenText);
  }
  const hostMask = (1n << BigInt(bits - len)) - 1n;
  if ((ip.value & hostMask) !== 0n) {
    const canon = formatCidr({ family: ip.family, addr: ip.value & ~hostMask, len });
    return { ok: false, reason: `host bits are set below /${len} (did you mean ${canon}?)` };
  }
  return { ok: true, cidr: { family: ip.family, addr: ip.value, len } };
}

export function formatIp(family: Family, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (>= 2) of zero groups, leftmost on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.family, c.addr)}/${c.len}`;
}

/** First and last address covered by a prefix. */
export function cidrRange(c: Cidr): { lo: bigint; hi: bigint } {
  const hostBits = BigInt(FAMILY_BITS[c.family] - c.len);
  return { lo: c.addr, hi: c.addr | ((1n << hostBits) - 1n) };
}

/** True when two prefixes share an address (prefixes either nest or are disjoint). */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const ra = cidrRange(a);
  const rb = cidrRange(b);
  return ra.lo <= rb.hi && rb.lo <= ra.hi;
}

/** The minimal list of prefixes covering [lo, hi] exactly. */
export function rangeToCidrs(family: Family, lo: bigint, hi: bigint): Cidr[] {
  const bits = FAMILY_BITS[family];
  const out: Cidr[] = [];
  let cur = lo;
  while (cur <= hi) {
    let size = 0;
    while (size < bits) {
      const next = size + 1;
      const mask = (1n << BigInt(next)) - 1n;
      if ((cur & mask) !== 0n) break;
      if (cur + mask > hi) break;
      size = next;
    }
    out.push({ family, addr: cur, len: bits - size });
    cur += 1n << BigInt(size);
  }
  return out;
}
