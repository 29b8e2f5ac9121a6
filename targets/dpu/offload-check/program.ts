// One BPF program as the loader would hand it to the kernel: its entry
// function from a program section, then every function it calls or passes
// as a callback (bpf-to-bpf calls into .text), laid end to end the way
// libbpf links them, with each instruction's C source line, jump and call
// targets resolved, and every map it references described.

import { BPF_MAP_TYPE } from '../profiles.ts';
import { btfLineInfo, btfMaps, lineAt, parseBtf, type BtfMapDef, type LineTable, type SourceLine } from './btf.ts';
import { ElfError, sectionByName, sectionBytes, SHF_EXECINSTR, STT_FUNC, type ElfObject, type ElfSection, type ElfSymbol } from './elf.ts';
import { decode, isCall, isExit, isJump, JMP_OP, LD_IMM64, op, PSEUDO_CALL, slots, type RawInsn } from './insn.ts';

/** A map of the object, whichever way it is declared (BTF-defined, legacy `maps` section, global data): the attributes the kernel gets. */
export type MapInfo = BtfMapDef;

export interface Insn extends RawInsn {
  /** Slot index in the linked program (what the kernel verifier numbers). */
  index: number;
  /** Index of the function (in LinkedProgram.funcs) the instruction belongs to. */
  func: number;
  source?: SourceLine;
  /** Jumps: the linked index jumped to. Calls to BPF functions: the callee's index in funcs. */
  target?: number;
  /** ld_imm64 of a map (the map itself) or of global data (a pointer into its value). */
  mapRef?: { map: string; kind: 'map' | 'value' };
  /** ld_imm64 of a function's address (a bpf_loop callback): its index in funcs. */
  callbackRef?: number;
}

export interface Func {
  name: string;
  /** Linked index of its first instruction. */
  start: number;
  /** Called through a helper (bpf_loop and the like) rather than by a call instruction. */
  callback: boolean;
}

export interface LinkedProgram {
  /** Section name, or section/function when the section holds several programs. */
  name: string;
  insns: Insn[]; // in order; ld_imm64 occupies two slots but one entry
  byIndex: Map<number, Insn>;
  slotCount: number;
  funcs: Func[];
  maps: Map<string, MapInfo>;
}

// libbpf gives global data the flags below (tools/lib/bpf/libbpf.c,
// bpf_object__init_internal_map): one-entry arrays holding the section.
const BPF_F_RDONLY_PROG = 0x80;
const BPF_F_MMAPABLE = 0x400;

function isDataSection(name: string): boolean {
  return /^\.(data|bss|rodata)(\.|$)/.test(name);
}

function dataMap(s: ElfSection): MapInfo {
  const flags = s.name.startsWith('.rodata') ? BPF_F_MMAPABLE | BPF_F_RDONLY_PROG : BPF_F_MMAPABLE;
  return { name: s.name, type: BPF_MAP_TYPE.ARRAY, flags, keySize: 4, valueSize: s.size, maxEntries: 1 };
}

function legacyMap(elf: ElfObject, sym: ElfSymbol): MapInfo {
  const s = elf.sections[sym.section];
  if (sym.value + 20 > s.size) throw new ElfError(`legacy map ${sym.name} runs past the end of section ${s.name}`);
  const view = new DataView(elf.bytes.buffer, elf.bytes.byteOffset + s.offset + sym.value, 20);
  const u = (i: number) => view.getUint32(i * 4, true);
  return { name: sym.name, type: u(0), keySize: u(1), valueSize: u(2), maxEntries: u(3), flags: u(4) };
}

interface Program {
  section: ElfSection;
  fn: ElfSymbol;
}

function programsOf(elf: ElfObject): Program[] {
  return elf.symbols
    .filter((s) => s.type === STT_FUNC && s.section > 0 && s.section < elf.sections.length)
    .map((fn) => ({ fn, section: elf.sections[fn.section] }))
    .filter(({ section }) => (section.flags & SHF_EXECINSTR) !== 0 && section.name !== '.text');
}

function chooseProgram(elf: ElfObject, wanted: string | undefined): { prog: Program; name: string } {
  const progs = programsOf(elf);
  if (progs.length === 0) throw new ElfError('no program section (an executable section other than .text, e.g. "xdp")');
  const perSection = (p: Program) => progs.filter((q) => q.section === p.section).length;
  const nameOf = (p: Program) => (perSection(p) > 1 ? `${p.section.name}/${p.fn.name}` : p.section.name);
  if (wanted !== undefined) {
    const hit = progs.find((p) => nameOf(p) === wanted || p.fn.name === wanted || (p.section.name === wanted && perSection(p) === 1));
    if (!hit) throw new ElfError(`no program "${wanted}"; the object holds: ${progs.map((p) => `${nameOf(p)} (${p.fn.name})`).join(', ')}`);
    return { prog: hit, name: nameOf(hit) };
  }
  const prog = progs.find((p) => p.section.name === 'xdp' || p.section.name.startsWith('xdp')) ?? progs[0];
  return { prog, name: nameOf(prog) };
}

function functionAt(elf: ElfObject, sectionIndex: number, off: number): ElfSymbol {
  if (!elf.sections[sectionIndex]) throw new ElfError(`call or callback into section ${sectionIndex}, which does not exist`);
  const fn = elf.symbols.find((s) => s.type === STT_FUNC && s.section === sectionIndex && s.value === off);
  if (!fn) throw new ElfError(`call or callback to offset ${off} of ${elf.sections[sectionIndex]?.name}, where no function starts`);
  return fn;
}

