// Every lab topology is a real containerlab file: valid against containerlab's
// own JSON schema, and resolvable to Weft roles.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { loadTopology } from '../../lab/topology.ts';

const repo = resolve(import.meta.dirname, '../..');
const schemaPath = resolve(repo, '../shared/containerlab/clab.schema.json');
const dir = join(repo, 'lab/topologies');
const files = readdirSync(dir).filter((f) => f.endsWith('.clab.yml'));
const ci = process.env.CI === 'true';

describe('lab topologies', () => {
  it('has the example and the two-leaf topology', () => {
    expect(files).toContain('example.clab.yml');
    expect(files).toContain('two-leaf.clab.yml');
  });

  it.skipIf(!ci && !existsSync(schemaPath))('validates every file against the containerlab schema', () => {
    if (!existsSync(schemaPath)) throw new Error(`containerlab schema missing at ${schemaPath}`);
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(JSON.parse(readFileSync(schemaPath, 'utf8')));
    for (const f of files) {
      const ok = validate(parseYaml(readFileSync(join(dir, f), 'utf8')));
      expect(ok ? [] : validate.errors?.map((e) => `${f}: ${e.instancePath} ${e.message}`)).toEqual([]);
    }
    console.log(`lab topologies: ${files.length} files valid against the containerlab schema`);
  });

  it('resolves every file to Weft roles', () => {
    for (const f of files) {
      const t = loadTopology(join(dir, f));
      expect(t.nodes.length).toBeGreaterThan(0);
      for (const n of t.nodes) if (n.role !== 'endpoint' && n.role !== 'bridge') expect(n.mgmtIpv4).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    }
  });

  it('maps kinds to roles when a file has no weft labels', () => {
    const t = loadTopology(join(dir, 'plain.clab.yml'));
    const role = Object.fromEntries(t.nodes.map((n) => [n.name, `${n.role}${n.pipeline ? `/${n.pipeline}` : ''}`]));
    expect(role).toEqual({ srl1: 'switch/openconfig', srv1: 'host', srv2: 'host', br1: 'bridge' });
  });
});
