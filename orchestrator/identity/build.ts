// Identities: the address space of both families cut into classes of equal
// group membership, and the longest-prefix table that maps an address to its
// class (README, Semantics). Overlapping CIDRs, except holes and endpoint
// addresses are resolved here, once, by one walk over the sorted
// "interesting" prefixes.

import { FAMILY_BITS, type Family } from '../net/ip.ts';
import type { Policy } from '../policy/model.ts';
import type { Fabric } from '../../inventory/model.ts';
import { WORLD_IDENTITY, type Identity, type LpmEntry } from '../ir/model.ts';

/** Ids below this are reserved (0: none, WORLD_IDENTITY: the empty class). */
export const FIRST_HASHED_IDENTITY = 256;
const ID_SPACE = 1 << 24;

interface Node {
  family: Family;
  addr: bigint;
  len: number;
  cidrOf: number[]; // group indices having this prefix in `cidrs`
  exceptOf: number[]; // ... in `except`
  selectedBy: number[]; // groups selecting an endpoint with this (host) address
  endpoints: string[];
}

/** Sorted union of two sorted, duplicate-free lists. */
export function union(a: readonly number[], b: readonly number[]): number[] {
  if (b.length === 0) return a as number[];
  if (a.length === 0) return b as number[];
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i] < b[j])) out.push(a[i++]);
    else if (i >= a.length || b[j] < a[i]) out.push(b[j++]);
    else {
      out.push(a[i++]);
      j++;
    }
  }
  return out;
}

export function sortedUnique(xs: number[]): number[] {
  xs.sort((x, y) => x - y);
  return xs.filter((x, i) => i === 0 || xs[i - 1] !== x);
}

/** The groups naming a prefix or one of its ancestors (`parent`: the ancestors' chain), sorted. */
export function extendChain(parent: number[] | undefined, own: readonly number[]): number[] {
  if (own.length === 0 && parent) return parent;
  return union(parent ?? [], sortedUnique([...own]));
}

/** Groups an address gets from its prefixes' CIDRs: those in `cidrs` along its chain and in no `except` along it. */
export function cidrMembership(cidrChain: number[], exceptChain: number[]): number[] {
  return exceptChain.length === 0 ? cidrChain : cidrChain.filter((g) => !exceptChain.includes(g));
}

/** For each endpoint, the indices of the groups whose selector it satisfies. */
export function selectedGroups(groupSelectors: (Record<string, string> | undefined)[], fabric: Fabric): number[][] {
  // Index selectors by one of their key=value pairs (key, then value, so a
  // lookup builds no string) so each endpoint only checks groups that can
  // possibly select it.
  const byPair = new Map<string, Map<string, number[]>>();
  const matchAll: number[] = [];
  groupSelectors.forEach((sel, gi) => {
    if (!sel) return;
    const first = Object.entries(sel)[0];
    if (!first) {
      matchAll.push(gi);
      return;
    }
    let byValue = byPair.get(first[0]);
    if (!byValue) byPair.set(first[0], (byValue = new Map()));
    const list = byValue.get(first[1]);
    if (list) list.push(gi);
    else byValue.set(first[1], [gi]);
  });
  // Endpoints with the same labels select the same groups.
  const memo = new Map<string, number[]>();
  return fabric.endpoints.map((ep) => {
    const labelKey = JSON.stringify(ep.labels);
    const known = memo.get(labelKey);
    if (known) return known;
    const out = [...matchAll];
    for (const k in ep.labels) {
      const candidates = byPair.get(k)?.get(ep.labels[k]);
      if (!candidates) continue;
      for (const gi of candidates) {
        const sel = groupSelectors[gi]!;
        let ok = true;
        for (const sk in sel) {
          if (ep.labels[sk] !== sel[sk]) {
            ok = false;
            break;
          }
        }
        if (ok) out.push(gi);
      }
    }
    const sel = sortedUnique(out);
    memo.set(labelKey, sel);
    return sel;
  });
}

/** Slots of the id space (ids from FIRST_HASHED_IDENTITY on). */
export const ID_SLOTS = ID_SPACE - FIRST_HASHED_IDENTITY;

/** The slot a signature (sorted group names) hashes to: fnv1a of the names joined by newlines, without joining them. */
export function signatureSlot(names: readonly string[]): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < names.length; k++) {
    if (k > 0) {
      h ^= 10;
      h = Math.imul(h, 0x01000193);
    }
    const name = names[k];
    for (let i = 0; i < name.length; i++) {
      h ^= name.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
  }
  return (h >>> 0) % ID_SLOTS;
}

/**
 * Assigns ids to membership signatures: a hash of the sorted group names into
 * a 24-bit space, so an identity keeps its id when an edit does not touch
 * its groups. Collisions probe linearly, in signature order.
 */
export function assignIds(signatures: string[][]): number[] {
  const order = signatures.map((_, i) => i);
  const text = signatures.map((s) => s.join('\n'));
  order.sort((a, b) => (text[a] < text[b] ? -1 : text[a] > text[b] ? 1 : 0));
  const taken = new Set<number>();
  const ids = new Array<number>(signatures.length);
  const span = ID_SLOTS;
  for (const i of order) {
    if (signatures[i].length === 0) {
      ids[i] = WORLD_IDENTITY;
      continue;
    }
    let slot = signatureSlot(signatures[i]);
    while (taken.has(slot)) slot = (slot + 1) % span;
    taken.add(slot);
    ids[i] = FIRST_HASHED_IDENTITY + slot;
  }
  return ids;
}

export interface IdentityTable {
  identities: Identity[];
  lpm: LpmEntry[];
}

