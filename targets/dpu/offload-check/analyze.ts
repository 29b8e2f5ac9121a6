// What each register may hold before each instruction: a small abstract
// interpretation over the linked program, enough for the offload rules.
//
// Values: a scalar (with the set of constants it may be, each remembering
// the instruction that produced it), a pointer into a function's stack frame
// (with the set of constant offsets from its frame pointer, or "variable"),
// a map, a pointer into a map value, or anything.
//
// What it approximates, and in which direction:
// - It is path-insensitive: at a join, a register that is a map value pointer
//   on any path stays one (stores through it are reported even if another
//   path makes it something else), and sets of constants or stack offsets are
//   unioned. A set that grows past SET_CAP (a loop stepping a counter or a
//   stack pointer) becomes "unknown" or "variable", where the kernel verifier,
//   which walks each iteration, would still see constants.
// - Spills: 8-byte stores of a register into its own frame at a constant
//   offset are remembered and restored by 8-byte loads from there. A helper
//   or BPF function given a pointer into the frame may write there, so slots
//   at or above that pointer are forgotten after the call (the map helpers,
//   which only read their key and value, excepted).
// - A BPF function starts from the join of its call sites' r1-r5; its return
//   value is the join of its exits. A callback (bpf_loop) starts from unknown
//   arguments.
// - Conditions are not used to refine values (a NULL check does not turn a
//   map value pointer into a scalar on the other branch).

import { ALU_OP, CLASS, accessSize, cls, isAtomic, isCall, isExit, isJump, isLoad, isStore, JMP_OP, LD_IMM64, op, PSEUDO_CALL, REG_FP, slots, srcIsReg } from './insn.ts';
import type { Insn, LinkedProgram } from './program.ts';

const SET_CAP = 32;
/** Helpers that read their pointer arguments and never write through them. */
const READ_ONLY_POINTER_HELPERS = new Set([1, 2, 3]);
const MAP_LOOKUP_ELEM = 1;

export interface Const {
  v: bigint;
  /** Linked index of the instruction that produced the constant. */
  at: number;
}

export type Val =
  | { k: 'top' }
  | { k: 'scalar'; consts?: Const[] }
  | { k: 'stack'; frame: number; offs?: number[] }
  | { k: 'map'; map: string }
  | { k: 'mapValue'; map: string };

export interface State {
  regs: Val[]; // r0..r10
  /** Spilled registers in the function's own frame, by offset from the frame pointer. */
  slots: Map<number, Val>;
}

const TOP: Val = { k: 'top' };
const UNKNOWN: Val = { k: 'scalar' };

function constVal(v: bigint, at: number): Val {
  return { k: 'scalar', consts: [{ v: BigInt.asUintN(64, v), at }] };
}

function unionBy<T>(a: T[], b: T[], key: (x: T) => string | number | bigint): T[] | undefined {
  const out = [...a];
  const have = new Set(a.map(key));
  for (const x of b) if (!have.has(key(x))) out.push(x);
  return out.length > SET_CAP ? undefined : out;
}

export function joinVal(a: Val, b: Val): Val {
  if (a.k === 'mapValue' || b.k === 'mapValue') {
    const names = [a, b].filter((v) => v.k === 'mapValue').map((v) => (v as { map: string }).map);
    return { k: 'mapValue', map: names.every((n) => n === names[0]) ? names[0] : '*' };
  }
  if (a.k === 'scalar' && b.k === 'scalar') {
    if (!a.consts || !b.consts) return UNKNOWN;
    const consts = unionBy(a.consts, b.consts, (c) => c.v);
    return consts ? { k: 'scalar', consts } : UNKNOWN;
  }
  if (a.k === 'stack' && b.k === 'stack' && a.frame === b.frame) {
    return { k: 'stack', frame: a.frame, offs: a.offs && b.offs ? unionBy(a.offs, b.offs, (o) => o) : undefined };
  }
  if (a.k === 'map' && b.k === 'map') return { k: 'map', map: a.map === b.map ? a.map : '*' };
  return TOP;
}

