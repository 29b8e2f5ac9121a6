// The offload checker on real objects: each program in testdata/ breaks one
// nfp rule (or none), is compiled by clang here, and must be reported with
// that rule at the C line marked "offload: RULE", and nothing it does not
// break. The host datapath shows why it cannot be offloaded as it is.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildObject } from '../../host/build.ts';
import { BPF_HELPER, BPF_MAP_TYPE, PROFILES, type OffloadLimits } from '../profiles.ts';
import { checkOffload, formatOffloadReport, type OffloadCheckReport } from './check.ts';
import { ElfError } from './elf.ts';
import { HELPER_NAMES } from './insn.ts';

const TESTDATA = fileURLToPath(new URL('./testdata/', import.meta.url));
const NFP = PROFILES.nfp.limits!;
const CLANG_FLAGS = ['-O2', '-g', '-target', 'bpf', '-Wall', '-I/usr/include/x86_64-linux-gnu', '-c'];

function clangMissing(): string | undefined {
  try {
    execFileSync('clang', ['--version'], { stdio: 'pipe' });
    return undefined;
  } catch {
    return 'clang is not installed (scripts/setup.sh installs it)';
  }
}
const why = clangMissing();
if (why && process.env.CI === 'true') throw new Error(`offload checker tests cannot run: ${why}`);
if (why) console.warn(`skipping offload checker tests: ${why}`);

const outDir = mkdtempSync(join(tmpdir(), `weft-offload-${process.pid}-`));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const built = new Map<string, Uint8Array>();
function compile(name: string): Uint8Array {
  const cached = built.get(name);
  if (cached) return cached;
  const out = join(outDir, `${name}.o`);
  execFileSync('clang', [...CLANG_FLAGS, join(TESTDATA, `${name}.bpf.c`), '-o', out], { stdio: 'pipe' });
  const bytes = readFileSync(out);
  built.set(name, bytes);
  return bytes;
}

/** 1-based line of the marker "offload: RULE" (on a line that also holds `near`, when given). */
function markedLine(name: string, rule: string, near?: string): number {
  const lines = readFileSync(join(TESTDATA, `${name}.bpf.c`), 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(`offload: ${rule}`) && (!near || l.includes(near)));
  if (i < 0) throw new Error(`${name}.bpf.c has no "offload: ${rule}" marker`);
  return i + 1;
}

interface Case {
  name: string;
  rule: keyof OffloadLimits;
  what: string;
  program?: string;
  near?: string;
  limits?: Partial<OffloadLimits>;
  /** Other rules the program also breaks, by construction. */
  also?: (keyof OffloadLimits)[];
}

const CASES: Case[] = [
  { name: 'lpm', rule: 'mapTypes', what: 'an LPM trie', also: ['mapFlagsMask'] }, // an LPM trie must be created without preallocation
  { name: 'lru', rule: 'mapTypes', what: 'an LRU hash' },
  { name: 'percpu', rule: 'mapTypes', what: 'a per-CPU array' },
  { name: 'legacy', rule: 'mapTypes', what: 'an LRU hash in the legacy maps section' },
  { name: 'flags', rule: 'mapFlagsMask', what: 'BPF_F_NO_PREALLOC' },
  { name: 'bigentry', rule: 'maxKeyPlusValue', what: 'key + value of 80 B' },
  { name: 'helper', rule: 'helpers', what: 'bpf_ktime_get_ns' },
  { name: 'loop', rule: 'helpers', what: 'bpf_loop' },
  { name: 'tailcall', rule: 'tailCalls', what: 'bpf_tail_call', also: ['mapTypes'] }, // its PROG_ARRAY
  { name: 'mapstore', rule: 'onlyAtomicAddWrites', what: 'a plain store into a map value' },
  { name: 'varstack', rule: 'constantStackOffsets', what: 'a stack write at a variable offset' },
  { name: 'bigstack', rule: 'maxStackBytes', what: 'a 300 B frame calling a 400 B one' },
  { name: 'redirect', rule: 'returnCodes', what: 'XDP_REDIRECT returned through a BPF function', program: 'redirect_const', near: 'verdict_for' },
  { name: 'redirect', rule: 'returnCodes', what: 'bpf_redirect', program: 'redirect_helper', near: 'bpf_redirect', also: ['helpers'] },
];

function violationsOf(r: OffloadCheckReport, rule: keyof OffloadLimits) {
  return r.violations.filter((v) => v.rule === rule);
}

