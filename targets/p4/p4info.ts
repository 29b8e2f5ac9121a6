// The Weft pipeline as its P4Info describes it: the ACL table's id, size, key
// fields (id, width, match kind) and action ids, and the four LPM classifier
// tables (address -> class id) in front of it, and the generation flag
// (weft_gen) whose default action says which policy's entries match: each
// classifier and ACL entry carries its generation as an exact key field
// named "gen". Codegen, the pipeline model
// and the emulated switch all read ids from here, never from constants.

import { readFileSync } from 'node:fs';
import { packagePath } from '../../orchestrator/package-root.ts';
import { T, TO_OBJECT } from './proto.ts';
import { parseTextProto } from './textproto.ts';

export const P4INFO_PATH = packagePath('p4', 'weft.p4info.txtpb');
export const P4_SOURCE_PATH = packagePath('p4', 'weft.p4');

/** Key names of the ACL table, in key order (as in p4/weft.p4). */
export const ACL_FIELDS = [
  'ingress_port',
  'ether_type',
  'src_label',
  'dst_label',
  'ip_proto',
  'l4_src_port',
  'l4_dst_port_fence',
  'tcp_flags',
  'icmp_type',
  'icmp_code',
] as const;
export type AclFieldName = (typeof ACL_FIELDS)[number];

/** The LPM tables that map an address to a label, by side and family (as in p4/weft_acl.p4). */
export const CLASSIFIER_SHAPES = {
  weft_src_class_v4: { side: 'src', family: 4 },
  weft_dst_class_v4: { side: 'dst', family: 4 },
  weft_src_class_v6: { side: 'src', family: 6 },
  weft_dst_class_v6: { side: 'dst', family: 6 },
} as const;
export type ClassifierName = keyof typeof CLASSIFIER_SHAPES;
export const CLASSIFIER_TABLES = Object.keys(CLASSIFIER_SHAPES) as ClassifierName[];

/** The classifier table for one side and family. */
export function classifierName(side: 'src' | 'dst', family: 4 | 6): ClassifierName {
  return `weft_${side}_class_v${family}`;
}

/** The match field every classifier and ACL entry carries its generation in (exact). */
export const GEN_FIELD = 'gen';

export interface ClassifierTable {
  name: ClassifierName;
  side: 'src' | 'dst';
  family: 4 | 6;
  tableId: number;
  /** The LPM key field (the address). */
  fieldId: number;
  /** The exact key field holding the entry's generation. */
  genFieldId: number;
  bitwidth: number;
  size: number;
  /** set_src_label or set_dst_label, and its label parameter. */
  actionId: number;
  paramId: number;
  labelBits: number;
}

export interface PipelineField {
  name: AclFieldName;
  id: number;
  bitwidth: number;
  matchType: string;
}

/** The keyless table whose default action sets the active generation. */
export interface GenerationFlag {
  tableId: number;
  /** set_gen and its one parameter. */
  actionId: number;
  paramId: number;
  /** How many generations the flag can name (2 for a 1-bit flag). */
  count: number;
}

export interface Pipeline {
  tableId: number;
  tableName: string;
  size: number;
  /** The ternary key fields of the ACL (ACL_FIELDS). */
  fields: PipelineField[];
  /** The ACL's exact key field holding the entry's generation. */
  genFieldId: number;
  generation: GenerationFlag;
  fieldByName: Map<AclFieldName, PipelineField>;
  fieldById: Map<number, PipelineField>;
  permitId: number;
  denyId: number;
  defaultActionId: number;
  directCounterId: number;
  classifiers: Record<ClassifierName, ClassifierTable>;
  classifierById: Map<number, ClassifierTable>;
}

/** Plain-object P4Info as decoded with TO_OBJECT. */
export interface P4InfoObject {
  pkgInfo?: { arch?: string };
  tables?: {
    preamble?: { id?: number; name?: string; alias?: string };
    matchFields?: { id?: number; name?: string; bitwidth?: number; matchType?: string }[];
    actionRefs?: { id?: number }[];
    initialDefaultAction?: { actionId?: number };
    directResourceIds?: number[];
    size?: string | number;
  }[];
  actions?: { preamble?: { id?: number; name?: string; alias?: string }; params?: { id?: number; name?: string; bitwidth?: number }[] }[];
  directCounters?: { preamble?: { id?: number; name?: string; alias?: string }; spec?: { unit?: string }; directTableId?: number }[];
}

/**
 * Extracts the Weft pipeline from a P4Info, or says what is missing; used on
 * the checked-in file and by a switch checking the P4Info it is given.
 */