function valKey(v: Val): string {
  switch (v.k) {
    case 'top':
      return 'T';
    case 'scalar':
      return v.consts ? `s${v.consts.map((c) => `${c.v}@${c.at}`).join(',')}` : 's?';
    case 'stack':
      return `p${v.frame}:${v.offs ? v.offs.join(',') : '?'}`;
    case 'map':
      return `m${v.map}`;
    case 'mapValue':
      return `v${v.map}`;
  }
}

function stateKey(s: State): string {
  const slots = [...s.slots.entries()].sort((a, b) => a[0] - b[0]).map(([o, v]) => `${o}=${valKey(v)}`);
  return `${s.regs.map(valKey).join('|')}#${slots.join('|')}`;
}

function joinState(a: State, b: State): State {
  const slots = new Map<number, Val>();
  for (const [o, v] of a.slots) {
    const w = b.slots.get(o);
    if (w) slots.set(o, joinVal(v, w));
  }
  return { regs: a.regs.map((v, i) => joinVal(v, b.regs[i])), slots };
}

function entryState(frame: number): State {
  const regs: Val[] = Array.from({ length: 11 }, () => UNKNOWN);
  for (let r = 1; r <= 5; r++) regs[r] = TOP;
  regs[REG_FP] = { k: 'stack', frame, offs: [0] };
  return { regs, slots: new Map() };
}

function mapConsts(v: Val, f: (x: bigint) => bigint | undefined, at: number): Val {
  if (v.k !== 'scalar' || !v.consts) return UNKNOWN;
  const out: Const[] = [];
  for (const c of v.consts) {
    const r = f(c.v);
    if (r === undefined) return UNKNOWN;
    out.push({ v: BigInt.asUintN(64, r), at });
  }
  return { k: 'scalar', consts: out };
}

function constsOf(v: Val): bigint[] | undefined {
  return v.k === 'scalar' && v.consts ? v.consts.map((c) => c.v) : undefined;
}

/** Pointer plus or minus a scalar: the pointer, its offsets moved where both are known. */
function movePointer(p: Val, delta: Val, sign: 1n | -1n): Val {
  if (p.k === 'mapValue') return p;
  if (p.k !== 'stack') return TOP;
  const ds = constsOf(delta);
  if (!ds || !p.offs) return { k: 'stack', frame: p.frame };
  const offs = new Set<number>();
  for (const o of p.offs) for (const d of ds) offs.add(Number(BigInt.asIntN(64, BigInt(o) + sign * d)));
  return { k: 'stack', frame: p.frame, offs: offs.size > SET_CAP ? undefined : [...offs] };
}

const isPointer = (v: Val): boolean => v.k === 'stack' || v.k === 'mapValue' || v.k === 'map';

