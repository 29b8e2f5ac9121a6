// Remote classes: remotes grouped by the rules naming them get the same rows
// from every local (checked against the rows each member gets on its own),
// rows merge only when equal in every field, and on the data-center shapes a
// host holds far fewer entries than one row per remote identity would give.

import { describe, expect, it } from 'vitest';
import { shapeYaml, SHAPE_DEFAULTS } from '../../bench/scenarios.ts';
import { parseInventory } from '../../inventory/load.ts';
import { buildIr } from '../../orchestrator/ir/build.ts';
import { AlikeRemotes, ANY_REMOTE, forEachShareRow, type Segments } from '../../orchestrator/ir/share.ts';
import { irReach } from '../../orchestrator/ir/reach.ts';
import { parsePolicy } from '../../orchestrator/policy/load.ts';
import { generateScenario, makeRng } from '../../orchestrator/testing/generate.ts';
import { remoteClasses, ShareRows } from './remote-classes.ts';
import { computeShare, localEndpointsOf, portPrefixes, resolveIdentity } from './share.ts';
import type { Ir } from '../../orchestrator/ir/model.ts';
import type { Device, Fabric } from '../../inventory/model.ts';

const seg = (rule: number, lo = 80, hi = 80, slot = 2): Segments => ({ slot: [slot], lo: [lo], hi: [hi], rule: [rule] });

function localsOf(ir: Ir, fabric: Fabric, device: Device): Set<number> {
  const L = new Set<number>();
  for (const e of localEndpointsOf(fabric, device)) for (const a of e.addresses) L.add(resolveIdentity(ir, a));
  return L;
}

/** Each remote's rows as text, in emission order, from the share without grouping. */
function rowsByRemote(ir: Ir, L: Set<number>): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const dir of ['egress', 'ingress'] as const) {
    forEachShareRow(ir, L, dir, (local, remote, s) => {
      const text = `${dir} ${local} ${JSON.stringify(s)}`;
      const l = out.get(remote);
      if (l) l.push(text);
      else out.set(remote, [text]);
    });
  }
  return out;
}

describe('remoteClasses', () => {
  it('merges remotes whose rows are equal in every field, and no others', () => {
    const rows = new ShareRows();
    const L = new Set([1]);
    // 10 and 11 alike (11's segment list an equal copy, not the same object); 12 differs in the port, 13 in the rule, 14 in the direction.
    for (const [dir, remote, s] of [
      ['egress', 10, seg(0)],
      ['egress', 11, seg(0)],
      ['egress', 12, seg(0, 81, 81)],
      ['egress', 13, seg(1)],
      ['ingress', 14, seg(0)],
      ['egress', ANY_REMOTE, seg(2)],
      ['egress', 1, seg(0)],
    ] as const) {
      rows.push(dir, 1, remote, s);
    }
    const classOf = remoteClasses(rows, L);
    expect(Object.fromEntries(classOf)).toEqual({ 10: 10, 11: 10, 12: 12, 13: 13, 14: 14 });
  });

  it('reads cells into one row per (local, remote)', () => {
    const rows = new ShareRows();
    rows.pushCells('egress', [
      { local: 1, remote: 5, proto: 6, lo: 80, hi: 80, rule: 0 },
      { local: 1, remote: 5, proto: 17, lo: 53, hi: 53, rule: 1 },
      { local: 1, remote: 6, proto: 6, lo: 80, hi: 80, rule: 0 },
      { local: 2, remote: 6, proto: 6, lo: 80, hi: 80, rule: 0 },
    ]);
    expect(rows.length).toBe(3);
    expect(rows.remote).toEqual([5, 6, 6]);
    expect(rows.seg[0].lo).toEqual([80, 53]);
  });
});

describe('AlikeRemotes', () => {
  it('groups only remotes that every local gives the same rows (generated scenarios and a data-center shape)', () => {
    const cases: { ir: Ir; fabric: Fabric }[] = [];
    for (const seed of [21, 22, 23]) {
      const { policy, fabric } = generateScenario(makeRng(seed));
      cases.push({ ir: buildIr(policy, fabric), fabric });
    }
    const files = shapeYaml('correlated', { ...SHAPE_DEFAULTS, rules: 300, endpoints: 2000, devices: 60, apps: 200 });
    const fabric = parseInventory(files.fabric, 'fabric.yaml');
    cases.push({ ir: buildIr(parsePolicy(files.policy, 'policy.yaml'), fabric), fabric });
    let grouped = 0;
    let groups = 0;
    let groupedDataCenter = 0;
    for (const [k, { ir, fabric }] of cases.entries()) {
      const reach = irReach(ir);
      for (const device of fabric.devices.filter((d) => d.kind === 'host').slice(0, 4)) {
        const L = localsOf(ir, fabric, device);
        const alike = new AlikeRemotes(ir, L);
        const rows = rowsByRemote(ir, L);
        for (let d = 0; d < reach.count; d++) {
          const first = alike.first[d];
          const id = ir.identities[d].id;
          if (L.has(id)) expect(first).toBe(d);
          // A remote in no group has no rows.
          if (first < 0) {
            expect(rows.get(id)).toBeUndefined();
            continue;
          }
          if (first === d) {
            groups++;
            continue;
          }
          grouped++;
          if (k === cases.length - 1) groupedDataCenter++;
          expect(alike.groupOf(id)).toBe(ir.identities[first].id);
          expect(rows.get(id) ?? []).toEqual(rows.get(ir.identities[first].id) ?? []);
        }
      }
    }
    console.log(`alike remotes: ${grouped} remotes in the group of another (${groupedDataCenter} on the data-center shape), ${groups} groups, on ${cases.length * 4} hosts, every one with its group's rows`);
    expect(groupedDataCenter).toBeGreaterThan(500);
  });
});

describe('a host share with remote classes', () => {
  it('holds one set of cells per class on the correlated shape', () => {
    const files = shapeYaml('correlated', { ...SHAPE_DEFAULTS, rules: 400, endpoints: 3000, devices: 66, apps: 300 });
    const policy = parsePolicy(files.policy, 'policy.yaml');
    const fabric = parseInventory(files.fabric, 'fabric.yaml');
    const ir = buildIr(policy, fabric);
    const host = fabric.devices.find((d) => d.name === 'host0')!;
    const share = computeShare(ir, fabric, host);
    const L = localsOf(ir, fabric, host);
    // The entries one row per remote identity would take: every cell's port range as prefixes.
    let perRemote = 0;
    for (const dir of ['egress', 'ingress'] as const) {
      forEachShareRow(ir, L, dir, (_l, _r, s) => {
        for (let i = 0; i < s.lo.length; i++) perRemote += portPrefixes(s.lo[i], s.hi[i]).length;
      });
    }
    const remotes = new Set(share.policy.map((p) => p.remote));
    console.log(`host0: ${share.policy.length} policy entries for ${remotes.size} remotes (classes, locals and ANY_REMOTE); one row per remote identity takes ${perRemote}`);
    expect(share.policy.length * 1.5).toBeLessThan(perRemote);
  });
});
