// Record files: the header is checked, and the merge delta equals a naive
// key-by-key comparison on random tables (shared runs at either end, keys
// added, removed and changed anywhere), also when only the blocks whose
// digests differ are merged.

import { describe, expect, it } from 'vitest';
import { makeRng } from '../../orchestrator/testing/generate.ts';
import { createHash } from 'node:crypto';
import { BLOCK_RECORDS, blockDigests, changedRange, decodeRecords, diffRecords, encodeRecords, recordKey, recordValue, type RecordTable } from './records.ts';

const KS = 6;
const VS = 4;

function table(entries: Map<string, number>): RecordTable {
  const pairs = [...entries].map(([k, v]): [Buffer, Buffer] => {
    const val = Buffer.alloc(VS);
    val.writeUInt32LE(v, 0);
    return [Buffer.from(k, 'hex'), val];
  });
  return decodeRecords(encodeRecords(KS, VS, pairs), KS, VS, 'test');
}

function naive(before: Map<string, number>, after: Map<string, number>): { removed: string[]; changed: string[] } {
  return {
    removed: [...before.keys()].filter((k) => !after.has(k)).sort(),
    changed: [...after].filter(([k, v]) => before.get(k) !== v).map(([k]) => k).sort(),
  };
}

describe('record files', () => {
  it('refuses another layout, version or a truncated file, naming the file', () => {
    const file = encodeRecords(KS, VS, [[Buffer.alloc(KS), Buffer.alloc(VS)]]);
    expect(() => decodeRecords(file, KS + 1, VS, 'a.records')).toThrow(/a.records: records of 6\+4 bytes, the map needs 7\+4/);
    expect(() => decodeRecords(file.subarray(0, file.length - 1), KS, VS, 'a.records')).toThrow(/do not hold the 1 records/);
    const v2 = Buffer.from(file);
    v2.writeUInt16LE(2, 4);
    expect(() => decodeRecords(v2, KS, VS, 'a.records')).toThrow(/version 2/);
    expect(() => encodeRecords(KS, VS, [[Buffer.alloc(KS), Buffer.alloc(VS)], [Buffer.alloc(KS), Buffer.alloc(VS)]])).toThrow(/duplicate key/);
  });

  it('diffs like a naive comparison (300 random table pairs)', () => {
    const rng = makeRng(21);
    let checked = 0;
    for (let t = 0; t < 300; t++) {
      const before = new Map<string, number>();
      const n = rng.int(0, 3000);
      for (let i = 0; i < n; i++) before.set(Buffer.from([rng.int(0, 255), rng.int(0, 255), rng.int(0, 255), 0, 0, rng.int(0, 3)]).toString('hex'), rng.int(0, 5));
      const after = new Map(before);
      const edits = rng.int(0, t % 10 === 0 ? 500 : 5);
      const keys = [...before.keys()];
      for (let e = 0; e < edits; e++) {
        const r = rng.int(0, 2);
        if (r === 0 && keys.length) after.delete(rng.pick(keys));
        else if (r === 1 && keys.length) after.set(rng.pick(keys), rng.int(0, 5));
        else after.set(Buffer.from([rng.int(0, 255), rng.int(0, 255), rng.int(0, 255), 1, 0, 0]).toString('hex'), rng.int(0, 5));
      }
      const b = table(before);
      const a = table(after);
      const d = diffRecords(b, a);
      const got = {
        removed: d.removed.map((i) => recordKey(b, i).toString('hex')).sort(),
        changed: d.changed.map((i) => recordKey(a, i).toString('hex')).sort(),
      };
      expect(got).toEqual(naive(before, after));
      for (const i of d.changed) expect(recordValue(a, i).readUInt32LE(0)).toBe(after.get(recordKey(a, i).toString('hex')));
      checked++;
    }
    expect(diffRecords(undefined, table(new Map([['000000000001', 1]]))).changed).toEqual([0]);
    console.log(`record diff: ${checked} table pairs compared with the naive diff`);
  });

  it('diffs only the blocks whose digests differ, like a naive comparison (200 random table pairs)', () => {
    const rng = makeRng(22);
    const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex').slice(0, 32);
    let checked = 0;
    let skipped = 0;
    let total = 0;
    for (let t = 0; t < 200; t++) {
      const before = new Map<string, number>();
      const n = rng.int(0, 4 * BLOCK_RECORDS);
      for (let i = 0; i < n; i++) before.set(Buffer.from([rng.int(0, 255), rng.int(0, 255), rng.int(0, 255), 0, 0, rng.int(0, 3)]).toString('hex'), rng.int(0, 5));
      const after = new Map(before);
      const keys = [...before.keys()];
      // Half the pairs only change values (same count: blocks align at both ends).
      const valuesOnly = t % 2 === 0;
      for (let e = rng.int(0, 3); e > 0; e--) {
        if (valuesOnly || rng.chance(0.5)) {
          if (keys.length) after.set(rng.pick(keys), rng.int(0, 5));
        } else if (rng.chance(0.5) && keys.length) after.delete(rng.pick(keys));
        else after.set(Buffer.from([rng.int(0, 255), rng.int(0, 255), rng.int(0, 255), 1, 0, 0]).toString('hex'), rng.int(0, 5));
      }
      const fb = encodeRecords(KS, VS, [...before].map(([k, v]): [Buffer, Buffer] => [Buffer.from(k, 'hex'), Buffer.from(Uint32Array.of(v).buffer)]));
      const fa = encodeRecords(KS, VS, [...after].map(([k, v]): [Buffer, Buffer] => [Buffer.from(k, 'hex'), Buffer.from(Uint32Array.of(v).buffer)]));
      const b = decodeRecords(fb, KS, VS, 'b');
      const a = decodeRecords(fa, KS, VS, 'a');
      const r = changedRange({ count: b.count, blocks: blockDigests(fb, KS + VS, digest) }, { count: a.count, blocks: blockDigests(fa, KS + VS, digest) });
      const rec = KS + VS;
      const wb: RecordTable = { keySize: KS, valueSize: VS, count: r.toBefore - r.from, data: b.data.subarray(r.from * rec, r.toBefore * rec) };
      const wa: RecordTable = { keySize: KS, valueSize: VS, count: r.toAfter - r.from, data: a.data.subarray(r.from * rec, r.toAfter * rec) };
      const d = diffRecords(wb, wa);
      const got = {
        removed: d.removed.map((i) => recordKey(wb, i).toString('hex')).sort(),
        changed: d.changed.map((i) => recordKey(wa, i).toString('hex')).sort(),
      };
      expect(got).toEqual(naive(before, after));
      skipped += b.count - wb.count;
      total += b.count;
      checked++;
    }
    // The index must spare most of the reading, or it is not doing its job.
    expect(skipped).toBeGreaterThan(total / 4);
    console.log(`record block diff: ${checked} table pairs compared with the naive diff; ${skipped} of ${total} records left unread`);
  });
});
