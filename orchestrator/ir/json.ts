// The IR on disk: plain JSON, prefixes as text, cell columns as base64 of
// their little-endian bytes, so a bundle stays small and reads back exactly.

import { formatCidr, parseCidr, type Family } from '../net/ip.ts';
import type { Action } from '../policy/model.ts';
import type { CellTable, Identity, Ir, IrRule, LpmEntry } from './model.ts';

export const IR_JSON_VERSION = 1;

export interface IrJson {
  version: number;
  policyName: string;
  policyDigest: string;
  fabricDigest: string;
  defaultAction: Action;
  identities: Identity[];
  lpm: { prefix: string; id: number }[];
  rules: IrRule[];
  cells: {
    length: number;
    src: string;
    dst: string;
    proto: string;
    lo: string;
    hi: string;
    rule: string;
  };
}

function b64(a: Uint32Array | Int32Array | Uint16Array | Uint8Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function bytes(text: string, length: number, width: number, what: string): ArrayBuffer {
  const buf = Buffer.from(text, 'base64');
  if (buf.length !== length * width) throw new Error(`ir json: cells.${what} has ${buf.length} bytes, expected ${length * width}`);
  // Copy into a fresh, aligned buffer: typed arrays need alignment.
  const out = new ArrayBuffer(buf.length);
  new Uint8Array(out).set(buf);
  return out;
}

export function irToJson(ir: Ir): IrJson {
  const c = ir.cells;
  return {
    version: IR_JSON_VERSION,
    policyName: ir.policyName,
    policyDigest: ir.policyDigest,
    fabricDigest: ir.fabricDigest,
    defaultAction: ir.defaultAction,
    identities: ir.identities,
    lpm: ir.lpm.map((e) => ({ prefix: formatCidr(e.prefix), id: e.id })),
    rules: ir.rules,
    cells: {
      length: c.length,
      src: b64(c.src.subarray(0, c.length)),
      dst: b64(c.dst.subarray(0, c.length)),
      proto: b64(c.proto.subarray(0, c.length)),
      lo: b64(c.lo.subarray(0, c.length)),
      hi: b64(c.hi.subarray(0, c.length)),
      rule: b64(c.rule.subarray(0, c.length)),
    },
  };
}

function fail(msg: string): never {
  throw new Error(`ir json: ${msg}`);
}

/** Reads what irToJson wrote (as an object or as JSON text). */
export function irFromJson(json: unknown): Ir {
  const j = (typeof json === 'string' ? JSON.parse(json) : json) as IrJson;
  if (!j || typeof j !== 'object') fail('not an object');
  if (j.version !== IR_JSON_VERSION) fail(`version ${String(j.version)} is not supported (expected ${IR_JSON_VERSION})`);
  if (j.defaultAction !== 'allow' && j.defaultAction !== 'deny') fail(`bad defaultAction ${String(j.defaultAction)}`);
  if (!Array.isArray(j.identities) || !Array.isArray(j.lpm) || !Array.isArray(j.rules) || !j.cells) fail('missing identities, lpm, rules or cells');
  const lpm: LpmEntry[] = j.lpm.map((e) => {
    const p = parseCidr(e.prefix);
    if (!p.ok) fail(`bad prefix ${e.prefix}: ${p.reason}`);
    return { prefix: p.cidr, id: e.id };
  });
  const n = j.cells.length;
  const cells: CellTable = {
    length: n,
    src: new Uint32Array(bytes(j.cells.src, n, 4, 'src')),
    dst: new Uint32Array(bytes(j.cells.dst, n, 4, 'dst')),
    proto: new Uint8Array(bytes(j.cells.proto, n, 1, 'proto')),
    lo: new Uint16Array(bytes(j.cells.lo, n, 2, 'lo')),
    hi: new Uint16Array(bytes(j.cells.hi, n, 2, 'hi')),
    rule: new Int32Array(bytes(j.cells.rule, n, 4, 'rule')),
  };
  const identities: Identity[] = j.identities.map((i) => {
    const id: Identity = { id: i.id, groups: [...i.groups], endpoints: [...i.endpoints] };
    if (i.families) id.families = i.families.map((f) => f as Family);
    return id;
  });
  const rules: IrRule[] = j.rules.map((r) => ({ ...r, span: { ...r.span } }));
  return {
    policyName: j.policyName,
    policyDigest: j.policyDigest,
    fabricDigest: j.fabricDigest,
    defaultAction: j.defaultAction,
    identities,
    lpm,
    rules,
    cells,
  };
}
