// The identity and policy record encoders sort by numbers standing for the
// key bytes: on random tables (IPv6 keys differing only in their low bits,
// policy entries in any order) the records come out strictly ascending by
// key bytes, and decode back to exactly the entries given.

import { describe, expect, it } from 'vitest';
import { makeRng, type Rng } from '../../orchestrator/testing/generate.ts';
import { ID4_KEY, ID6_KEY, ID_VALUE, POLICY_KEY, POLICY_VALUE } from './abi.ts';
import { decodeIdRecord, decodePolicyRecord, encodeIdRecords, encodePolicyRecords } from './encode.ts';
import { decodeRecords, recordKey, recordValue, type RecordTable } from './records.ts';
import type { Family } from '../../orchestrator/net/ip.ts';
import type { IdEntry, PolicyEntry } from './share.ts';

function ascendingKeys(t: RecordTable): boolean {
  for (let i = 1; i < t.count; i++) if (Buffer.compare(recordKey(t, i - 1), recordKey(t, i)) >= 0) return false;
  return true;
}

function shuffle<T>(rng: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

function idEntries(rng: Rng, family: Family, n: number): IdEntry[] {
  const bits = family === 4 ? 32 : 128;
  const seen = new Set<string>();
  const out: IdEntry[] = [];
  while (out.length < n) {
    const len = rng.pick([0, 8, 16, 24, 32, 48, 64, 96, 120, 128].filter((l) => l <= bits));
    // A few high parts and random low 32 bits, so equal leading numbers are common.
    let addr = family === 4 ? 0n : BigInt(rng.int(0, 3)) << 100n | BigInt(rng.int(0, 3)) << 60n;
    addr |= BigInt(rng.int(0, 2 ** 32 - 1));
    addr &= len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(bits - len);
    const key = `${addr}/${len}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ prefix: { family, addr, len }, id: rng.int(0, 70_000), local: rng.chance(0.1), denyIngress: rng.chance(0.3) });
  }
  return out;
}

function policyEntries(rng: Rng, n: number): PolicyEntry[] {
  const seen = new Set<string>();
  const out: PolicyEntry[] = [];
  while (out.length < n) {
    const e: PolicyEntry = {
      dir: rng.chance(0.5) ? 'egress' : 'ingress',
      proto: rng.pick([0, 1, 6, 17, 58]),
      local: rng.int(0, 5) * 65_537,
      remote: rng.pick([0, 1, 2, 70_000, 2 ** 32 - 1]),
      portLen: rng.int(0, 16),
      port: 0,
      rule: rng.int(0, 10_000),
      verdict: rng.chance(0.5) ? 'allow' : 'deny',
      log: rng.chance(0.2),
    };
    e.port = (rng.int(0, 65_535) >> (16 - e.portLen)) << (16 - e.portLen);
    const key = `${e.dir} ${e.proto} ${e.local} ${e.remote} ${e.portLen} ${e.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return out;
}

/** Entries as text with their fields in one order, sorted, to compare as multisets. */
const byText = (xs: object[]): string[] =>
  xs
    .map((x) =>
      JSON.stringify(x, (_k, v: unknown) => {
        if (typeof v === 'bigint') return v.toString();
        if (v && typeof v === 'object' && !Array.isArray(v)) return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)));
        return v;
      }),
    )
    .sort();

describe('record encoders', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: identity tables of both families come out sorted by key bytes and decode to their entries`, () => {
      const rng = makeRng(seed);
      for (const family of [4, 6] as const) {
        const entries = idEntries(rng, family, 3000);
        const t = decodeRecords(encodeIdRecords(family, shuffle(rng, [...entries])), family === 4 ? ID4_KEY : ID6_KEY, ID_VALUE, 'test');
        expect(t.count).toBe(entries.length);
        expect(ascendingKeys(t)).toBe(true);
        const back = Array.from({ length: t.count }, (_, i) => decodeIdRecord(recordKey(t, i), recordValue(t, i)));
        expect(byText(back)).toEqual(byText(entries));
      }
    });

    it(`seed ${seed}: policy tables in any order come out sorted by key bytes and decode to their entries`, () => {
      const rng = makeRng(seed);
      const entries = policyEntries(rng, 5000);
      const t = decodeRecords(encodePolicyRecords(shuffle(rng, [...entries])), POLICY_KEY, POLICY_VALUE, 'test');
      expect(ascendingKeys(t)).toBe(true);
      const back = Array.from({ length: t.count }, (_, i) => decodePolicyRecord(recordKey(t, i), recordValue(t, i)));
      expect(byText(back)).toEqual(byText(entries));
    });
  }

  it('refuses two entries with one key', () => {
    const e = policyEntries(makeRng(9), 1)[0];
    expect(() => encodePolicyRecords([e, { ...e, rule: e.rule + 1 }])).toThrow(/duplicate key/);
    const id = idEntries(makeRng(9), 6, 1)[0];
    expect(() => encodeIdRecords(6, [id, { ...id, id: id.id + 1 }])).toThrow(/duplicate key/);
  });
});