/**
 * What the kernel verifier refuses before anything else (check_subprogs,
 * check_cfg): a jump landing outside its function or inside an ld_imm64, and
 * a function whose last instruction can fall through into the next.
 */
function checkControlFlow(insns: Insn[], byIndex: Map<number, Insn>, funcs: PendingFunc[]): void {
  for (const i of insns) {
    if (i.target === undefined || isCall(i)) continue;
    const t = byIndex.get(i.target);
    if (!t || t.func !== i.func) throw new ElfError(`jump at instruction ${i.index} of ${funcs[i.func].fn.name} lands outside it (at ${i.target})`);
  }
  funcs.forEach((f, n) => {
    const last = [...insns].reverse().find((i) => i.func === n);
    if (!last || !(isExit(last) || (isJump(last) && op(last.code) === JMP_OP.JA))) {
      throw new ElfError(`function ${f.fn.name} does not end in exit or an unconditional jump`);
    }
  });
}

interface PendingFunc {
  section: ElfSection;
  fn: ElfSymbol;
  callback: boolean;
  /** Instructions with, for calls and callback addresses, the function they reach. */
  raw: { insn: RawInsn; off: number; callee?: number; callback?: number }[];
}

export function linkProgram(elf: ElfObject, wanted?: string): LinkedProgram {
  const { prog, name } = chooseProgram(elf, wanted);
  const btfSec = sectionByName(elf, '.BTF');
  const extSec = sectionByName(elf, '.BTF.ext');
  const btf = btfSec ? parseBtf(sectionBytes(elf, btfSec)) : undefined;
  const lines = btf && extSec ? btfLineInfo(sectionBytes(elf, extSec), btf) : new Map<string, LineTable>();
  const btfDefs = new Map<string, BtfMapDef>((btf ? btfMaps(btf) : []).map((m) => [m.name, m]));
  const relocsOf = (section: ElfSection) => new Map((elf.relocations.get(section.index) ?? []).map((r) => [r.offset, r]));

  // Functions in the order libbpf appends them (bpf_object__reloc_code):
  // each callee right after it is first met, its own callees before the
  // caller's next one, so instruction numbers match the kernel's.
  const pending: PendingFunc[] = [];
  const seen = new Map<string, number>();
  const append = (section: ElfSection, fn: ElfSymbol, callback: boolean): number => {
    const key = `${section.index}:${fn.value}`;
    const known = seen.get(key);
    if (known !== undefined) return known;
    if (fn.size % 8 !== 0 || fn.value + fn.size > section.size) throw new ElfError(`function ${fn.name} does not fit section ${section.name}`);
    const bytes = sectionBytes(elf, section);
    const raw: PendingFunc['raw'] = [];
    for (let off = fn.value; off < fn.value + fn.size; ) {
      const insn = decode(bytes, off);
      raw.push({ insn, off });
      off += slots(insn) * 8;
    }
    seen.set(key, pending.length);
    pending.push({ section, fn, callback, raw });
    const relocs = relocsOf(section);
    for (const r of raw) {
      const reloc = relocs.get(r.off);
      if (isCall(r.insn) && r.insn.src === PSEUDO_CALL) {
        const [secIndex, target] = reloc ? [reloc.symbol.section, reloc.symbol.value + (r.insn.imm + 1) * 8] : [section.index, r.off + (r.insn.imm + 1) * 8];
        r.callee = append(elf.sections[secIndex], functionAt(elf, secIndex, target), false);
      } else if (r.insn.code === LD_IMM64 && reloc && (elf.sections[reloc.symbol.section]?.flags ?? 0) & SHF_EXECINSTR) {
        r.callback = append(elf.sections[reloc.symbol.section], functionAt(elf, reloc.symbol.section, reloc.symbol.value + r.insn.imm), true);
      }
    }
    return seen.get(key)!;
  };
  append(prog.section, prog.fn, false);

  const maps = new Map<string, MapInfo>();
  const insns: Insn[] = [];
  const funcs: Func[] = [];
  let base = 0;
  pending.forEach(({ section, fn, raw, callback: isCallback }, f) => {
    funcs.push({ name: fn.name, start: base, callback: isCallback });
    const relocs = relocsOf(section);
    const table = lines.get(section.name);
    for (const { insn: r, off, callee, callback } of raw) {
      const insn: Insn = { ...r, index: base + (off - fn.value) / 8, func: f, source: lineAt(table, off) };
      if (isJump(insn)) insn.target = insn.index + 1 + insn.off;
      if (callee !== undefined) insn.target = callee;
      if (callback !== undefined) insn.callbackRef = callback;
      const sym = relocs.get(off)?.symbol;
      const sec = sym && insn.code === LD_IMM64 ? elf.sections[sym.section] : undefined;
      if (sec?.name === '.maps') {
        const def = btfDefs.get(sym!.name);
        if (!def) throw new ElfError(`map ${sym!.name} in .maps has no BTF definition (build with -g)`);
        maps.set(def.name, def);
        insn.mapRef = { map: def.name, kind: 'map' };
      } else if (sec?.name === 'maps') {
        const def = legacyMap(elf, sym!);
        maps.set(def.name, def);
        insn.mapRef = { map: def.name, kind: 'map' };
      } else if (sec && isDataSection(sec.name)) {
        maps.set(sec.name, dataMap(sec));
        insn.mapRef = { map: sec.name, kind: 'value' };
      }
      insns.push(insn);
    }
    base += fn.size / 8;
  });
  const byIndex = new Map(insns.map((i) => [i.index, i]));
  checkControlFlow(insns, byIndex, pending);
  return { name, insns, byIndex, slotCount: base, funcs, maps };
}
