// Make-before-break by generation, checked on the switch's own semantics:
// two policies' entries from codegen (the second relabels addresses), the
// plan from one to the other and back, and the switch after every prefix of
// its updates (entries and the generation flag) evaluated on generated
// packets. Each packet must meet its whole old verdict or its whole new one
// at every step; a change cut short at any point must run exactly the old or
// the new policy and be finished (resume) or undone (rollback) the same way;
// a table too small for two generations is changed in place with all IP
// dropped meanwhile, so no packet is ever permitted that both policies deny.

import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateFlows, makeRng } from '../../orchestrator/testing/generate.ts';
import { packetOfFlow, type SwitchPacket } from '../switch-common/index.ts';
import { readDesiredEntries } from './driver.ts';
import { p4EntryFromProto } from './entries.ts';
import { versioningOf } from './generation.ts';
import { P4INFO, PIPELINE } from './p4info.ts';
import { PipelineModel } from './semantics.ts';
import { entryString, keyString, type WireEntry } from './table-entry.ts';
import { driftOf, inGeneration, planTransition, splitGenerations, type SwitchTables, type TransitionPlan, type Update } from './transition.ts';
import { changedPolicy, p4Scenario, writeP4Bundle, type P4Scenario } from '../../test/p4/scenario.ts';

const V = versioningOf(PIPELINE);
const ROOMY = (): number => 4096;

/** A switch as its tables and flag: updates applied one by one, as PI applies them. */
class FakeSwitch {
  readonly table = new Map<string, WireEntry>();
  active = 0;
  static of(t: SwitchTables): FakeSwitch {
    const s = new FakeSwitch();
    for (const e of t.entries) s.table.set(keyString(e), e);
    s.active = t.active;
    return s;
  }
  apply(updates: Update[]): void {
    for (const u of updates) {
      if (u.entry.isDefaultAction) {
        expect(u.type).toBe('MODIFY');
        this.active = V.activeOf(u.entry);
      } else if (u.type === 'DELETE') expect(this.table.delete(keyString(u.entry)), `delete ${keyString(u.entry)}`).toBe(true);
      else {
        if (u.type === 'INSERT') expect(this.table.has(keyString(u.entry)), `insert ${keyString(u.entry)}`).toBe(false);
        this.table.set(keyString(u.entry), u.entry);
      }
    }
  }
  tables(): SwitchTables {
    return { entries: [...this.table.values()], active: this.active };
  }
  verdicts(packets: SwitchPacket[]): string[] {
    const entries = [...this.table.values()].map((e) => p4EntryFromProto(e as never));
    const model = new PipelineModel(
      entries.flatMap((e) => (e.kind === 'acl' ? [e.entry] : [])),
      entries.flatMap((e) => (e.kind === 'class' ? [e.entry] : [])),
      this.active,
    );
    return packets.map((p) => model.evaluate(p));
  }
}

/** Verdicts of a policy (codegen's entries) alone. */
function policyVerdicts(desired: WireEntry[], packets: SwitchPacket[]): string[] {
  return FakeSwitch.of({ entries: desired, active: 0 }).verdicts(packets);
}

interface Policies {
  s: P4Scenario;
  a: WireEntry[];
  b: WireEntry[];
  packets: SwitchPacket[];
}