export function buildIdentities(policy: Policy, fabric: Fabric): IdentityTable {
  const groups = [...policy.groups.values()];
  // One map per (family, length), keyed by the address itself.
  const byLen: Record<Family, Map<bigint, Node>[]> = {
    4: Array.from({ length: 33 }, () => new Map()),
    6: Array.from({ length: 129 }, () => new Map()),
  };
  const list: Node[] = [];
  const nodeAt = (family: Family, addr: bigint, len: number): Node => {
    const m = byLen[family][len];
    let n = m.get(addr);
    if (!n) {
      n = { family, addr, len, cidrOf: [], exceptOf: [], selectedBy: [], endpoints: [] };
      m.set(addr, n);
      list.push(n);
    }
    return n;
  };
  nodeAt(4, 0n, 0);
  nodeAt(6, 0n, 0);
  groups.forEach((g, gi) => {
    for (const c of g.cidrs) nodeAt(c.family, c.addr, c.len).cidrOf.push(gi);
    for (const c of g.except) nodeAt(c.family, c.addr, c.len).exceptOf.push(gi);
  });
  const selected = selectedGroups(
    groups.map((g) => g.selector),
    fabric,
  );
  fabric.endpoints.forEach((ep, ei) => {
    for (const a of ep.addresses) {
      const n = nodeAt(a.family, a.value, FAMILY_BITS[a.family]);
      n.selectedBy = union(n.selectedBy, selected[ei]);
      if (n.endpoints[n.endpoints.length - 1] !== ep.name) n.endpoints.push(ep.name);
    }
  });

  list.sort((a, b) => a.family - b.family || (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : a.len - b.len));
  const count = list.length;

  // Pass 1: the prefix tree (parent of each node), each node's membership
  // signature from its chain of ancestors, and how much of it is covered by
  // longer prefixes.
  const parent = new Int32Array(count).fill(-1);
  const covered = new Array<bigint>(count).fill(0n);
  const sigOf = new Int32Array(count);
  const sigIndex = new Map<string, number>();
  const signatures: string[][] = [];
  const cidrChain: number[][] = new Array(count);
  const exceptChain: number[][] = new Array(count);
  const stack: number[] = [];
  const hiOf = (n: Node): bigint => n.addr | ((1n << BigInt(FAMILY_BITS[n.family] - n.len)) - 1n);
  const hi = list.map(hiOf);
  for (let i = 0; i < count; i++) {
    const n = list[i];
    while (stack.length > 0) {
      const top = list[stack[stack.length - 1]];
      if (top.family === n.family && n.addr <= hi[stack[stack.length - 1]]) break;
      stack.pop();
    }
    const p = stack.length > 0 ? stack[stack.length - 1] : -1;
    parent[i] = p;
    const inherited = p >= 0;
    cidrChain[i] = extendChain(inherited ? cidrChain[p] : undefined, n.cidrOf);
    exceptChain[i] = extendChain(inherited ? exceptChain[p] : undefined, n.exceptOf);
    if (p >= 0) covered[p] += 1n << BigInt(FAMILY_BITS[n.family] - n.len);
    const member = union(cidrMembership(cidrChain[i], exceptChain[i]), n.selectedBy);
    const key = member.join(',');
    let s = sigIndex.get(key);
    if (s === undefined) {
      s = signatures.length;
      sigIndex.set(key, s);
      signatures.push(member.map((gi) => groups[gi].name).sort());
    }
    sigOf[i] = s;
    stack.push(i);
  }

  // Pass 2 (parents come before children): keep a prefix only when it owns
  // addresses of its own and differs from what its nearest kept ancestor
  // gives. A /0 owning nothing takes a class that exists, so that no class
  // without addresses ever appears.
  const effective = new Int32Array(count);
  const keep = new Uint8Array(count);
  const own = (i: number): boolean => covered[i] < 1n << BigInt(FAMILY_BITS[list[i].family] - list[i].len);
  const used = new Map<number, { families: number; endpoints: Set<string> }>();
  for (let i = 0; i < count; i++) {
    const n = list[i];
    let s = sigOf[i];
    if (n.len === 0 && !own(i)) {
      let j = i + 1;
      while (!own(j)) j++; // a fully covered /0 has a descendant with addresses
      s = sigOf[j];
      sigOf[i] = s;
    }
    if (own(i)) {
      let u = used.get(s);
      if (!u) {
        u = { families: 0, endpoints: new Set() };
        used.set(s, u);
      }
      u.families |= n.family === 4 ? 1 : 2;
      for (const e of n.endpoints) u.endpoints.add(e);
    }
    const p = parent[i];
    if (n.len === 0) {
      keep[i] = 1;
      effective[i] = s;
    } else if (own(i) && s !== effective[p]) {
      keep[i] = 1;
      effective[i] = s;
    } else {
      effective[i] = effective[p];
    }
  }

  const usedSigs = [...used.keys()];
  const ids = assignIds(usedSigs.map((s) => signatures[s]));
  const idOfSig = new Map<number, number>();
  usedSigs.forEach((s, k) => idOfSig.set(s, ids[k]));

  const identities: Identity[] = usedSigs.map((s) => {
    const u = used.get(s)!;
    const families: Family[] = [];
    if (u.families & 1) families.push(4);
    if (u.families & 2) families.push(6);
    return { id: idOfSig.get(s)!, groups: signatures[s], endpoints: [...u.endpoints].sort(), families };
  });
  identities.sort((a, b) => a.id - b.id);

  const lpm: LpmEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (!keep[i]) continue;
    const n = list[i];
    lpm.push({ prefix: { family: n.family, addr: n.addr, len: n.len }, id: idOfSig.get(sigOf[i])! });
  }
  return { identities, lpm };
}
