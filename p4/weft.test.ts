// Checks p4/weft.p4 (with the WeftAcl stage it includes from p4/weft_acl.p4)
// against its checked-in P4Info in both directions: every table's keys
// (name, width, match kind, 1-based id), actions, size, default action, the
// direct counter binding, and every action and counter id. p4c's own P4Info
// is compared with the checked-in one in test/p4/p4c.test.ts.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { P4_SOURCE_PATH, P4INFO, pipelineFromP4Info } from '../targets/p4/p4info.ts';
import { LABEL_BITS } from '../targets/p4/classes.ts';

interface SourceTable {
  id: number;
  name: string;
  keys: { name: string; width: number; kind: string }[];
  actions: string[];
  size: number;
  counter?: string;
  defaultAction: string;
}

interface SourceModel {
  tables: SourceTable[];
  actions: { id: number; name: string }[];
  directCounters: { id: number; name: string; unit: string }[];
}

/** The body of `control NAME(...) { ... }`, by brace matching. */
function controlOf(src: string, name: string): { params: string; body: string } {
  const m = new RegExp(`control\\s+${name}\\s*\\(([^)]*)\\)\\s*\\{`).exec(src);
  if (!m) throw new Error(`no control ${name}`);
  let depth = 1;
  let i = m.index + m[0].length;
  for (; depth > 0; i++) depth += src[i] === '{' ? 1 : src[i] === '}' ? -1 : 0;
  return { params: m[1], body: src.slice(m.index + m[0].length, i - 1) };
}

/**
 * Widths of what a control's tables can key on: header/struct members reached
 * through the control's parameters, `bit<N>` parameters and locals, and
 * v1model's standard_metadata.ingress_port (9 bits).
 */
function fieldWidths(src: string, params: string, body: string): Map<string, number> {
  const members = new Map<string, Map<string, string>>();
  for (const m of src.matchAll(/(?:header|struct)\s+(\w+)\s*\{([^}]*)\}/g)) {
    members.set(m[1], new Map([...m[2].matchAll(/^\s*(bit<\d+>|\w+)\s+(\w+);/gm)].map((f) => [f[2], f[1]])));
  }
  const out = new Map<string, number>([['standard_metadata.ingress_port', 9]]);
  const walk = (path: string, type: string): void => {
    const bits = /^bit<(\d+)>$/.exec(type);
    if (bits) out.set(path, Number(bits[1]));
    for (const [f, t] of members.get(type) ?? []) walk(`${path}.${f}`, t);
  };
  for (const p of params.matchAll(/(?:inout|in|out)\s+(bit<\d+>|\w+)\s+(\w+)/g)) walk(p[2], p[1]);
  for (const l of body.matchAll(/^ {4}(bit<\d+>)\s+(\w+)\s*(?:=[^;]*)?;/gm)) walk(l[2], l[1]);
  return out;
}

