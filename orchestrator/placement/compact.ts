// The compact form of a placement (model.ts, CompactPlacement) and the
// Placement read from it. A rule's points are built from its fragments the
// first time someone asks for them, so placing or loading a large fabric
// costs the distinct points, not rules times devices.

import { COMPACT_PLACEMENT_FORMAT, type CompactPlacement, type DevicePlacement, type Placement, type RulePlacement } from './model.ts';

type Point = RulePlacement['points'][number];

/** The compact form each Placement was made from, so writing it back never expands it. */
const compactForms = new WeakMap<Placement, CompactPlacement>();

/** A rule's two fragments merged by device, source side first on each device (the order placement has always listed). */
function mergedPointIds(c: CompactPlacement, from: number, to: number): number[] {
  const a = from >= 0 ? c.fragments[from] : [];
  const b = to >= 0 ? c.fragments[to] : [];
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && c.points[a[i]][0] <= c.points[b[j]][0])) out.push(a[i++]);
    else out.push(b[j++]);
  }
  return out;
}

class LazyRulePlacement implements RulePlacement {
  private built: Point[] | undefined;
  constructor(
    readonly rule: number,
    readonly name: string,
    private readonly pointIds: () => number[],
    private readonly pointAt: (id: number) => Point,
  ) {}

  get points(): Point[] {
    this.built ??= this.pointIds().map(this.pointAt);
    return this.built;
  }

  toJSON(): RulePlacement {
    return { rule: this.rule, name: this.name, points: this.points };
  }
}

export function placementFromCompact(c: CompactPlacement): Placement {
  const points: (Point | undefined)[] = new Array(c.points.length);
  const pointAt = (id: number): Point => {
    let p = points[id];
    if (!p) {
      const [view, attach, mode, reason] = c.points[id];
      const d: DevicePlacement = c.devices[view];
      points[id] = p = { device: d.device, target: d.target, attach, mode, reason };
    }
    return p;
  };
  const placement: Placement = {
    devices: c.devices,
    rules: c.rules.map((r) => new LazyRulePlacement(r.rule, r.name, () => mergedPointIds(c, r.from, r.to), pointAt)),
  };
  compactForms.set(placement, c);
  return placement;
}

/** A placement in compact form: the one it was made from, or one built from its rules' points (a placement assembled by hand). */
export function compactPlacement(p: Placement): CompactPlacement {
  const known = compactForms.get(p);
  if (known) return known;
  const view = new Map(p.devices.map((d, i) => [d.device, i]));
  const points: CompactPlacement['points'] = [];
  const ids = new Map<string, number>();
  const fragments: number[][] = [];
  const rules = p.rules.map((r) => {
    if (r.points.length === 0) return { rule: r.rule, name: r.name, from: -1, to: -1 };
    const fragment = r.points.map((x) => {
      const row: CompactPlacement['points'][number] = [view.get(x.device) ?? -1, x.attach, x.mode, x.reason];
      if (row[0] < 0) throw new Error(`placement: rule ${r.name} has a point on ${x.device}, which is not a placed device`);
      const key = JSON.stringify(row);
      let id = ids.get(key);
      if (id === undefined) {
        ids.set(key, (id = points.length));
        points.push(row);
      }
      return id;
    });
    fragments.push(fragment);
    return { rule: r.rule, name: r.name, from: fragments.length - 1, to: -1 };
  });
  return { format: COMPACT_PLACEMENT_FORMAT, devices: p.devices, points, fragments, rules };
}

/** The point indices of each rule, in order, as `placement.rules[i].points` lists them; for readers that index points themselves. */
export function rulePointIds(c: CompactPlacement, index: number): number[] {
  const r = c.rules[index];
  return mergedPointIds(c, r.from, r.to);
}

/** placement.json: the compact form, one line per table row so a diff shows what moved. */
export function placementJson(p: Placement): string {
  const c = compactPlacement(p);
  const rows = (xs: unknown[]): string => (xs.length ? `[\n${xs.map((x) => `  ${JSON.stringify(x)}`).join(',\n')}\n ]` : '[]');
  return `{\n "format": ${JSON.stringify(c.format)},\n "devices": ${rows(c.devices)},\n "points": ${rows(c.points)},\n "fragments": ${rows(c.fragments)},\n "rules": ${rows(c.rules)}\n}\n`;
}

/** Reads placement.json: the compact form, or the expanded one earlier bundles hold. */
export function placementFromJson(json: unknown): Placement {
  if (json && typeof json === 'object' && (json as { format?: unknown }).format === COMPACT_PLACEMENT_FORMAT) return placementFromCompact(json as CompactPlacement);
  return json as Placement;
}
