// Map record files: the contents of one host map table as it sits in the
// bundle (devices/<host>/<map name>.records). Fixed-size records, each the
// kernel key (slot byte 0) followed by the kernel value, sorted by key bytes,
// behind a 16-byte header:
//
//   0 magic "WFTR" | 4 format version u16 | 6 key size u16 | 8 value size u16
//   10 zero u16 | 12 record count u32                      (little endian)
//
// Sorted fixed-size records make the agent's delta a linear merge: equal
// runs are skipped with native memcmp over whole spans, and only the
// records that differ are compared in JavaScript. Nothing is parsed that the
// delta does not touch. A digest per block of records (in maps.json) lets
// the agent read only the blocks two versions do not share.

export const RECORDS_MAGIC = 'WFTR';
export const RECORDS_VERSION = 1;
export const RECORDS_HEADER = 16;
const HEADER = RECORDS_HEADER;

/** A table of sorted records; `data` holds the records only (no header). */
export interface RecordTable {
  keySize: number;
  valueSize: number;
  count: number;
  data: Buffer;
}

/** A record file of `count` records with its header written; the caller writes the records, sorted by key bytes. */
export function recordsBuffer(keySize: number, valueSize: number, count: number): Buffer {
  const out = Buffer.alloc(HEADER + (keySize + valueSize) * count);
  out.write(RECORDS_MAGIC, 0, 'latin1');
  out.writeUInt16LE(RECORDS_VERSION, 4);
  out.writeUInt16LE(keySize, 6);
  out.writeUInt16LE(valueSize, 8);
  out.writeUInt32LE(count, 12);
  return out;
}

/** Sorts (key, value) pairs by key bytes and writes the file contents. Keys must be unique. */
export function encodeRecords(keySize: number, valueSize: number, pairs: [Buffer, Buffer][]): Buffer {
  const sorted = [...pairs].sort((a, b) => Buffer.compare(a[0], b[0]));
  const rec = keySize + valueSize;
  const out = recordsBuffer(keySize, valueSize, sorted.length);
  sorted.forEach(([k, v], i) => {
    if (k.length !== keySize || v.length !== valueSize) throw new Error(`record ${i}: key ${k.length} / value ${v.length} bytes, want ${keySize} / ${valueSize}`);
    if (i > 0 && Buffer.compare(sorted[i - 1][0], k) === 0) throw new Error(`record ${i}: duplicate key ${k.toString('hex')}`);
    k.copy(out, HEADER + i * rec);
    v.copy(out, HEADER + i * rec + keySize);
  });
  return out;
}

/**
 * Checks a file's header (its first RECORDS_HEADER bytes) and length against
 * the layout the caller expects; `where` names the file in errors. Returns the record count.
 */
export function checkRecordsHeader(header: Buffer, fileLength: number, keySize: number, valueSize: number, where: string): number {
  const recompile = '(recompile the bundle with this weft)';
  if (header.length < HEADER || header.toString('latin1', 0, 4) !== RECORDS_MAGIC) throw new Error(`${where}: not a weft record file ${recompile}`);
  const version = header.readUInt16LE(4);
  if (version !== RECORDS_VERSION) throw new Error(`${where}: record format version ${version}, this weft reads ${RECORDS_VERSION} ${recompile}`);
  const ks = header.readUInt16LE(6);
  const vs = header.readUInt16LE(8);
  if (ks !== keySize || vs !== valueSize) throw new Error(`${where}: records of ${ks}+${vs} bytes, the map needs ${keySize}+${valueSize} ${recompile}`);
  const count = header.readUInt32LE(12);
  if (fileLength !== HEADER + count * (ks + vs)) throw new Error(`${where}: ${fileLength} bytes do not hold the ${count} records its header announces`);
  return count;
}

export function decodeRecords(file: Buffer, keySize: number, valueSize: number, where: string): RecordTable {
  const count = checkRecordsHeader(file, file.length, keySize, valueSize, where);
  return { keySize, valueSize, count, data: file.subarray(HEADER) };
}

/** Records per block of the bundle's block index (share.ts RecordsRef.blocks). */
export const BLOCK_RECORDS = 1024;

/** A digest per BLOCK_RECORDS records of a record file's contents (the last block may be short). */
export function blockDigests(file: Buffer, recordSize: number, digest: (b: Buffer) => string): string[] {
  const data = file.subarray(HEADER);
  const span = BLOCK_RECORDS * recordSize;
  const out: string[] = [];
  for (let at = 0; at < data.length; at += span) out.push(digest(data.subarray(at, at + span)));
  return out;
}

