// Checks p4/weft.p4 against its checked-in P4Info in both directions: every
// table key (name, width, match kind, 1-based id), action and counter id, the
// direct counter binding and the table size. With P4C_P4TEST or P4C_BM2_SS
// pointing at a p4c binary, also compiles the program and compares p4c's own
// P4Info with the checked-in one.

import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { P4_SOURCE_PATH, P4INFO, P4INFO_PATH, parseP4InfoText, pipelineFromP4Info } from '../targets/p4/p4info.ts';

interface SourceModel {
  tables: { id: number; name: string; keys: { name: string; width: number; kind: string }[]; actions: string[]; size: number; counter: string; defaultAction: string }[];
  actions: { id: number; name: string }[];
  directCounters: { id: number; name: string; unit: string }[];
}

// Widths of the fields the program can key on: struct/header members, plus
// v1model's standard_metadata.ingress_port (PortId_t, 9 bits).
function fieldWidths(src: string): Map<string, number> {
  const widths = new Map<string, number>([['standard_metadata.ingress_port', 9]]);
  const typeOfVar = new Map<string, string>();
  for (const m of src.matchAll(/(?:header|struct)\s+(\w+)\s*\{([^}]*)\}/g)) {
    for (const f of m[2].matchAll(/bit<(\d+)>\s+(\w+);/g)) widths.set(`${m[1]}.${f[2]}`, Number(f[1]));
    for (const f of m[2].matchAll(/^\s*(\w+)\s+(\w+);/gm)) typeOfVar.set(`${m[1]}.${f[2]}`, f[1]);
  }
  // Parameter names of the ingress control: hdr -> headers_t, meta -> metadata_t.
  const ctrl = /control\s+WeftIngress\s*\(([^)]*)\)/.exec(src)![1];
  const params = new Map<string, string>();
  for (const p of ctrl.matchAll(/(?:inout|in|out)\s+(\w+)\s+(\w+)/g)) params.set(p[2], p[1]);
  const resolved = new Map(widths);
  for (const [param, type] of params) {
    for (const [k, w] of widths) if (k.startsWith(`${type}.`)) resolved.set(`${param}.${k.slice(type.length + 1)}`, w);
    for (const [k, t] of typeOfVar) {
      if (!k.startsWith(`${type}.`)) continue;
      const member = k.slice(type.length + 1);
      for (const [hk, w] of widths) if (hk.startsWith(`${t}.`)) resolved.set(`${param}.${member}.${hk.slice(t.length + 1)}`, w);
    }
  }
  return resolved;
}

