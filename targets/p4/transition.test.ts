// Make-before-break, checked on the switch's own semantics: two policies'
// entries from codegen, the plan from the first to the second (and back),
// and the table after every prefix of its updates evaluated on generated
// packets. Each packet must meet its whole old verdict or its whole new one
// at every step; the plan must end exactly at the new entries, and a table
// too small for both at once must be changed in place.

import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateFlows, makeRng } from '../../orchestrator/testing/generate.ts';
import { packetOfFlow, type SwitchPacket } from '../switch-common/index.ts';
import { readDesiredEntries } from './driver.ts';
import { entryFromProto } from './entries.ts';
import { P4INFO } from './p4info.ts';
import { AclInterpreter } from './semantics.ts';
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
  const acl = new AclInterpreter([...table.values()].map((e) => entryFromProto(e as never)));
  return packets.map((p) => acl.evaluate(p));
}

describe('planTransition', () => {
  it('every step of a policy change gives each packet its old verdict or its new one', async () => {
    const s = p4Scenario(2);
    const dir = mkdtempSync(join(tmpdir(), 'weft-transition-'));
    try {
      await writeP4Bundle(s, join(dir, 'a'));
      const next = changedPolicy(s);
      await writeP4Bundle(next, join(dir, 'b'));
      const a = await readDesiredEntries(join(dir, 'a'), P4INFO);
      const b = await readDesiredEntries(join(dir, 'b'), P4INFO);
      const ports = [...s.exactPorts, ...s.prefilterPorts];
      const packets = generateFlows(makeRng(5), s.policy, s.fabric, 400).map((f, i) => packetOfFlow(f, { inPort: ports[i % ports.length] }));

      let table = new Map<string, WireEntry>();
      applyUpdates(table, planTransition([], a, () => 4096).batches.flat());
      let steps = 0;
      for (const target of [b, a, b]) {
        const current = [...table.values()];
        const plan = planTransition(current, target, () => 4096);
        expect(plan.inPlace).toEqual([]);
        const before = verdicts(table, packets);
        const after = verdicts(new Map(plan.final.map((e) => [keyString(e), e])), packets);
        const updates = plan.batches.flat();
        // Priorities move to the other band, so no update reuses a key of the old policy.
        expect(new Set(plan.final.map((e) => (e.priority ?? 0) >= PRIORITY_BAND)).size).toBe(1);
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
      console.log(`make-before-break: ${packets.length} packets checked at ${steps} intermediate tables`);
      // Nothing to do when the switch already holds the policy, in either band.
      expect(planTransition([...table.values()], b, () => 4096).batches).toEqual([]);
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