describe.skipIf(why !== undefined)('offload checker: one program per nfp rule', () => {
  for (const c of CASES) {
    it(`${c.rule}: ${c.what} (${c.name}.bpf.c) is refused at its marked line`, () => {
      const r = checkOffload(compile(c.name), { ...NFP, ...c.limits }, { program: c.program });
      expect(r.ok).toBe(false);
      const hits = violationsOf(r, c.rule);
      expect(hits.length, formatOffloadReport(r)).toBeGreaterThan(0);
      const line = markedLine(c.name, c.rule, c.near);
      const at = hits.find((v) => v.source && basename(v.source.file) === `${c.name}.bpf.c` && v.source.line === line);
      expect(at, `expected ${c.rule} at ${c.name}.bpf.c:${line}\n${formatOffloadReport(r)}`).toBeDefined();
      expect(at!.insn).toBeGreaterThanOrEqual(0);
      expect(at!.insn).toBeLessThan(r.instructions);
      // Nothing the program does not break.
      expect([...new Set(r.violations.map((v) => v.rule))].sort()).toEqual([c.rule, ...(c.also ?? [])].sort());
    });
  }

  it('maxInstructions: a program over a small budget is refused at the first instruction beyond it', () => {
    const bytes = compile('long');
    const full = checkOffload(bytes, NFP);
    expect(full.ok, formatOffloadReport(full)).toBe(true);
    const r = checkOffload(bytes, { ...NFP, maxInstructions: full.instructions - 1 });
    expect(r.violations).toHaveLength(1);
    const v = r.violations[0];
    expect(v.rule).toBe('maxInstructions');
    expect(v.insn).toBe(full.instructions - 1);
    expect(basename(v.source!.file)).toBe('long.bpf.c');
    expect(v.source!.line).toBe(markedLine('long', 'maxInstructions'));
  });

  it('a program within every nfp limit passes, with its maps, helpers, stack and size reported', () => {
    const r = checkOffload(compile('good'), NFP);
    expect(r.violations, formatOffloadReport(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.program).toBe('xdp');
    expect(r.maps).toEqual([
      { name: 'verdicts', type: BPF_MAP_TYPE.HASH, flags: 0, keySize: 4, valueSize: 4, maxEntries: 1024 },
      { name: 'counters', type: BPF_MAP_TYPE.ARRAY, flags: 0, keySize: 4, valueSize: 8, maxEntries: 4 },
    ]);
    // One lookup in the program, one in the counting function it calls.
    expect(r.helpers).toEqual([{ id: BPF_HELPER.map_lookup_elem, name: 'map_lookup_elem', count: 2 }]);
    // Two frames as the nfp lays them out: each a multiple of 64 B.
    expect(r.stackBytes).toBe(128);
    // Its program section plus .text (which holds only the counting function), as llvm-readelf sizes them.
    const sizes = execFileSync('llvm-readelf', ['-S', '-W', join(outDir, 'good.o')], { encoding: 'utf8' });
    const sectionSlots = (name: string) => parseInt(new RegExp(`\\] ${name.replace('.', '\\.')}\\s+PROGBITS\\s+\\S+\\s+\\S+\\s+(\\S+)`).exec(sizes)![1], 16) / 8;
    expect(r.instructions).toBe(sectionSlots('xdp') + sectionSlots('.text'));
    expect(formatOffloadReport(r)).toMatch(/^xdp: \d+ instructions, 128 B stack, 2 maps, 1 helpers: fits the profile$/);
  });

  it('the report prints file:line:col: rule: message for each violation', () => {
    const r = checkOffload(compile('mapstore'), NFP);
    const [first, summary] = formatOffloadReport(r).split('\n');
    expect(first).toMatch(new RegExp(`mapstore\\.bpf\\.c:${markedLine('mapstore', 'onlyAtomicAddWrites')}:\\d+: onlyAtomicAddWrites: store of 4 B into a value of map seen`));
    expect(summary).toMatch(/^xdp: \d+ instructions, .*: 1 violation$/);
  });

  it('the same violations pass where the limits allow them (the checker reads the limits, not fixed rules)', () => {
    const lenient: OffloadLimits = {
      ...NFP,
      mapTypes: [...NFP.mapTypes, BPF_MAP_TYPE.LRU_HASH, BPF_MAP_TYPE.LPM_TRIE],
      mapFlagsMask: 1,
      helpers: [...NFP.helpers, BPF_HELPER.ktime_get_ns],
      onlyAtomicAddWrites: false,
      constantStackOffsets: false,
    };
    for (const name of ['lpm', 'lru', 'flags', 'helper', 'mapstore', 'varstack']) {
      const r = checkOffload(compile(name), lenient);
      expect(r.violations, `${name}: ${formatOffloadReport(r)}`).toEqual([]);
    }
  });

  it('an unknown program name is refused with the programs the object holds', () => {
    expect(() => checkOffload(compile('redirect'), NFP, { program: 'nope' })).toThrow(/no program "nope"; the object holds: xdp\/redirect_const \(redirect_const\), xdp\/redirect_helper \(redirect_helper\)/);
  });
});

describe.skipIf(why !== undefined)('offload checker on the host datapath (bpf/weft.bpf.c)', () => {
  const ctLine = (needle: string) => readFileSync(join(TESTDATA, '..', '..', '..', '..', 'bpf', 'lib', 'ct.h'), 'utf8').split('\n').findIndex((l) => l.includes(needle)) + 1;

  it('nfp refuses its XDP program: LRU conntrack, per-CPU counters, unpreallocated tables, bpf_loop, large entries, plain map writes', async () => {
    const r = checkOffload(readFileSync(await buildObject()), NFP, { program: 'xdp' });
    expect(r.ok).toBe(false);
    const rules = new Set(r.violations.map((v) => v.rule));
    for (const rule of ['mapTypes', 'mapFlagsMask', 'maxKeyPlusValue', 'helpers', 'onlyAtomicAddWrites'] as const) {
      expect(rules.has(rule), `${rule}\n${formatOffloadReport(r)}`).toBe(true);
    }
    const ct = r.violations.find((v) => v.rule === 'mapTypes' && v.message.includes('weft_ct_v1 is LRU_HASH'));
    expect(ct?.source?.file).toMatch(/bpf\/lib\/ct\.h$/);
    expect(ct?.source?.text).toContain('WEFT_MAP_CT');
    expect(ct?.source?.line).toBeGreaterThan(0);
    expect(r.violations.some((v) => v.rule === 'mapTypes' && /PERCPU_ARRAY/.test(v.message))).toBe(true);
    expect(r.violations.some((v) => v.rule === 'mapFlagsMask' && /weft_policy_v2 has flags 0x1/.test(v.message))).toBe(true);
    expect(r.violations.some((v) => v.rule === 'helpers' && /bpf_loop/.test(v.message) && v.source?.file.endsWith('policy.h'))).toBe(true);
    // Flow logs: a ring buffer the NIC cannot hold, reserved and submitted with helpers it does not offer, rate-limited by the clock.
    expect(r.violations.some((v) => v.rule === 'mapTypes' && /RINGBUF/.test(v.message))).toBe(true);
    expect(r.violations.some((v) => v.rule === 'helpers' && /ringbuf_reserve/.test(v.message))).toBe(true);
    expect(r.helpers.map((h) => h.name)).toEqual(['map_lookup_elem', 'ktime_get_ns', 'ringbuf_reserve', 'ringbuf_submit', 'loop']);
    expect(r.instructions).toBeLessThan(NFP.maxInstructions);
  });

  it('nfp refuses its TC program too, which also updates the conntrack table', async () => {
    const r = checkOffload(readFileSync(await buildObject()), NFP, { program: 'tc' });
    const update = r.violations.find((v) => v.rule === 'helpers' && v.message.includes('bpf_map_update_elem'));
    expect(update?.source?.line).toBe(ctLine('bpf_map_update_elem(&WEFT_MAP_CT'));
    expect(r.violations.some((v) => v.rule === 'helpers' && v.message.includes('bpf_skb_pull_data'))).toBe(true);
  });
});

describe('offload checker input', () => {
  it('refuses bytes that are not a BPF object, saying what is wrong', () => {
    expect(() => checkOffload(new TextEncoder().encode('not an object at all, but long enough for a header check...........'), NFP)).toThrow(ElfError);
    expect(() => checkOffload(new Uint8Array(8), NFP)).toThrow(/no ELF magic/);
  });

  it.skipIf(why !== undefined)('refuses a truncated object', () => {
    const bytes = compile('good');
    expect(() => checkOffload(bytes.subarray(0, 200), NFP)).toThrow(ElfError);
  });

  it.skipIf(why !== undefined)('a corrupted object gives a report or an ElfError, never another failure (2,000 corruptions tried)', () => {
    const good = compile('good');
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    let refused = 0;
    for (let n = 0; n < 2000; n++) {
      const bytes = Uint8Array.from(good);
      for (let k = 0; k < 4; k++) bytes[next() % bytes.length] = next() & 0xff;
      try {
        checkOffload(bytes, NFP);
      } catch (e) {
        expect(e, String(e)).toBeInstanceOf(ElfError);
        refused++;
      }
    }
    // Most bytes of an object are debug info the checker does not read; some corruptions must still be caught.
    expect(refused).toBeGreaterThan(0);
  });

  const helperDefs = '/usr/include/bpf/bpf_helper_defs.h';
  it('names helpers by the ids libbpf declares', () => {
    let text: string;
    try {
      text = readFileSync(helperDefs, 'utf8');
    } catch {
      if (process.env.CI === 'true') throw new Error(`${helperDefs} missing (libbpf-dev)`);
      console.warn(`skipping helper-name check: ${helperDefs} missing`);
      return;
    }
    const declared = new Map([...text.matchAll(/\(\*bpf_(\w+)\)\(.*?\) = \(void \*\) (\d+);/g)].map((m) => [Number(m[2]), m[1]]));
    expect(declared.size).toBeGreaterThan(100);
    for (const [id, name] of HELPER_NAMES) expect(`${id} ${name}`).toBe(`${id} ${declared.get(id)}`);
  });
});
