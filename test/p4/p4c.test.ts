// p4c in the loop: compiles p4/weft.p4 with the P4 consortium's compiler and
// checks that the checked-in P4Info is exactly what p4c emits (through the
// P4Info proto, with the compiler-version fields normalised) and that the
// bmv2 JSON it emits is the device config of that P4Info. A program changed
// in one number shows that both checks see a difference and name it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileP4, type CompiledP4 } from '../../targets/p4/p4c.ts';
import { P4_SOURCE_PATH, P4INFO, P4INFO_PATH, parseP4InfoText, pipelineFromP4Info } from '../../targets/p4/p4info.ts';
import { bmv2ConfigProblems, normaliseP4Info, p4InfoDifferences, p4InfoDigestKey } from '../../targets/p4/pipeline-check.ts';
import { p4ToolsUnavailable } from './tools.ts';

const why = p4ToolsUnavailable(['p4c-bm2-ss']);

describe.skipIf(why)('p4c and the checked-in P4Info', () => {
  let dir: string;
  let compiled: CompiledP4;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-p4c-'));
    compiled = await compileP4({ outDir: join(dir, 'weft') });
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("p4c's P4Info equals the checked-in one, field for field", () => {
    const theirs = parseP4InfoText(compiled.p4infoText, compiled.p4infoPath);
    expect(p4InfoDifferences(theirs, P4INFO, 'p4c', P4INFO_PATH)).toEqual([]);
    expect(normaliseP4Info(theirs)).toEqual(normaliseP4Info(P4INFO));
    expect(p4InfoDigestKey(theirs)).toBe(p4InfoDigestKey(P4INFO));
    // The normalisation removes only what depends on p4c's version: the checked-in P4Info keeps the ACL's default action, which Weft reads.
    expect(P4INFO.tables?.find((t) => t.preamble?.name?.endsWith('.weft_acl'))?.initialDefaultAction?.actionId).toBe(pipelineFromP4Info(P4INFO).permitId);
  });

  it('the bmv2 JSON p4c emits is the device config of the checked-in P4Info', () => {
    expect(JSON.parse(compiled.bmv2Json.toString('utf8')).program).toContain('weft.p4');
    expect(bmv2ConfigProblems(compiled.bmv2Json, P4INFO)).toEqual([]);
  });

  it('a program that differs in one number is caught by both checks, with the numbers', async () => {
    const src = readFileSync(P4_SOURCE_PATH, 'utf8');
    const size = /size = (\d+);/.exec(src)![1];
    const changed = join(dir, 'changed.p4');
    writeFileSync(changed, src.replace(`size = ${size};`, 'size = 1000;'));
    const other = await compileP4({ source: changed, outDir: join(dir, 'changed') });
    const diff = p4InfoDifferences(parseP4InfoText(other.p4infoText), P4INFO, 'p4c', 'checked-in');
    expect(diff).toHaveLength(1);
    expect(diff[0]).toMatch(new RegExp(`^table 0x[0-9a-f]{8} \\S+: size 1000 in p4c, ${size} in checked-in$`));
    expect(bmv2ConfigProblems(other.bmv2Json, P4INFO)).toEqual([expect.stringMatching(new RegExp(`size ${size} in the P4Info, 1000 in the bmv2 JSON`))]);
    expect(bmv2ConfigProblems(Buffer.from('not json'), P4INFO)[0]).toMatch(/^not a bmv2 JSON/);
  }, 60_000);

  it('a broken program is a p4c error naming the file, and leaves no output', async () => {
    const broken = join(dir, 'broken.p4');
    writeFileSync(broken, 'control X( { }\n');
    await expect(compileP4({ source: broken, outDir: join(dir, 'broken') })).rejects.toThrow(/p4c: .*broken\.p4/);
    expect(() => readFileSync(join(dir, 'broken', 'weft.json'))).toThrow();
  }, 60_000);
});