async function policies(): Promise<Policies> {
  const s = p4Scenario(2);
  const dir = mkdtempSync(join(tmpdir(), `weft-transition-${process.pid}-`));
  try {
    await writeP4Bundle(s, join(dir, 'a'));
    await writeP4Bundle(changedPolicy(s), join(dir, 'b'));
    const a = await readDesiredEntries(join(dir, 'a'), P4INFO);
    const b = await readDesiredEntries(join(dir, 'b'), P4INFO);
    const ports = [...s.exactPorts, ...s.prefilterPorts];
    const packets = generateFlows(makeRng(5), s.policy, s.fabric, 400).map((f, i) => packetOfFlow(f, { inPort: ports[i % ports.length] }));
    return { s, a, b, packets };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Prefix lengths to check: a stride over the updates plus both sides of every batch boundary (where the flag flips). */
function prefixes(plan: TransitionPlan): number[] {
  const n = plan.batches.flat().length;
  const out = new Set<number>([0, n]);
  const stride = Math.max(1, Math.floor(n / 20));
  for (let i = 0; i < n; i += stride) out.add(i);
  let at = 0;
  for (const b of plan.batches) {
    out.add(at);
    out.add(Math.min(n, at + 1));
    at += b.length;
    out.add(Math.max(0, at - 1));
    out.add(at);
  }
  return [...out].sort((x, y) => x - y);
}

/** Runs the plan on a copy of `sw` prefix by prefix; each packet's verdict must be one of `allowed(k)`. Returns how many tables were checked. */
function checkEveryPrefix(sw: FakeSwitch, plan: TransitionPlan, packets: SwitchPacket[], allowed: (k: number) => string[]): number {
  const updates = plan.batches.flat();
  let checked = 0;
  for (const i of prefixes(plan)) {
    const t = FakeSwitch.of(sw.tables());
    t.apply(updates.slice(0, i));
    t.verdicts(packets).forEach((v, k) => expect(allowed(k), `packet ${k} after ${i} of ${updates.length} updates`).toContain(v));
    checked++;
  }
  return checked;
}

describe('planTransition', () => {
  it('a relabelling change is make-before-break: every prefix of the writes gives each packet its old verdict or its new one', async () => {
    const { a, b, packets } = await policies();
    // The second policy relabels: a prefix both classify gets another label.
    const labels = (es: WireEntry[]) => new Map(es.filter((e) => !e.priority).map((e) => [keyString(e), JSON.stringify(e.action)]));
    const [la, lb] = [labels(a), labels(b)];
    expect([...lb].some(([k, l]) => la.has(k) && la.get(k) !== l)).toBe(true);

    const sw = new FakeSwitch();
    sw.apply(planTransition(sw.tables(), a, ROOMY, V).batches.flat());
    let steps = 0;
    let changed = 0;
    for (const target of [b, a, b]) {
      const before = sw.verdicts(packets);
      const after = policyVerdicts(target, packets);
      changed += before.filter((v, k) => v !== after[k]).length;
      const plan = planTransition(sw.tables(), target, ROOMY, V);
      expect(plan).toMatchObject({ active: 1 - sw.active, inPlace: [], closed: false });
      // One flip, between the new generation's writes and the old one's deletes.
      const flips = plan.batches.flatMap((bt, i) => (bt.some((u) => u.entry.isDefaultAction) ? [i] : []));
      expect(flips).toEqual([plan.batches.length - 2]);
      expect(plan.batches[plan.batches.length - 2]).toHaveLength(1);
      steps += checkEveryPrefix(sw, plan, packets, (k) => [before[k], after[k]]);
      sw.apply(plan.batches.flat());
      expect(sw.tables().entries.map(entryString).sort()).toEqual(plan.final.map(entryString).sort());
      expect(sw.verdicts(packets)).toEqual(after);
      expect(driftOf(sw.tables(), target, V)).toEqual([]);
    }
    console.log(`make-before-break (relabelling): ${packets.length} packets checked at ${steps} intermediate tables, ${changed} verdicts changed`);
    expect(changed).toBeGreaterThan(0);
    // Nothing to do when the switch already runs the policy.
    expect(planTransition(sw.tables(), b, ROOMY, V).batches).toEqual([]);
  }, 120_000);

  it('a change cut short at any update runs exactly the old or the new policy; resume and rollback finish it make-before-break', async () => {
    const { a, b, packets } = await policies();
    const base = new FakeSwitch();
    base.apply(planTransition(base.tables(), a, ROOMY, V).batches.flat());
    const [va, vb] = [policyVerdicts(a, packets), policyVerdicts(b, packets)];
    const plan = planTransition(base.tables(), b, ROOMY, V);
    const updates = plan.batches.flat();
    // Cut inside and at the end of every batch: the first update, the middle, the last.
    const cuts: number[] = [];
    let at = 0;
    for (const batch of plan.batches) {
      cuts.push(at + 1, at + Math.floor(batch.length / 2), at + batch.length);
      at += batch.length;
    }
    cuts.splice(0, cuts.length, ...[...new Set(cuts)].filter((i) => i > 0 && i < updates.length).sort((x, y) => x - y));
    let recoveries = 0;
    for (const cut of cuts) {
      const sw = FakeSwitch.of(base.tables());
      sw.apply(updates.slice(0, cut));
      // Never a mix: the active generation is one policy whole.
      const live = splitGenerations(sw.tables(), V).live.map(entryString).sort();
      const whole = (p: WireEntry[]) => p.map((e) => entryString(inGeneration(e, sw.active, V))).sort();
      expect([JSON.stringify(whole(a)), JSON.stringify(whole(b))], `cut after ${cut} updates`).toContain(JSON.stringify(live));
      const runs = JSON.stringify(live) === JSON.stringify(whole(a)) ? 'old' : 'new';
      expect(driftOf(sw.tables(), runs === 'old' ? a : b, V), `cut after ${cut}`).toEqual([]);
      // Resume (b again) and rollback (a again), each checked at every prefix.
      for (const [target, want] of [
        [b, vb],
        [a, va],
      ] as const) {
        const now = sw.verdicts(packets);
        const rec = planTransition(sw.tables(), target, ROOMY, V);
        checkEveryPrefix(sw, rec, packets, (k) => [now[k], want[k]]);
        const done = FakeSwitch.of(sw.tables());
        done.apply(rec.batches.flat());
        expect(done.verdicts(packets)).toEqual(want);
        expect(splitGenerations(done.tables(), V).idle).toEqual([]);
        recoveries++;
      }
    }
    console.log(`cut short: ${cuts.length} cut points, ${recoveries} recoveries checked on ${packets.length} packets`);
    expect(cuts.length).toBeGreaterThanOrEqual(5);
  }, 300_000);

  it('a table without room for two generations is changed in place with all IP dropped meanwhile: never a permit both policies deny', async () => {
    const { a, b, packets } = await policies();
    const sw = new FakeSwitch();
    sw.apply(planTransition(sw.tables(), a, ROOMY, V).batches.flat());
    const [va, vb] = [policyVerdicts(a, packets), policyVerdicts(b, packets)];
    // Room for one generation plus the two closing entries, not for both.
    const count = (es: WireEntry[], t: number) => es.filter((e) => e.tableId === t).length;
    const tight = (t: number): number => Math.max(count(a, t), count(b, t)) + 2;
    const plan = planTransition(sw.tables(), b, tight, V);
    expect(plan.closed).toBe(true);
    expect(plan.active).toBe(sw.active);
    expect(plan.inPlace).toContain(PIPELINE.tableId);
    // Every table stays within its size at every step.
    const updates = plan.batches.flat();
    const t = FakeSwitch.of(sw.tables());
    for (const u of updates) {
      t.apply([u]);
      for (const id of V.genField.keys()) expect(count(t.tables().entries, id)).toBeLessThanOrEqual(tight(id));
    }
    const steps = checkEveryPrefix(sw, plan, packets, (k) => [va[k], vb[k], 'deny']);
    sw.apply(updates);
    expect(sw.verdicts(packets)).toEqual(vb);
    expect(sw.tables().entries.map(entryString).sort()).toEqual(plan.final.map(entryString).sort());
    console.log(`in place, closed: ${packets.length} packets checked at ${steps} intermediate tables`);
  }, 120_000);

  it('drift compares the active generation only; leftovers in the other one are apart', () => {
    const e = (gen: number, label: number): WireEntry =>
      inGeneration({ tableId: PIPELINE.classifiers.weft_src_class_v4.tableId, match: [{ fieldId: 1, lpm: { value: 'Cg==', prefixLen: 8 } }, { fieldId: 2, exact: { value: 'AA==' } }], action: { action: { actionId: 1, params: [{ paramId: 1, value: Buffer.from([label]).toString('base64') }] } } }, gen, V);
    const tables: SwitchTables = { entries: [e(1, 5), e(0, 7)], active: 1 };
    expect(driftOf(tables, [e(0, 5)], V)).toEqual([]);
    expect(splitGenerations(tables, V).idle).toEqual([e(0, 7)]);
    expect(driftOf(tables, [e(0, 7)], V).map((u) => u.type)).toEqual(['MODIFY']);
  });
});