/**
 * The record range [from, to) two versions of a table may differ in, from
 * their block digests: blocks equal from the front, and, when both hold as
 * many records (same block boundaries), from the back are left out.
 */
export function changedRange(before: { count: number; blocks: string[] }, after: { count: number; blocks: string[] }): { from: number; toBefore: number; toAfter: number } {
  let head = 0;
  const n = Math.min(before.blocks.length, after.blocks.length);
  while (head < n && before.blocks[head] === after.blocks[head]) head++;
  let tail = 0;
  if (before.count === after.count) while (tail < n - head && before.blocks[n - 1 - tail] === after.blocks[n - 1 - tail]) tail++;
  const from = Math.min(head * BLOCK_RECORDS, before.count, after.count);
  // The trailing equal blocks end at the (common) count: the last may be short.
  const cut = tail === 0 ? 0 : before.count - (n - tail) * BLOCK_RECORDS;
  return { from, toBefore: before.count - cut, toAfter: after.count - cut };
}

export function recordKey(t: RecordTable, i: number): Buffer {
  const at = i * (t.keySize + t.valueSize);
  return t.data.subarray(at, at + t.keySize);
}

export function recordValue(t: RecordTable, i: number): Buffer {
  const at = i * (t.keySize + t.valueSize) + t.keySize;
  return t.data.subarray(at, at + t.valueSize);
}

/** Records compared by the first memcmp when skipping the tables' equal ends; the span doubles while it matches. */
const FIRST_SPAN = 64;

/**
 * How many records from before[i] and after[j] on (with `fromEnd`, counted
 * back from the last record) are equal byte for byte, at most `limit`: a
 * galloping search whose spans double while they match and halve once one
 * does not, so a run of n records costs O(log n) native compares.
 */
function equalRun(before: RecordTable, i: number, after: RecordTable, j: number, limit: number, first = 1, fromEnd = false): number {
  const rec = before.keySize + before.valueSize;
  const at = (t: RecordTable, from: number, k: number, n: number) => (fromEnd ? t.count - from - k - n : from + k) * rec;
  let k = 0;
  let n = first;
  while (k < limit) {
    n = Math.min(n, limit - k);
    const x = at(before, i, k, n);
    const y = at(after, j, k, n);
    if (before.data.compare(after.data, y, y + n * rec, x, x + n * rec) === 0) {
      k += n;
      n *= 2;
    } else if (n > 1) n >>= 1;
    else break;
  }
  return k;
}

export interface RecordDelta {
  /** Record indices of `before` whose keys `after` lacks. */
  removed: number[];
  /** Record indices of `after` that are new or carry another value. */
  changed: number[];
}

/**
 * The delta from `before` (undefined: empty) to `after`: a linear merge over
 * both sorted tables, after skipping the records they share at either end.
 * Within the merge, runs of equal records (those shifted by an insertion or
 * a deletion before them) are skipped the same way: the agent diffs in a
 * fresh process, where a compare per record, run by the interpreter, costs
 * milliseconds per block.
 */
export function diffRecords(before: RecordTable | undefined, after: RecordTable): RecordDelta {
  const delta: RecordDelta = { removed: [], changed: [] };
  if (!before) {
    for (let j = 0; j < after.count; j++) delta.changed.push(j);
    return delta;
  }
  if (before.keySize !== after.keySize || before.valueSize !== after.valueSize) throw new Error('record tables of different layouts cannot be diffed');
  const shared = Math.min(before.count, after.count);
  const head = equalRun(before, 0, after, 0, shared, FIRST_SPAN);
  const tail = equalRun(before, 0, after, 0, shared - head, FIRST_SPAN, true);
  const ks = after.keySize;
  const rec = ks + after.valueSize;
  const bEnd = before.count - tail;
  const aEnd = after.count - tail;
  let i = head;
  let j = head;
  while (i < bEnd && j < aEnd) {
    const run = equalRun(before, i, after, j, Math.min(bEnd - i, aEnd - j));
    i += run;
    j += run;
    if (i >= bEnd || j >= aEnd) break;
    const c = before.data.compare(after.data, j * rec, j * rec + ks, i * rec, i * rec + ks);
    if (c < 0) delta.removed.push(i++);
    else if (c > 0) delta.changed.push(j++);
    else {
      // Same key, and the records differ (equalRun stopped here): a new value.
      delta.changed.push(j++);
      i++;
    }
  }
  while (i < bEnd) delta.removed.push(i++);
  while (j < aEnd) delta.changed.push(j++);
  return delta;
}
