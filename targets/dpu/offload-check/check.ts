// The offload checker: holds a built BPF object (the ELF, not its source)
// against a NIC profile's OffloadLimits and reports every rule it breaks,
// each at the instruction and C source line responsible.

import { BPF_HELPER, BPF_MAP_TYPE, XDP_ACTION, type OffloadLimits } from '../profiles.ts';
import { analyze, type State } from './analyze.ts';
import type { SourceLine } from './btf.ts';
import { ElfError, parseElf } from './elf.ts';
import { ATOMIC_ADD, accessSize, helperName, isAtomic, isCall, isExit, isLoad, isStore, PSEUDO_CALL, REDIRECT_HELPERS } from './insn.ts';
import { linkProgram, type Insn, type LinkedProgram, type MapInfo } from './program.ts';
import { deepestChain, frameBytes, roundUp, stackFrames } from './stack.ts';

export interface OffloadViolation {
  /** The profile rule broken. */
  rule: keyof OffloadLimits;
  message: string;
  /** Linked instruction index (as the kernel verifier numbers them). */
  insn?: number;
  source?: SourceLine;
}

export interface OffloadCheckReport {
  ok: boolean;
  program: string;
  instructions: number;
  /** Deepest stack across the bpf-to-bpf call chain, counted as the NIC lays frames out. */
  stackBytes: number;
  maps: MapInfo[];
  helpers: { id: number; name: string; count: number }[];
  violations: OffloadViolation[];
}

const nameOf = (table: Record<string, number>, value: number, kind: string): string =>
  Object.entries(table).find(([, v]) => v === value)?.[0] ?? `${kind} ${value}`;
const mapTypeName = (t: number) => nameOf(BPF_MAP_TYPE, t, 'type');
const actionName = (a: bigint) => (a < 16n ? `XDP_${nameOf(XDP_ACTION, Number(a), 'action')}` : `action ${a}`);