function parseSource(src: string): SourceModel {
  const widths = fieldWidths(src);
  const control = 'WeftIngress';
  const actions = [...src.matchAll(/@id\((0x[0-9a-fA-F]+|\d+)\)\s*action\s+(\w+)\s*\(/g)].map((m) => ({ id: Number(m[1]), name: `${control}.${m[2]}` }));
  const directCounters = [...src.matchAll(/@id\((0x[0-9a-fA-F]+|\d+)\)\s*direct_counter\(CounterType\.(\w+)\)\s+(\w+);/g)].map((m) => ({
    id: Number(m[1]),
    name: `${control}.${m[3]}`,
    unit: { packets: 'PACKETS', bytes: 'BYTES', packets_and_bytes: 'BOTH' }[m[2]] ?? '?',
  }));
  const tables = [...src.matchAll(/@id\((0x[0-9a-fA-F]+|\d+)\)\s*table\s+(\w+)\s*\{([\s\S]*?)\n    \}/g)].map((m) => {
    const body = m[3];
    const keyBlock = /key\s*=\s*\{([\s\S]*?)\}/.exec(body)![1];
    const keys = [...keyBlock.matchAll(/([\w.]+)\s*:\s*(\w+)\s*(?:@name\("([^"]+)"\))?\s*;/g)].map((k) => {
      const width = widths.get(k[1]);
      if (width === undefined) throw new Error(`unknown key field ${k[1]}`);
      return { name: k[3] ?? k[1], width, kind: k[2].toUpperCase() };
    });
    const actionBlock = /actions\s*=\s*\{([\s\S]*?)\}/.exec(body)![1];
    return {
      id: Number(m[1]),
      name: `${control}.${m[2]}`,
      keys,
      actions: [...actionBlock.matchAll(/(\w+)\s*;/g)].map((a) => `${control}.${a[1]}`),
      size: Number(/size\s*=\s*(\d+)\s*;/.exec(body)![1]),
      counter: `${control}.${/counters\s*=\s*(\w+)\s*;/.exec(body)![1]}`,
      defaultAction: `${control}.${/default_action\s*=\s*(\w+)\s*\(/.exec(body)![1]}`,
    };
  });
  return { tables, actions, directCounters };
}

describe('p4/weft.p4 and p4/weft.p4info.txtpb', () => {
  const source = parseSource(readFileSync(P4_SOURCE_PATH, 'utf8'));
  const info = P4INFO;

  it('declare the same tables, keys (ids in key order), size and actions', () => {
    expect(source.tables.length).toBe(1);
    expect(info.tables?.length).toBe(source.tables.length);
    for (const t of source.tables) {
      const it = info.tables!.find((x) => x.preamble?.id === t.id)!;
      expect(it, `table ${t.name} @id`).toBeDefined();
      expect(it.preamble?.name).toBe(t.name);
      expect(it.matchFields?.map((f) => [f.id, f.name, f.bitwidth, f.matchType])).toEqual(t.keys.map((k, i) => [i + 1, k.name, k.width, k.kind]));
      expect(Number(it.size)).toBe(t.size);
      const byName = new Map(source.actions.map((a) => [a.name, a.id]));
      expect(it.actionRefs?.map((r) => r.id)).toEqual(t.actions.map((a) => byName.get(a)));
      expect(it.initialDefaultAction?.actionId).toBe(byName.get(t.defaultAction));
      const counter = source.directCounters.find((c) => c.name === t.counter)!;
      expect(it.directResourceIds).toEqual([counter.id]);
    }
  });

  it('declare the same actions and direct counters, with their ids', () => {
    expect(info.actions?.map((a) => [a.preamble?.id, a.preamble?.name]).sort()).toEqual(source.actions.map((a) => [a.id, a.name]).sort());
    expect(info.directCounters?.map((c) => [c.preamble?.id, c.preamble?.name, c.spec?.unit, c.directTableId])).toEqual(
      source.directCounters.map((c) => [c.id, c.name, c.unit, source.tables[0].id]),
    );
    // P4Runtime id prefixes: 0x01 actions, 0x02 tables, 0x13 direct counters.
    for (const a of source.actions) expect(a.id >>> 24).toBe(0x01);
    for (const t of source.tables) expect(t.id >>> 24).toBe(0x02);
    for (const c of source.directCounters) expect(c.id >>> 24).toBe(0x13);
  });

  it('yield the pipeline Weft codegen uses', () => {
    const p = pipelineFromP4Info(info);
    expect(p.fields.map((f) => f.name)).toEqual(source.tables[0].keys.map((k) => k.name));
    expect(p.size).toBe(source.tables[0].size);
  });

  const p4c = process.env.P4C_BM2_SS ?? process.env.P4C_P4TEST;
  it.skipIf(!p4c)('match what p4c emits for the program', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-p4c-'));
    try {
      const out = join(dir, 'p4info.txtpb');
      const args = process.env.P4C_BM2_SS
        ? ['--p4runtime-files', out, '-o', join(dir, 'weft.json'), P4_SOURCE_PATH]
        : ['--p4runtime-files', out, P4_SOURCE_PATH];
      execFileSync(p4c!, args, { stdio: 'pipe' });
      const theirs = parseP4InfoText(readFileSync(out, 'utf8'), out);
      const ours = parseP4InfoText(readFileSync(P4INFO_PATH, 'utf8'));
      expect(theirs).toEqual(ours);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  if (!p4c) console.log('p4c check skipped: set P4C_BM2_SS or P4C_P4TEST to a p4c binary to compare its P4Info');
});
