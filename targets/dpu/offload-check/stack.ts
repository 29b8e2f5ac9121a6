// Stack use of a linked program: how deep each function's frame goes below
// its frame pointer, and the frames of the deepest bpf-to-bpf call chain as
// the nfp JIT lays them out (drivers/net/ethernet/netronome/nfp/bpf/
// verifier.c, nfp_bpf_finalize and nfp_bpf_get_stack_usage): each frame
// rounded up to STACK_FRAME_ALIGN (main.h); a called function also holds its
// return address (REG_WIDTH, nfp_asm.h) and, when it uses r6-r9, their
// saved copies.

import type { State, Val } from './analyze.ts';
import { isAtomic, isCall, isLoad, isStore } from './insn.ts';
import type { LinkedProgram } from './program.ts';

const STACK_FRAME_ALIGN = 64;
const RETURN_ADDRESS_BYTES = 4;
const CALLEE_SAVED_BYTES = 4 * 8;
export const roundUp = (n: number, to: number): number => Math.ceil(n / to) * to;

export interface Frame {
  /** Deepest byte below the frame pointer touched (as the kernel counts it), and where. */
  depth: number;
  deepestAt?: number;
  usesCalleeSaved: boolean;
  /** Functions it calls or passes as callbacks, with the instruction that does. */
  callees: { func: number; at: number }[];
}

const constStack = (v: Val): number[] => (v.k === 'stack' && v.offs ? v.offs : []);

/**
 * Frames of every function: a load or store through a frame's pointer, and a
 * pointer into it handed to a helper or function, reach that frame's depth.
 * Accesses at a variable offset are the constantStackOffsets rule's, not
 * counted here.
 */
export function stackFrames(prog: LinkedProgram, before: Map<number, State>): Frame[] {
  const frames: Frame[] = prog.funcs.map(() => ({ depth: 0, usesCalleeSaved: false, callees: [] }));
  const touch = (frame: number, depth: number, at: number) => {
    if (depth > frames[frame].depth) Object.assign(frames[frame], { depth, deepestAt: at });
  };
  for (const insn of prog.insns) {
    if (insn.dst >= 6 && insn.dst <= 9) frames[insn.func].usesCalleeSaved = true;
    if (insn.callbackRef !== undefined) frames[insn.func].callees.push({ func: insn.callbackRef, at: insn.index });
    const s = before.get(insn.index);
    if (!s) continue;
    if (isLoad(insn) || isStore(insn) || isAtomic(insn)) {
      const base = s.regs[isLoad(insn) ? insn.src : insn.dst];
      for (const o of constStack(base)) touch((base as { frame: number }).frame, -(o + insn.off), insn.index);
    } else if (isCall(insn)) {
      for (let r = 1; r <= 5; r++) for (const o of constStack(s.regs[r])) touch((s.regs[r] as { frame: number }).frame, -o, insn.index);
      if (insn.target !== undefined) frames[insn.func].callees.push({ func: insn.target, at: insn.index });
    }
  }
  return frames;
}

/** Bytes of stack one function's frame takes on the NIC. */
export function frameBytes(f: Frame, index: number): number {
  if (index === 0) return roundUp(f.depth, STACK_FRAME_ALIGN);
  return roundUp(f.depth + RETURN_ADDRESS_BYTES + (f.usesCalleeSaved ? CALLEE_SAVED_BYTES : 0), STACK_FRAME_ALIGN);
}

/** Deepest chain from `index`: total bytes and the path (function, call site) that reaches it. */
export function deepestChain(frames: Frame[], index: number, depth = 0): { bytes: number; path: { func: number; at?: number }[] } {
  if (depth > 8) return { bytes: frameBytes(frames[index], index), path: [{ func: index }] }; // recursion: the kernel refuses it anyway
  let best = { bytes: 0, path: [] as { func: number; at?: number }[] };
  for (const c of frames[index].callees) {
    const sub = deepestChain(frames, c.func, depth + 1);
    if (sub.bytes > best.bytes) best = { bytes: sub.bytes, path: [{ func: c.func, at: c.at }, ...sub.path.slice(1)] };
  }
  return { bytes: frameBytes(frames[index], index) + best.bytes, path: [{ func: index }, ...best.path] };
}