/** Tables, actions and counters of one control, named as p4c names them (`prefix` + local name). */
function parseControl(src: string, control: string, prefix: string): SourceModel {
  const { params, body } = controlOf(src, control);
  const widths = fieldWidths(src, params, body);
  const actions = [...body.matchAll(/@id\((0x[0-9a-fA-F]+|\d+)\)\s*action\s+(\w+)\s*\(/g)].map((m) => ({ id: Number(m[1]), name: `${prefix}${m[2]}` }));
  const directCounters = [...body.matchAll(/@id\((0x[0-9a-fA-F]+|\d+)\)\s*direct_counter\(CounterType\.(\w+)\)\s+(\w+);/g)].map((m) => ({
    id: Number(m[1]),
    name: `${prefix}${m[3]}`,
    unit: { packets: 'PACKETS', bytes: 'BYTES', packets_and_bytes: 'BOTH' }[m[2]] ?? '?',
  }));
  const tables = [...body.matchAll(/@id\((0x[0-9a-fA-F]+|\d+)\)\s*table\s+(\w+)\s*\{([\s\S]*?)\n {4}\}/g)].map((m): SourceTable => {
    const t = m[3];
    // A keyless table (weft_gen) has no key block.
    const keyBlock = /key\s*=\s*\{([\s\S]*?)\}/.exec(t)?.[1] ?? '';
    const keys = [...keyBlock.matchAll(/([\w.]+)\s*:\s*(\w+)\s*(?:@name\("([^"]+)"\))?\s*;/g)].map((k) => {
      const width = widths.get(k[1]);
      if (width === undefined) throw new Error(`unknown key field ${k[1]}`);
      return { name: k[3] ?? k[1], width, kind: k[2].toUpperCase() };
    });
    const counter = /counters\s*=\s*(\w+)\s*;/.exec(t)?.[1];
    return {
      id: Number(m[1]),
      name: `${prefix}${m[2]}`,
      keys,
      actions: [.../actions\s*=\s*\{([\s\S]*?)\}/.exec(t)![1].matchAll(/(\w+)\s*;/g)].map((a) => `${prefix}${a[1]}`),
      size: Number(/size\s*=\s*(\d+)\s*;/.exec(t)![1]),
      counter: counter ? `${prefix}${counter}` : undefined,
      defaultAction: `${prefix}${/default_action\s*=\s*(\w+)\s*\(/.exec(t)![1]}`,
    };
  });
  return { tables, actions, directCounters };
}

/** The whole program: WeftIngress's own tables plus those of the WeftAcl instance it declares. */
function parseProgram(): SourceModel {
  const main = readFileSync(P4_SOURCE_PATH, 'utf8');
  const include = /#include "([^"]+)"/.exec(main)![1];
  const acl = readFileSync(join(dirname(P4_SOURCE_PATH), include), 'utf8');
  const all = `${acl}\n${main}`;
  const instance = /WeftAcl\(\)\s+(\w+);/.exec(controlOf(main, 'WeftIngress').body)![1];
  const outer = parseControl(all, 'WeftIngress', 'WeftIngress.');
  const inner = parseControl(all, 'WeftAcl', `WeftIngress.${instance}.`);
  return {
    tables: [...inner.tables, ...outer.tables],
    actions: [...inner.actions, ...outer.actions],
    directCounters: [...inner.directCounters, ...outer.directCounters],
  };
}

describe('p4/weft.p4 and p4/weft.p4info.txtpb', () => {
  const source = parseProgram();
  const info = P4INFO;
  const actionIds = new Map(source.actions.map((a) => [a.name, a.id]));

  it('declare the same tables, keys (ids in key order), sizes and actions', () => {
    expect(source.tables.map((t) => t.name).sort()).toEqual(
      [
        'WeftIngress.acl.weft_acl',
        'WeftIngress.acl.weft_dst_class_v4',
        'WeftIngress.acl.weft_dst_class_v6',
        'WeftIngress.acl.weft_gen',
        'WeftIngress.acl.weft_src_class_v4',
        'WeftIngress.acl.weft_src_class_v6',
        'WeftIngress.weft_l2_fwd',
      ].sort(),
    );
    expect(info.tables?.length).toBe(source.tables.length);
    for (const t of source.tables) {
      const it = info.tables!.find((x) => x.preamble?.id === t.id)!;
      expect(it, `table ${t.name} @id`).toBeDefined();
      expect(it.preamble?.name).toBe(t.name);
      expect((it.matchFields ?? []).map((f) => [f.id, f.name, f.bitwidth, f.matchType])).toEqual(t.keys.map((k, i) => [i + 1, k.name, k.width, k.kind]));
      expect(Number(it.size)).toBe(t.size);
      expect(it.actionRefs?.map((r) => r.id)).toEqual(t.actions.map((a) => actionIds.get(a)));
      if (it.initialDefaultAction) expect(it.initialDefaultAction.actionId).toBe(actionIds.get(t.defaultAction));
      const counter = source.directCounters.find((c) => c.name === t.counter);
      expect(it.directResourceIds ?? []).toEqual(counter ? [counter.id] : []);
    }
  });

  it('declare the same actions and direct counters, with their ids', () => {
    expect(info.actions?.map((a) => [a.preamble?.id, a.preamble?.name]).sort()).toEqual(source.actions.map((a) => [a.id, a.name]).sort());
    const aclTable = source.tables.find((t) => t.name.endsWith('.weft_acl'))!;
    expect(info.directCounters?.map((c) => [c.preamble?.id, c.preamble?.name, c.spec?.unit, c.directTableId])).toEqual(
      source.directCounters.map((c) => [c.id, c.name, c.unit, aclTable.id]),
    );
    // P4Runtime id prefixes: 0x01 actions, 0x02 tables, 0x13 direct counters.
    for (const a of source.actions) expect(a.id >>> 24).toBe(0x01);
    for (const t of source.tables) expect(t.id >>> 24).toBe(0x02);
    for (const c of source.directCounters) expect(c.id >>> 24).toBe(0x13);
  });

  it('yield the pipeline Weft codegen uses: the ACL on labels and four LPM classifiers, each keyed on the generation too', () => {
    const p = pipelineFromP4Info(info);
    const acl = source.tables.find((t) => t.name.endsWith('.weft_acl'))!;
    expect([...p.fields.map((f) => f.name), 'gen']).toEqual(acl.keys.map((k) => k.name));
    expect(acl.keys.at(-1)).toMatchObject({ kind: 'EXACT', width: 1 });
    const flag = source.tables.find((t) => t.name.endsWith('.weft_gen'))!;
    expect(flag.keys).toEqual([]);
    expect([p.generation.tableId, p.generation.count]).toEqual([flag.id, 2]);
    expect(p.size).toBe(acl.size);
    for (const c of Object.values(p.classifiers)) {
      const t = source.tables.find((x) => x.name.endsWith(`.${c.name}`))!;
      expect([c.tableId, c.size, c.bitwidth]).toEqual([t.id, t.size, c.family === 4 ? 32 : 128]);
      expect(t.keys.map((k) => k.kind)).toEqual(['LPM', 'EXACT']);
      expect(c.labelBits).toBe(acl.keys.find((k) => k.name === `${c.side}_label`)!.width);
      expect(c.labelBits).toBe(LABEL_BITS);
    }
  });
});
