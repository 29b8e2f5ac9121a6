// The IR builder: identities, then the ordered rules resolved into disjoint
// cells with one winning rule each, so no target ever needs rule order.

import type { Policy } from '../policy/model.ts';
import type { Fabric } from '../../inventory/model.ts';
import { buildIdentities } from '../identity/build.ts';
import { logger } from '../log.ts';
import type { CellTable, Ir, IrRule } from './model.ts';
import { forEachPair, ListInterner, protoOfSlot, resolveList, ruleShape, type Segments } from './expand.ts';

const log = logger('ir');

class CellWriter {
  private cap = 1024;
  length = 0;
  src = new Uint32Array(this.cap);
  dst = new Uint32Array(this.cap);
  proto = new Uint8Array(this.cap);
  lo = new Uint16Array(this.cap);
  hi = new Uint16Array(this.cap);
  rule = new Int32Array(this.cap);

  private grow(need: number): void {
    if (need <= this.cap) return;
    let cap = this.cap;
    while (cap < need) cap *= 2;
    const re = <T extends Uint32Array | Uint8Array | Uint16Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.src = re(this.src, (n) => new Uint32Array(n));
    this.dst = re(this.dst, (n) => new Uint32Array(n));
    this.proto = re(this.proto, (n) => new Uint8Array(n));
    this.lo = re(this.lo, (n) => new Uint16Array(n));
    this.hi = re(this.hi, (n) => new Uint16Array(n));
    this.rule = re(this.rule, (n) => new Int32Array(n));
    this.cap = cap;
  }

  add(src: number, dst: number, seg: Segments): void {
    const n = seg.lo.length;
    this.grow(this.length + n);
    for (let k = 0; k < n; k++) {
      const i = this.length++;
      this.src[i] = src;
      this.dst[i] = dst;
      this.proto[i] = protoOfSlot(seg.slot[k]);
      this.lo[i] = seg.lo[k];
      this.hi[i] = seg.hi[k];
      this.rule[i] = seg.rule[k];
    }
  }

  table(): CellTable {
    const n = this.length;
    return {
      length: n,
      src: this.src.slice(0, n),
      dst: this.dst.slice(0, n),
      proto: this.proto.slice(0, n),
      lo: this.lo.slice(0, n),
      hi: this.hi.slice(0, n),
      rule: this.rule.slice(0, n),
    };
  }
}

export function buildIr(policy: Policy, fabric: Fabric): Ir {
  const t0 = performance.now();
  const { identities, lpm } = buildIdentities(policy, fabric);
  const t1 = performance.now();
  policy.rules.forEach((r, i) => {
    if (r.index !== i) throw new Error(`rule ${r.name}: index ${r.index} is not its position ${i}`);
  });
  const shapes = policy.rules.map((r) => ruleShape(r.ports));
  // Many pairs share one rule list (every identity of app A against every
  // identity of app B); each distinct list is resolved once.
  const single: (Segments | undefined)[] = new Array(policy.rules.length);
  const lists = new ListInterner<Segments>();
  const resolve = (list: number[]): Segments => resolveList(list, shapes);
  const cells = new CellWriter();
  let pairs = 0;
  forEachPair(policy.rules, identities, (s, d, list) => {
    pairs++;
    const seg = list.length === 1 ? (single[list[0]] ??= resolve(list)) : lists.get(list, resolve);
    cells.add(identities[s].id, identities[d].id, seg);
  });
  const rules: IrRule[] = policy.rules.map((r) => ({
    index: r.index,
    name: r.name,
    section: r.section,
    action: r.action,
    log: r.log,
    span: r.span,
  }));
  const table = cells.table();
  log.debug(
    { identities: identities.length, lpm: lpm.length, pairs, lists: lists.size, cells: table.length, identityMs: t1 - t0, cellMs: performance.now() - t1 },
    'ir built',
  );
  return {
    policyName: policy.name,
    policyDigest: policy.digest,
    fabricDigest: fabric.digest,
    defaultAction: policy.defaultAction,
    identities,
    lpm,
    rules,
    cells: table,
  };
}
