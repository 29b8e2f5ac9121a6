// The IR builder: identities, then the ordered rules resolved into disjoint
// cells with one winning rule each, so no target ever needs rule order.

import type { Policy } from '../policy/model.ts';
import type { Fabric } from '../../inventory/model.ts';
import { buildIdentities } from '../identity/build.ts';
import { logger } from '../log.ts';
import type { CellTable, Ir, IrRule } from './model.ts';
import { forEachPair, ListInterner, protoOfSlot, resolveList, ruleReach, ruleShape, type Segments } from './expand.ts';
import { cellBudgetError, DEFAULT_MAX_CELLS, estimateCells } from './budget.ts';

const log = logger('ir');

const MAX_CHUNK = 1 << 20;

type Chunk = Omit<CellTable, 'length'>;

function chunk(size: number): Chunk {
  return {
    src: new Uint32Array(size),
    dst: new Uint32Array(size),
    proto: new Uint8Array(size),
    lo: new Uint16Array(size),
    hi: new Uint16Array(size),
    rule: new Int32Array(size),
  };
}

/**
 * Cells are written into chunks (growing up to MAX_CHUNK) and joined once at the end:
 * growing one array by doubling would copy it again and again and, with
 * large external buffers, trigger full collections of a heap that holds
 * the whole inventory.
 */
class CellWriter {
  private readonly chunks: { chunk: Chunk; used: number }[] = [];
  private cur: Chunk = chunk(4096);
  private used = 0;
  length = 0;

  add(src: number, dst: number, seg: Segments): void {
    for (let k = 0; k < seg.lo.length; k++) {
      if (this.used === this.cur.src.length) {
        this.chunks.push({ chunk: this.cur, used: this.used });
        this.cur = chunk(Math.min(MAX_CHUNK, this.length));
        this.used = 0;
      }
      const c = this.cur;
      const i = this.used++;
      c.src[i] = src;
      c.dst[i] = dst;
      c.proto[i] = protoOfSlot(seg.slot[k]);
      c.lo[i] = seg.lo[k];
      c.hi[i] = seg.hi[k];
      c.rule[i] = seg.rule[k];
      this.length++;
    }
  }

  table(): CellTable {
    const n = this.length;
    const t: CellTable = { length: n, ...chunk(n) };
    let at = 0;
    for (const { chunk: c, used: m } of [...this.chunks, { chunk: this.cur, used: this.used }]) {
      t.src.set(c.src.subarray(0, m), at);
      t.dst.set(c.dst.subarray(0, m), at);
      t.proto.set(c.proto.subarray(0, m), at);
      t.lo.set(c.lo.subarray(0, m), at);
      t.hi.set(c.hi.subarray(0, m), at);
      t.rule.set(c.rule.subarray(0, m), at);
      at += m;
    }
    return t;
  }
}

export interface BuildIrOptions {
  /** Refuse (InputError 'ir-too-large') a policy needing more cells than this. */
  maxCells?: number;
}

export function buildIr(policy: Policy, fabric: Fabric, opts: BuildIrOptions = {}): Ir {
  const maxCells = opts.maxCells ?? DEFAULT_MAX_CELLS;
  const t0 = performance.now();
  const { identities, lpm } = buildIdentities(policy, fabric);
  const t1 = performance.now();
  policy.rules.forEach((r, i) => {
    if (r.index !== i) throw new Error(`rule ${r.name}: index ${r.index} is not its position ${i}`);
  });
  const shapes = policy.rules.map((r) => ruleShape(r.ports));
  const reach = ruleReach(policy.rules, identities);
  const estimate = estimateCells(policy.rules, shapes, reach);
  if (estimate.atLeast > maxCells) {
    throw cellBudgetError(policy.rules, estimate, maxCells, identities.length);
  }
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
    // The estimate is only a lower bound (port ranges, splits by first match):
    // the budget holds here too, before any memory beyond it is taken.
    if (cells.length + seg.lo.length > maxCells) {
      throw cellBudgetError(policy.rules, estimate, maxCells, identities.length, s + 1);
    }
    cells.add(identities[s].id, identities[d].id, seg);
  }, reach);
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
    { identities: identities.length, lpm: lpm.length, pairs, lists: lists.size, cells: table.length, cellsAtLeast: estimate.atLeast, identityMs: t1 - t0, cellMs: performance.now() - t1 },
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