function alu(insn: Insn, dst: Val, src: Val): Val {
  const is64 = cls(insn.code) === CLASS.ALU64;
  const o = op(insn.code);
  if (o === ALU_OP.MOV) {
    if (is64) return src;
    return isPointer(src) || src.k === 'top' ? UNKNOWN : mapConsts(src, (x) => BigInt.asUintN(32, x), insn.index);
  }
  if (is64 && (o === ALU_OP.ADD || o === ALU_OP.SUB)) {
    if (isPointer(dst)) return movePointer(dst, src, o === ALU_OP.ADD ? 1n : -1n);
    if (o === ALU_OP.ADD && isPointer(src)) return movePointer(src, dst, 1n);
  }
  if (isPointer(dst) || isPointer(src) || dst.k === 'top' || src.k === 'top') return UNKNOWN;
  const a = constsOf(dst);
  const b = o === ALU_OP.NEG ? [0n] : constsOf(src);
  if (!a || !b || a.length * b.length > SET_CAP) return UNKNOWN;
  const width = is64 ? 64 : 32;
  const shiftMask = BigInt(width - 1);
  const f = (x: bigint, y: bigint): bigint | undefined => {
    switch (o) {
      case ALU_OP.ADD: return x + y;
      case ALU_OP.SUB: return x - y;
      case ALU_OP.MUL: return x * y;
      case ALU_OP.OR: return x | y;
      case ALU_OP.AND: return x & y;
      case ALU_OP.XOR: return x ^ y;
      case ALU_OP.LSH: return x << (y & shiftMask);
      case ALU_OP.RSH: return BigInt.asUintN(width, x) >> (y & shiftMask);
      case ALU_OP.NEG: return -x;
      default: return undefined;
    }
  };
  const out: Const[] = [];
  for (const x of a) {
    for (const y of b) {
      const r = f(x, y);
      if (r === undefined) return UNKNOWN;
      const v = BigInt.asUintN(64, BigInt.asUintN(width, r));
      if (!out.some((c) => c.v === v)) out.push({ v, at: insn.index });
    }
  }
  return { k: 'scalar', consts: out };
}

/** The operand of an ALU or store: a register, or the immediate. */
function operand(s: State, insn: Insn): Val {
  return srcIsReg(insn.code) ? s.regs[insn.src] : constVal(BigInt(insn.imm), insn.index);
}

/** Forget spills a write of `size` bytes at these offsets may overwrite (all, when the offset is not known). */
function clobberSlots(slots: Map<number, Val>, offs: number[] | undefined, size: number): void {
  if (!offs) return slots.clear();
  for (const o of offs) for (const k of [...slots.keys()]) if (k < o + size && o < k + 8) slots.delete(k);
}

function clobberAbove(slots: Map<number, Val>, from: number): void {
  for (const k of [...slots.keys()]) if (k + 8 > from) slots.delete(k);
}

class MinHeap {
  private readonly items: number[] = [];
  get length(): number {
    return this.items.length;
  }
  push(x: number): void {
    const a = this.items;
    a.push(x);
    for (let i = a.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (a[parent] <= a[i]) break;
      [a[parent], a[i]] = [a[i], a[parent]];
      i = parent;
    }
  }
  pop(): number {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l] < a[m]) m = l;
        if (r < a.length && a[r] < a[m]) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}

export interface Analysis {
  /** State before each reachable instruction, by linked index. */
  before: Map<number, State>;
  /** Join of r0 at the exits of each function, by function index. */
  returns: Map<number, Val>;
}