export function pipelineFromP4Info(info: P4InfoObject): Pipeline {
  const tableNamed = (alias: string) => info.tables?.find((t) => t.preamble?.alias === alias || t.preamble?.name?.endsWith(`.${alias}`));
  const actionNamed = (alias: string) => info.actions?.find((x) => x.preamble?.alias === alias || x.preamble?.name?.endsWith(`.${alias}`));
  const table = tableNamed('weft_acl');
  if (!table?.preamble?.id) throw new Error('p4info: no table weft_acl');
  const fields: PipelineField[] = [];
  for (const name of ACL_FIELDS) {
    const f = table.matchFields?.find((m) => m.name === name);
    if (!f?.id || !f.bitwidth) throw new Error(`p4info: table weft_acl has no match field ${name}`);
    if (f.matchType !== 'TERNARY') throw new Error(`p4info: match field ${name} is ${f.matchType ?? 'unset'}, expected TERNARY`);
    fields.push({ name, id: f.id, bitwidth: f.bitwidth, matchType: f.matchType });
  }
  const genFieldOf = (name: string, key: NonNullable<NonNullable<P4InfoObject['tables']>[number]['matchFields']>): number => {
    const f = key.find((m) => m.name === GEN_FIELD);
    if (!f?.id || f.matchType !== 'EXACT' || !f.bitwidth) throw new Error(`p4info: table ${name} has no exact match field ${GEN_FIELD}`);
    return f.id;
  };
  const genFieldId = genFieldOf('weft_acl', table.matchFields ?? []);
  const actionId = (alias: string): number => {
    const a = actionNamed(alias);
    if (!a?.preamble?.id) throw new Error(`p4info: no action ${alias}`);
    if (!table.actionRefs?.some((r) => r.id === a.preamble!.id)) throw new Error(`p4info: table weft_acl does not reference action ${alias}`);
    return a.preamble.id;
  };
  const permitId = actionId('permit');
  const denyId = actionId('deny');
  const counter = info.directCounters?.find((c) => c.directTableId === table.preamble!.id);
  if (!counter?.preamble?.id) throw new Error('p4info: table weft_acl has no direct counter');
  const size = Number(table.size ?? 0);
  if (!(size > 0)) throw new Error('p4info: table weft_acl has no size');
  const classifierList = CLASSIFIER_TABLES.map((name): ClassifierTable => {
    const t = tableNamed(name);
    if (!t?.preamble?.id) throw new Error(`p4info: no table ${name}`);
    const { side, family } = CLASSIFIER_SHAPES[name];
    const key = t.matchFields ?? [];
    const lpm = key.filter((m) => m.matchType === 'LPM');
    if (key.length !== 2 || lpm.length !== 1 || lpm[0].bitwidth !== (family === 4 ? 32 : 128) || !lpm[0].id) {
      throw new Error(`p4info: table ${name} must have one LPM key of ${family === 4 ? 32 : 128} bits and the exact ${GEN_FIELD}`);
    }
    const classGenFieldId = genFieldOf(name, key);
    const action = actionNamed(`set_${side}_label`);
    const param = action?.params?.find((p) => p.name === 'label');
    if (!action?.preamble?.id || !param?.id || !param.bitwidth) throw new Error(`p4info: no action set_${side}_label(label)`);
    if (!t.actionRefs?.some((r) => r.id === action.preamble!.id)) throw new Error(`p4info: table ${name} does not reference action set_${side}_label`);
    const tsize = Number(t.size ?? 0);
    if (!(tsize > 0)) throw new Error(`p4info: table ${name} has no size`);
    return { name, side, family, tableId: t.preamble.id, fieldId: lpm[0].id, genFieldId: classGenFieldId, bitwidth: lpm[0].bitwidth, size: tsize, actionId: action.preamble.id, paramId: param.id, labelBits: param.bitwidth };
  });
  const flag = tableNamed('weft_gen');
  const setGen = actionNamed('set_gen');
  const genParam = setGen?.params?.find((p) => p.name === 'generation');
  if (!flag?.preamble?.id || (flag.matchFields ?? []).length > 0) throw new Error('p4info: no keyless table weft_gen');
  if (!setGen?.preamble?.id || !genParam?.id || !genParam.bitwidth) throw new Error('p4info: no action set_gen(generation)');
  if (!flag.actionRefs?.some((r) => r.id === setGen.preamble!.id)) throw new Error('p4info: table weft_gen does not reference action set_gen');
  return {
    tableId: table.preamble.id,
    tableName: table.preamble.name ?? 'weft_acl',
    size,
    fields,
    genFieldId,
    generation: { tableId: flag.preamble.id, actionId: setGen.preamble.id, paramId: genParam.id, count: 2 ** Math.min(genParam.bitwidth, 8) },
    fieldByName: new Map(fields.map((f) => [f.name, f])),
    fieldById: new Map(fields.map((f) => [f.id, f])),
    permitId,
    denyId,
    defaultActionId: table.initialDefaultAction?.actionId ?? permitId,
    directCounterId: counter.preamble.id,
    classifiers: Object.fromEntries(classifierList.map((c) => [c.name, c])) as Record<ClassifierName, ClassifierTable>,
    classifierById: new Map(classifierList.map((c) => [c.tableId, c])),
  };
}

export function parseP4InfoText(text: string, file = 'p4info.txtpb'): P4InfoObject {
  const plain = parseTextProto(text, T.P4Info, file);
  return T.P4Info.toObject(T.P4Info.fromObject(plain), TO_OBJECT) as P4InfoObject;
}

export const P4INFO_TEXT: string = readFileSync(P4INFO_PATH, 'utf8');
export const P4INFO: P4InfoObject = parseP4InfoText(P4INFO_TEXT, 'p4/weft.p4info.txtpb');
export const PIPELINE: Pipeline = pipelineFromP4Info(P4INFO);
