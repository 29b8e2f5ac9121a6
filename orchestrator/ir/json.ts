// The IR on disk: plain JSON, prefixes as text, rules with their sides as
// group names (or `any`) and their services as port-key ranges, so the file
// grows with the policy and the identities, never with their product.

import { formatCidr, parseCidr, type Family } from '../net/ip.ts';
import type { Action } from '../policy/model.ts';
import { IR_PROTOS, type Identity, type Ir, type IrPeers, type IrRule, type LpmEntry } from './model.ts';

export const IR_JSON_VERSION = 2;

export interface IrJson {
  version: number;
  policyName: string;
  policyDigest: string;
  fabricDigest: string;
  defaultAction: Action;
  identities: Identity[];
  lpm: { prefix: string; id: number }[];
  rules: IrRule[];
}

export function irToJson(ir: Ir): IrJson {
  return {
    version: IR_JSON_VERSION,
    policyName: ir.policyName,
    policyDigest: ir.policyDigest,
    fabricDigest: ir.fabricDigest,
    defaultAction: ir.defaultAction,
    identities: ir.identities,
    lpm: ir.lpm.map((e) => ({ prefix: formatCidr(e.prefix), id: e.id })),
    rules: ir.rules,
  };
}

function fail(msg: string): never {
  throw new Error(`ir json: ${msg}`);
}

function peers(p: IrPeers, rule: string): IrPeers {
  if (p === 'any') return 'any';
  if (!p || !Array.isArray(p.groups) || p.groups.some((g) => typeof g !== 'string')) fail(`rule ${rule}: a side is neither "any" nor {groups: [names]}`);
  return { groups: [...p.groups] };
}

function services(s: number[][], rule: string): number[][] {
  const ok = (l: unknown): l is number[] =>
    Array.isArray(l) && l.length % 2 === 0 && l.every((x, i) => Number.isInteger(x) && x >= 0 && x <= 0xffff && (i % 2 === 0 ? x <= l[i + 1] : i + 1 === l.length || x + 1 < l[i + 1]));
  if (!Array.isArray(s) || s.length !== IR_PROTOS.length || !s.every(ok)) fail(`rule ${rule}: services are not ${IR_PROTOS.length} lists of sorted disjoint port-key ranges`);
  return s.map((l) => [...l]);
}

/** Reads what irToJson wrote (as an object or as JSON text). */
export function irFromJson(json: unknown): Ir {
  const j = (typeof json === 'string' ? JSON.parse(json) : json) as IrJson;
  if (!j || typeof j !== 'object') fail('not an object');
  if (j.version !== IR_JSON_VERSION) fail(`version ${String(j.version)} is not supported (expected ${IR_JSON_VERSION})`);
  if (j.defaultAction !== 'allow' && j.defaultAction !== 'deny') fail(`bad defaultAction ${String(j.defaultAction)}`);
  if (!Array.isArray(j.identities) || !Array.isArray(j.lpm) || !Array.isArray(j.rules)) fail('missing identities, lpm or rules');
  const lpm: LpmEntry[] = j.lpm.map((e) => {
    const p = parseCidr(e.prefix);
    if (!p.ok) fail(`bad prefix ${e.prefix}: ${p.reason}`);
    return { prefix: p.cidr, id: e.id };
  });
  const identities: Identity[] = j.identities.map((i) => {
    const id: Identity = { id: i.id, groups: [...i.groups], endpoints: [...i.endpoints] };
    if (i.families) id.families = i.families.map((f) => f as Family);
    return id;
  });
  const rules: IrRule[] = j.rules.map((r) => ({
    ...r,
    span: { ...r.span },
    from: peers(r.from, r.name),
    to: peers(r.to, r.name),
    services: services(r.services, r.name),
  }));
  return {
    policyName: j.policyName,
    policyDigest: j.policyDigest,
    fabricDigest: j.fabricDigest,
    defaultAction: j.defaultAction,
    identities,
    lpm,
    rules,
  };
}
