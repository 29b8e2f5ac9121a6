// Readers shared by the Kubernetes and Cilium importers: CIDR blocks with
// holes, and destination ports with an optional end port.

import { isScalar } from '../yaml/node.ts';
import { parseCidr, type Cidr } from '../net/ip.ts';
import { clip, type YamlSource, type YNode } from '../yaml/source.ts';
import type { PortRange } from './model.ts';

/** A prefix as Kubernetes and Cilium write it; host bits are an error, as in Weft. */
export function readCidr(src: YamlSource, node: YNode | null, what: string): Cidr | undefined {
  const t = src.string(node, what, 'valid: a prefix like 10.0.0.0/8 or fd00::/8');
  if (t === undefined) return undefined;
  const r = parseCidr(t.trim());
  if (!r.ok) {
    src.bag.error('bad-cidr', `${what}: "${clip(t)}": ${r.reason}`, src.span(node), 'valid: an IPv4 or IPv6 prefix like 10.0.0.0/8 or fd00::/8');
    return undefined;
  }
  return r.cidr;
}

/** `except` prefixes: each must lie inside `cidr`, as the Kubernetes API demands. */
export function readExcept(src: YamlSource, node: YNode | undefined, cidr: Cidr | undefined, what: string): Cidr[] | undefined {
  if (node === undefined) return [];
  const seq = src.seq(node, `${what}.except`, 'valid: except: [10.0.5.0/24]');
  if (!seq) return undefined;
  const out: Cidr[] = [];
  let ok = true;
  for (const item of src.items(seq)) {
    const c = readCidr(src, item, `${what}.except entry`);
    if (!c) {
      ok = false;
      continue;
    }
    if (cidr && !contains(cidr, c)) {
      src.bag.error('except-outside-cidr', `${what}: except ${src.scalarText(item as YNode)} is not inside the block's cidr`, src.span(item), 'valid: except prefixes inside the cidr they carve holes into');
      ok = false;
      continue;
    }
    out.push(c);
  }
  return ok ? out : undefined;
}

function contains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.len < outer.len) return false;
  const bits = outer.family === 4 ? 32 : 128;
  const shift = BigInt(bits - outer.len);
  return inner.addr >> shift === outer.addr >> shift;
}

export type PortRead = { ok: true; port?: number } | { ok: false; named?: string };

/**
 * A port as written: a number, a numeric string, or (named) a port name,
 * which needs the pod spec and so cannot be imported.
 */
export function readPortNumber(src: YamlSource, node: YNode, what: string, min = 1): PortRead {
  const v = isScalar(node) ? node.value : undefined;
  let n: number | undefined;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^[0-9]+$/.test(v.trim())) n = Number(v.trim());
  else if (typeof v === 'string' && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(v) && /[a-z]/.test(v)) return { ok: false, named: v };
  if (n === undefined || !Number.isInteger(n) || n < min || n > 65535) {
    src.bag.error('bad-port', `${what} is ${src.describe(node)}`, src.span(node), `valid: a port number ${min}-65535 or a port name`);
    return { ok: false };
  }
  return { ok: true, port: n };
}

/** port..endPort (or port alone) for a protocol; checks the order. */
export function portRange(src: YamlSource, protocol: 'tcp' | 'udp', port: number | undefined, endNode: YNode | undefined, what: string): PortRange | undefined {
  if (port === undefined) {
    if (endNode !== undefined) src.bag.error('end-port-without-port', `${what}: endPort without port`, src.span(endNode), 'valid: endPort only together with a numeric port');
    return endNode === undefined ? { protocol, lo: 0, hi: 65535 } : undefined;
  }
  if (endNode === undefined) return { protocol, lo: port, hi: port };
  const end = src.int(endNode, `${what}: endPort`, 1, 65535, 'bad-port');
  if (end === undefined) return undefined;
  if (end < port) {
    src.bag.error('reversed-port-range', `${what}: endPort ${end} is below port ${port}`, src.span(endNode), `valid: endPort >= port (${port})`);
    return undefined;
  }
  return { protocol, lo: port, hi: end };
}
