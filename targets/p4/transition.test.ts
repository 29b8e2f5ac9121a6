// Make-before-break, checked on the switch's own semantics: two policies'
// entries from codegen, the plan from the first to the second (and back),
// and the table after every prefix of its updates evaluated on generated
// packets. Each packet must meet its whole old verdict or its whole new one
// at every step of an ACL change under the same labels; a policy change that
// relabels addresses must list the classifier tables it changes in place;
// the plan must end exactly at the new entries, and a table too small for
// both at once must be changed in place.

import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateFlows, makeRng } from '../../orchestrator/testing/generate.ts';
import { packetOfFlow, type SwitchPacket } from '../switch-common/index.ts';
import { readDesiredEntries } from './driver.ts';
import { p4EntryFromProto } from './entries.ts';
import { P4INFO } from './p4info.ts';
import { PipelineModel } from './semantics.ts';
import { entryString, keyString, type WireEntry } from './table-entry.ts';
import { planTransition, PRIORITY_BAND, type Update } from './transition.ts';
import { changedPolicy, p4Scenario, writeP4Bundle } from '../../test/p4/scenario.ts';

/** The table after applying `updates` to `table`, as a switch applies them one by one. */
function applyUpdates(table: Map<string, WireEntry>, updates: Update[]): void {
  for (const u of updates) {
    if (u.type === 'DELETE') expect(table.delete(keyString(u.entry))).toBe(true);
    else table.set(keyString(u.entry), u.entry);
  }
}

function verdicts(table: Map<string, WireEntry>, packets: SwitchPacket[]): string[] {
  const entries = [...table.values()].map((e) => p4EntryFromProto(e as never));
  const model = new PipelineModel(
    entries.flatMap((e) => (e.kind === 'acl' ? [e.entry] : [])),
    entries.flatMap((e) => (e.kind === 'class' ? [e.entry] : [])),
  );
  return packets.map((p) => model.evaluate(p));
}

const isClassifier = (e: WireEntry): boolean => !e.priority;

describe('planTransition', () => {
  it('every step of an ACL change under the same labels gives each packet its old verdict or its new one', async () => {
    const s = p4Scenario(2);
    const dir = mkdtempSync(join(tmpdir(), 'weft-transition-'));
    try {
      await writeP4Bundle(s, join(dir, 'a'));
      const a = await readDesiredEntries(join(dir, 'a'), P4INFO);
      expect(a.filter(isClassifier).length).toBeGreaterThan(0);
      // Codegen numbers labels afresh for every policy, so a change with the same labels is made on the ACL alone: every third entry dropped.
      let n = 0;
      const b = a.filter((e) => isClassifier(e) || n++ % 3 !== 1);
      const ports = [...s.exactPorts, ...s.prefilterPorts];
      const packets = generateFlows(makeRng(5), s.policy, s.fabric, 400).map((f, i) => packetOfFlow(f, { inPort: ports[i % ports.length] }));

      let table = new Map<string, WireEntry>();
      applyUpdates(table, planTransition([], a, () => 4096).batches.flat());
      let steps = 0;
      let changed = 0;
      for (const target of [b, a, b]) {
        const current = [...table.values()];
        const plan = planTransition(current, target, () => 4096);
        expect(plan.inPlace).toEqual([]);
        const before = verdicts(table, packets);
        const after = verdicts(new Map(plan.final.map((e) => [keyString(e), e])), packets);
        changed += before.filter((v, k) => v !== after[k]).length;
        const updates = plan.batches.flat();
        // ACL priorities move to the other band, so no ACL update reuses a key of the old policy; the classifiers are not written.
        expect(new Set(plan.final.filter((e) => e.priority).map((e) => e.priority! >= PRIORITY_BAND)).size).toBe(1);
        expect(updates.every((u) => !isClassifier(u.entry))).toBe(true);
        const stride = Math.max(1, Math.floor(updates.length / 25));
        for (let i = 0; i < updates.length; i += stride) {
          const t = new Map(table);
          applyUpdates(t, updates.slice(0, i));
          const now = verdicts(t, packets);
          now.forEach((v, k) => expect([before[k], after[k]], `packet ${k} after ${i} of ${updates.length} updates`).toContain(v));
          steps++;
        }
        applyUpdates(table, updates);
        expect([...table.values()].map(entryString).sort()).toEqual(plan.final.map(entryString).sort());
        expect(verdicts(table, packets)).toEqual(after);
        table = new Map(table);
      }
      console.log(`make-before-break: ${packets.length} packets checked at ${steps} intermediate tables, ${changed} verdicts changed`);
      expect(changed).toBeGreaterThan(0);
      // Nothing to do when the switch already holds the policy, in either band.
      expect(planTransition([...table.values()], b, () => 4096).batches).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('a change that relabels addresses lists the classifier tables it changes in place, and ends at the new entries', async () => {
    const s = p4Scenario(2);
    const dir = mkdtempSync(join(tmpdir(), 'weft-transition-'));
    try {
      await writeP4Bundle(s, join(dir, 'a'));
      await writeP4Bundle(changedPolicy(s), join(dir, 'b'));
      const a = await readDesiredEntries(join(dir, 'a'), P4INFO);
      const b = await readDesiredEntries(join(dir, 'b'), P4INFO);
      const table = new Map<string, WireEntry>();
      applyUpdates(table, planTransition([], a, () => 4096).batches.flat());
      const plan = planTransition([...table.values()], b, () => 4096);
      const keys = (es: WireEntry[]) => new Set(es.filter(isClassifier).map(entryString));
      const relabelled = [...new Set([...a, ...b].filter(isClassifier).map((e) => e.tableId))].filter((t) => {
        const [x, y] = [keys(a.filter((e) => e.tableId === t)), keys(b.filter((e) => e.tableId === t))];
        return x.size !== y.size || [...x].some((k) => !y.has(k));
      });
      expect(relabelled.length).toBeGreaterThan(0);
      expect(plan.inPlace.sort()).toEqual(relabelled.sort());
      applyUpdates(table, plan.batches.flat());
      expect([...table.values()].map(entryString).sort()).toEqual(plan.final.map(entryString).sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('changes a table in place when old and new do not fit side by side, deletes first', () => {
    const e = (priority: number, port: number): WireEntry => ({ tableId: 7, match: [{ fieldId: 1, exact: { value: Buffer.from([port]).toString('base64') } }], priority, action: { action: { actionId: 1 } } });
    const plan = planTransition([e(3, 1), e(2, 2)], [e(3, 1), e(1, 3)], () => 3);
    expect(plan.inPlace).toEqual([7]);
    expect(plan.batches.map((b) => b.map((u) => `${u.type} ${u.entry.priority}`))).toEqual([['DELETE 2'], ['INSERT 1']]);
    expect(() => planTransition([], [e(PRIORITY_BAND, 1)], () => 3)).toThrow(/at or above/);
  });
});