class Violations {
  readonly list: OffloadViolation[] = [];
  private readonly seen = new Set<string>();
  constructor(private readonly prog: LinkedProgram) {}
  /** One report per rule, message and C position: code inlined twice is one finding. */
  add(rule: keyof OffloadLimits, message: string, at?: number): void {
    const source = at === undefined ? undefined : this.prog.byIndex.get(at)?.source;
    const key = `${rule}@${source ? `${source.file}:${source.line}:${source.col}` : at}:${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push({ rule, message, ...(at === undefined ? {} : { insn: at }), ...(source ? { source } : {}) });
  }
}

function checkMap(m: MapInfo, limits: OffloadLimits, v: Violations, at: number): void {
  if (!limits.mapTypes.includes(m.type)) {
    v.add('mapTypes', `map ${m.name} is ${mapTypeName(m.type)}; the NIC holds ${limits.mapTypes.map(mapTypeName).join(', ')}`, at);
  }
  const extra = m.flags & ~limits.mapFlagsMask;
  if (extra) v.add('mapFlagsMask', `map ${m.name} has flags 0x${m.flags.toString(16)}; the NIC refuses 0x${extra.toString(16)}`, at);
  // The nfp driver rounds key and value up to 8 bytes each before comparing
  // with the firmware's largest entry (offload.c, nfp_bpf_map_alloc).
  const entry = roundUp(m.keySize, 8) + roundUp(m.valueSize, 8);
  if (entry > limits.maxKeyPlusValue) {
    v.add('maxKeyPlusValue', `map ${m.name} entry is ${entry} B (key ${m.keySize} + value ${m.valueSize}, each rounded up to 8) > ${limits.maxKeyPlusValue} B`, at);
  }
}

function checkMemory(insn: Insn, s: State, limits: OffloadLimits, v: Violations): void {
  const baseReg = isLoad(insn) ? insn.src : insn.dst;
  const base = s.regs[baseReg];
  const write = isStore(insn) || isAtomic(insn);
  if (base.k === 'mapValue' && limits.onlyAtomicAddWrites) {
    if (isStore(insn)) v.add('onlyAtomicAddWrites', `store of ${accessSize(insn.code)} B into a value of map ${base.map}; only atomic add may write map memory`, insn.index);
    else if (isAtomic(insn) && insn.imm !== ATOMIC_ADD) v.add('onlyAtomicAddWrites', `atomic operation 0x${insn.imm.toString(16)} on a value of map ${base.map}; only atomic add (without fetch) may write map memory`, insn.index);
  }
  if (base.k === 'stack' && !base.offs && limits.constantStackOffsets) {
    v.add('constantStackOffsets', `stack ${write ? 'write' : 'read'} through r${baseReg} at a variable offset; stack offsets must be constants`, insn.index);
  }
}

function checkCall(insn: Insn, limits: OffloadLimits, v: Violations, helpers: Map<number, number>): void {
  if (insn.src === PSEUDO_CALL) {
    if (!limits.bpfToBpfCalls) v.add('bpfToBpfCalls', 'call to a BPF function; the NIC runs one function per program', insn.index);
    return;
  }
  const id = insn.imm;
  helpers.set(id, (helpers.get(id) ?? 0) + 1);
  if (id === BPF_HELPER.tail_call) {
    if (!limits.tailCalls) v.add('tailCalls', 'bpf_tail_call; the NIC runs no tail calls', insn.index);
  } else if (!limits.helpers.includes(id)) {
    v.add('helpers', `helper bpf_${helperName(id)} (${id}) is not available on the NIC; allowed: ${limits.helpers.map((h) => `bpf_${helperName(h)}`).join(', ')}`, insn.index);
  }
  if (REDIRECT_HELPERS.has(id) && !limits.returnCodes.includes(XDP_ACTION.REDIRECT)) {
    v.add('returnCodes', `bpf_${helperName(id)} makes the verdict XDP_REDIRECT, which the NIC does not carry out`, insn.index);
  }
}

function checkExit(s: State, limits: OffloadLimits, v: Violations, exitAt: number): void {
  const r0 = s.regs[0];
  // Only constants are checked: a computed verdict is the verifier's business.
  if (r0.k !== 'scalar' || !r0.consts) return;
  for (const c of r0.consts) {
    if (!limits.returnCodes.includes(Number(c.v))) {
      v.add('returnCodes', `returns ${c.v} (${actionName(c.v)}), exit at insn ${exitAt}; the NIC carries out ${limits.returnCodes.map((a) => actionName(BigInt(a))).join(', ')}`, c.at);
    }
  }
}

function checkStack(prog: LinkedProgram, before: Map<number, State>, limits: OffloadLimits, v: Violations): number {
  const frames = stackFrames(prog, before);
  const chain = deepestChain(frames, 0);
  if (chain.bytes > limits.maxStackBytes) {
    const parts = chain.path.map((p) => `${prog.funcs[p.func].name} ${frameBytes(frames[p.func], p.func)} B`).join(' -> ');
    const firstCall = chain.path.find((p) => p.at !== undefined)?.at;
    v.add('maxStackBytes', `stack ${chain.bytes} B > ${limits.maxStackBytes} B (${parts})`, firstCall ?? frames[0].deepestAt);
  }
  return chain.bytes;
}

export interface CheckOptions {
  /** Program section or function name; default: the XDP program, else the first one. */
  program?: string;
}

/** The program to check; a structure whose counts or offsets point outside the file is an ElfError, like any other. */
function readProgram(elf: Uint8Array, program: string | undefined): LinkedProgram {
  try {
    return linkProgram(parseElf(elf), program);
  } catch (e) {
    if (e instanceof RangeError) throw new ElfError(`a structure runs past the data holding it (${e.message})`);
    throw e;
  }
}

export function checkOffload(elf: Uint8Array, limits: OffloadLimits, opts: CheckOptions = {}): OffloadCheckReport {
  const prog = readProgram(elf, opts.program);
  const { before } = analyze(prog);
  const v = new Violations(prog);
  const helpers = new Map<number, number>();
  const mapsChecked = new Set<string>();

  for (const insn of prog.insns) {
    if (insn.mapRef && !mapsChecked.has(insn.mapRef.map)) {
      mapsChecked.add(insn.mapRef.map);
      checkMap(prog.maps.get(insn.mapRef.map)!, limits, v, insn.index);
    }
    const s = before.get(insn.index);
    if (!s) continue; // unreachable
    if (isLoad(insn) || isStore(insn) || isAtomic(insn)) checkMemory(insn, s, limits, v);
    else if (isCall(insn)) checkCall(insn, limits, v, helpers);
    else if (isExit(insn) && insn.func === 0) checkExit(s, limits, v, insn.index);
  }
  const stackBytes = checkStack(prog, before, limits, v);
  if (prog.slotCount > limits.maxInstructions) {
    v.add('maxInstructions', `${prog.slotCount} instructions > ${limits.maxInstructions}; the first beyond the budget is here`, limits.maxInstructions);
  }
  return {
    ok: v.list.length === 0,
    program: prog.name,
    instructions: prog.slotCount,
    stackBytes,
    maps: [...prog.maps.values()],
    helpers: [...helpers].sort((a, b) => a[0] - b[0]).map(([id, count]) => ({ id, name: helperName(id), count })),
    violations: v.list,
  };
}

/** One line per violation, "file:line:col: rule: message", then a summary line. */
export function formatOffloadReport(r: OffloadCheckReport): string {
  const lines = r.violations.map((x) => {
    const where = x.source ? `${x.source.file}:${x.source.line}:${x.source.col}` : `${r.program}${x.insn === undefined ? '' : `+${x.insn}`}`;
    return `${where}: ${x.rule}: ${x.message}`;
  });
  const summary = `${r.program}: ${r.instructions} instructions, ${r.stackBytes} B stack, ${r.maps.length} maps, ${r.helpers.length} helpers`;
  lines.push(r.ok ? `${summary}: fits the profile` : `${summary}: ${r.violations.length} violation${r.violations.length === 1 ? '' : 's'}`);
  return lines.join('\n');
}