export function analyze(prog: LinkedProgram): Analysis {
  const before = new Map<number, State>();
  const keys = new Map<number, string>();
  const returns = new Map<number, Val>();
  const callSites = new Map<number, Insn[]>();
  for (const i of prog.insns) {
    if (isCall(i) && i.src === PSEUDO_CALL) callSites.set(i.target!, [...(callSites.get(i.target!) ?? []), i]);
  }
  // Lowest index first: a join point is mostly reached from all its
  // predecessors before it is walked on, so fewer states are walked twice.
  const work = new MinHeap();
  const queued = new Set<number>();
  const push = (index: number) => {
    if (!queued.has(index)) {
      queued.add(index);
      work.push(index);
    }
  };
  const flow = (index: number, s: State) => {
    const old = before.get(index);
    const next = old ? joinState(old, s) : s;
    const key = stateKey(next);
    if (keys.get(index) === key) return;
    before.set(index, next);
    keys.set(index, key);
    push(index);
  };
  prog.funcs.forEach((f, i) => {
    if (i === 0 || f.callback) flow(f.start, entryState(i));
  });

  while (work.length > 0) {
    const index = work.pop();
    queued.delete(index);
    const insn = prog.byIndex.get(index)!;
    const s = before.get(index)!;
    const regs = [...s.regs];
    const slotsAfter = new Map(s.slots);
    const own = (v: Val): v is { k: 'stack'; frame: number; offs?: number[] } => v.k === 'stack' && v.frame === insn.func;
    const next = index + slots(insn);
    const c = cls(insn.code);

    if (insn.code === LD_IMM64) {
      if (insn.mapRef) regs[insn.dst] = insn.mapRef.kind === 'map' ? { k: 'map', map: insn.mapRef.map } : { k: 'mapValue', map: insn.mapRef.map };
      else if (insn.callbackRef !== undefined) regs[insn.dst] = TOP;
      else regs[insn.dst] = constVal(BigInt.asUintN(32, BigInt(insn.imm)) | (BigInt(insn.imm2 ?? 0) << 32n), index);
      flow(next, { regs, slots: slotsAfter });
    } else if (c === CLASS.ALU || c === CLASS.ALU64) {
      regs[insn.dst] = alu(insn, regs[insn.dst], operand(s, insn));
      flow(next, { regs, slots: slotsAfter });
    } else if (isLoad(insn)) {
      const base = regs[insn.src];
      const spilled = own(base) && base.offs?.length === 1 && accessSize(insn.code) === 8 ? s.slots.get(base.offs[0] + insn.off) : undefined;
      regs[insn.dst] = spilled ?? (accessSize(insn.code) === 8 ? TOP : UNKNOWN);
      flow(next, { regs, slots: slotsAfter });
    } else if (isStore(insn) || isAtomic(insn)) {
      const base = regs[insn.dst];
      if (own(base)) {
        const offs = base.offs?.map((o) => o + insn.off);
        clobberSlots(slotsAfter, offs, accessSize(insn.code));
        if (isStore(insn) && c === CLASS.STX && offs?.length === 1 && accessSize(insn.code) === 8) slotsAfter.set(offs[0], regs[insn.src]);
      }
      // Atomic fetch variants write the old value back into src (cmpxchg: r0).
      if (isAtomic(insn) && insn.imm & 1) regs[insn.imm === 0xf1 ? 0 : insn.src] = UNKNOWN;
      flow(next, { regs, slots: slotsAfter });
    } else if (isCall(insn)) {
      const args = regs.slice(1, 6);
      const helper = insn.src !== PSEUDO_CALL;
      if (!helper || !READ_ONLY_POINTER_HELPERS.has(insn.imm)) {
        for (const a of args) if (own(a)) a.offs ? clobberAbove(slotsAfter, Math.min(...a.offs)) : slotsAfter.clear();
      }
      for (let r = 1; r <= 5; r++) regs[r] = UNKNOWN;
      if (helper) {
        regs[0] = insn.imm === MAP_LOOKUP_ELEM ? { k: 'mapValue', map: args[0].k === 'map' ? args[0].map : '*' } : UNKNOWN;
        flow(next, { regs, slots: slotsAfter });
      } else {
        const callee = insn.target!;
        const entry = entryState(callee);
        for (let r = 1; r <= 5; r++) entry.regs[r] = args[r - 1];
        flow(prog.funcs[callee].start, entry);
        const ret = returns.get(callee);
        if (ret) {
          regs[0] = ret;
          flow(next, { regs, slots: slotsAfter });
        }
      }
    } else if (isExit(insn)) {
      const old = returns.get(insn.func);
      const ret = old ? joinVal(old, regs[0]) : regs[0];
      if (!old || valKey(old) !== valKey(ret)) {
        returns.set(insn.func, ret);
        for (const site of callSites.get(insn.func) ?? []) if (before.has(site.index)) push(site.index);
      }
    } else if (isJump(insn)) {
      const out = { regs, slots: slotsAfter };
      flow(insn.target!, out);
      if (op(insn.code) !== JMP_OP.JA) flow(next, out);
    } else {
      // Legacy packet loads (BPF_LD ABS/IND) set r0; nothing else reaches here.
      regs[0] = UNKNOWN;
      flow(next, { regs, slots: slotsAfter });
    }
  }
  return { before, returns };
}
