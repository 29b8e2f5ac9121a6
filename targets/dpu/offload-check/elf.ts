// A reader for the parts of a 64-bit little-endian ELF relocatable object
// that clang -target bpf writes: section headers, the symbol table and REL
// relocations. It reads what the offload checker needs and nothing else; any
// structure that does not fit is refused with the offset that broke it.

export class ElfError extends Error {
  constructor(message: string) {
    super(`not a BPF object: ${message}`);
    this.name = 'ElfError';
  }
}

export const SHT_SYMTAB = 2;
export const SHT_REL = 9;
export const SHF_EXECINSTR = 0x4;
export const STT_FUNC = 2;
const EM_BPF = 247;

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
}

export interface ElfSymbol {
  name: string;
  type: number;
  /** Index of the section the symbol is defined in (0: undefined). */
  section: number;
  value: number;
  size: number;
}

export interface ElfRelocation {
  /** Byte offset inside the section the relocation applies to. */
  offset: number;
  type: number;
  symbol: ElfSymbol;
}

export interface ElfObject {
  bytes: Uint8Array;
  sections: ElfSection[];
  symbols: ElfSymbol[];
  /** Relocations by the index of the section they patch. */
  relocations: Map<number, ElfRelocation[]>;
}

const UTF8 = new TextDecoder();

function cString(bytes: Uint8Array, at: number): string {
  let end = at;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return UTF8.decode(bytes.subarray(at, end));
}

export function sectionBytes(elf: ElfObject, s: ElfSection): Uint8Array {
  return elf.bytes.subarray(s.offset, s.offset + s.size);
}

export function sectionByName(elf: ElfObject, name: string): ElfSection | undefined {
  return elf.sections.find((s) => s.name === name);
}

/** Safe 64-bit read: offsets and sizes in an object file stay far below 2^53. */
function u64(view: DataView, at: number): number {
  return Number(view.getBigUint64(at, true));
}

export function parseElf(bytes: Uint8Array): ElfObject {
  if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfError('no ELF magic at offset 0');
  }
  if (bytes[4] !== 2) throw new ElfError('not ELF64 (EI_CLASS at offset 4)');
  if (bytes[5] !== 1) throw new ElfError('not little-endian (EI_DATA at offset 5); build with -target bpf or bpfel');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const machine = view.getUint16(0x12, true);
  if (machine !== EM_BPF) throw new ElfError(`e_machine is ${machine}, not EM_BPF (${EM_BPF})`);
  const shoff = u64(view, 0x28);
  const shentsize = view.getUint16(0x3a, true);
  const shnum = view.getUint16(0x3c, true);
  const shstrndx = view.getUint16(0x3e, true);
  if (shentsize !== 64 || shoff + shnum * 64 > bytes.length) {
    throw new ElfError(`section header table at ${shoff} (${shnum} x ${shentsize} bytes) does not fit the file`);
  }
  const raw = Array.from({ length: shnum }, (_, index) => {
    const at = shoff + index * 64;
    const s = {
      index,
      nameOff: view.getUint32(at, true),
      type: view.getUint32(at + 4, true),
      flags: u64(view, at + 8),
      offset: u64(view, at + 24),
      size: u64(view, at + 32),
      link: view.getUint32(at + 40, true),
      info: view.getUint32(at + 44, true),
    };
    // SHT_NOBITS (.bss) occupies no bytes in the file.
    if (s.type !== 8 && s.offset + s.size > bytes.length) {
      throw new ElfError(`section ${index} (offset ${s.offset}, size ${s.size}) runs past the end of the file`);
    }
    return s;
  });
  const shstr = raw[shstrndx];
  if (!shstr) throw new ElfError(`section name table index ${shstrndx} out of range`);
  const sections: ElfSection[] = raw.map(({ nameOff, ...s }) => ({ ...s, name: cString(bytes, shstr.offset + nameOff) }));

  const symtab = sections.find((s) => s.type === SHT_SYMTAB);
  const symbols: ElfSymbol[] = [];
  if (symtab) {
    const strtab = sections[symtab.link];
    if (!strtab) throw new ElfError(`symbol table links to missing string table ${symtab.link}`);
    for (let at = symtab.offset; at + 24 <= symtab.offset + symtab.size; at += 24) {
      symbols.push({
        name: cString(bytes, strtab.offset + view.getUint32(at, true)),
        type: bytes[at + 4] & 0xf,
        section: view.getUint16(at + 6, true),
        value: u64(view, at + 8),
        size: u64(view, at + 16),
      });
    }
  }

  const relocations = new Map<number, ElfRelocation[]>();
  for (const s of sections) {
    if (s.type !== SHT_REL) continue;
    const list: ElfRelocation[] = [];
    for (let at = s.offset; at + 16 <= s.offset + s.size; at += 16) {
      const info = view.getBigUint64(at + 8, true);
      const symIndex = Number(info >> 32n);
      const symbol = symbols[symIndex];
      if (!symbol) throw new ElfError(`relocation at ${at} in ${s.name} names symbol ${symIndex}, beyond the symbol table`);
      list.push({ offset: u64(view, at), type: Number(info & 0xffffffffn), symbol });
    }
    relocations.set(s.info, list);
  }
  return { bytes, sections, symbols, relocations };
}
