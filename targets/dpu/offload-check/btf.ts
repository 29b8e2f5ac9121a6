// BTF as clang writes it into a BPF object: the type section (enough to read
// BTF-defined maps, whose attributes are encoded in the member types) and the
// line info of .BTF.ext, which gives each instruction its C file, line,
// column and line text. Layouts: include/uapi/linux/btf.h and
// tools/lib/bpf/libbpf_internal.h (struct btf_ext_header).

import { ElfError } from './elf.ts';

const BTF_MAGIC = 0xeb9f;

/** BTF kinds (BTF_KIND_*). */
const KIND = {
  INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10,
  RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;

interface Member {
  name: string;
  type: number;
}

interface BtfType {
  kind: number;
  name: string;
  /** size for INT/STRUCT/UNION/ENUM/DATASEC/FLOAT, else the referenced type id. */
  sizeOrType: number;
  members: Member[];
  /** ARRAY only. */
  array?: { type: number; nelems: number };
  /** DATASEC only: the variables it holds. */
  vars: number[];
}

export interface Btf {
  types: BtfType[]; // index = type id; 0 is void
  strings: Uint8Array;
}

export interface SourceLine {
  file: string;
  line: number;
  col: number;
  text?: string;
}

const UTF8 = new TextDecoder();

function str(strings: Uint8Array, off: number): string {
  let end = off;
  while (end < strings.length && strings[end] !== 0) end++;
  return UTF8.decode(strings.subarray(off, end));
}

function header(bytes: Uint8Array, what: string): DataView {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 8 || view.getUint16(0, true) !== BTF_MAGIC) throw new ElfError(`${what}: no BTF magic`);
  return view;
}

export function parseBtf(bytes: Uint8Array): Btf {
  const view = header(bytes, '.BTF');
  const hdrLen = view.getUint32(4, true);
  const typeOff = hdrLen + view.getUint32(8, true);
  const typeLen = view.getUint32(12, true);
  const strOff = hdrLen + view.getUint32(16, true);
  const strLen = view.getUint32(20, true);
  if (typeOff + typeLen > bytes.length || strOff + strLen > bytes.length) throw new ElfError('.BTF: type or string section runs past its end');
  const strings = bytes.subarray(strOff, strOff + strLen);
  const types: BtfType[] = [{ kind: 0, name: '', sizeOrType: 0, members: [], vars: [] }];
  let at = typeOff;
  const end = typeOff + typeLen;
  while (at < end) {
    const name = str(strings, view.getUint32(at, true));
    const info = view.getUint32(at + 4, true);
    const sizeOrType = view.getUint32(at + 8, true);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    at += 12;
    const t: BtfType = { kind, name, sizeOrType, members: [], vars: [] };
    switch (kind) {
      case KIND.INT:
      case KIND.VAR:
      case KIND.DECL_TAG:
        at += 4;
        break;
      case KIND.ARRAY:
        t.array = { type: view.getUint32(at, true), nelems: view.getUint32(at + 8, true) };
        at += 12;
        break;
      case KIND.STRUCT:
      case KIND.UNION:
        for (let i = 0; i < vlen; i++, at += 12) {
          t.members.push({ name: str(strings, view.getUint32(at, true)), type: view.getUint32(at + 4, true) });
        }
        break;
      case KIND.ENUM:
      case KIND.FUNC_PROTO:
        at += vlen * 8;
        break;
      case KIND.ENUM64:
        at += vlen * 12;
        break;
      case KIND.DATASEC:
        for (let i = 0; i < vlen; i++, at += 12) t.vars.push(view.getUint32(at, true));
        break;
      case KIND.PTR:
      case KIND.FWD:
      case KIND.TYPEDEF:
      case KIND.VOLATILE:
      case KIND.CONST:
      case KIND.RESTRICT:
      case KIND.FUNC:
      case KIND.FLOAT:
      case KIND.TYPE_TAG:
        break;
      default:
        throw new ElfError(`.BTF: unknown type kind ${kind} at offset ${at - 12}`);
    }
    types.push(t);
  }
  return { types, strings };
}

const MODIFIERS: number[] = [KIND.TYPEDEF, KIND.VOLATILE, KIND.CONST, KIND.RESTRICT, KIND.TYPE_TAG];

function resolve(btf: Btf, id: number): BtfType {
  let t = btf.types[id];
  for (let hops = 0; t && MODIFIERS.includes(t.kind) && hops < 32; hops++) t = btf.types[t.sizeOrType];
  if (!t) throw new ElfError(`.BTF: type id ${id} out of range`);
  return t;
}

function sizeOf(btf: Btf, id: number): number {
  const t = resolve(btf, id);
  switch (t.kind) {
    case KIND.PTR:
      return 8;
    case KIND.ARRAY:
      return t.array!.nelems * sizeOf(btf, t.array!.type);
    case KIND.INT:
    case KIND.STRUCT:
    case KIND.UNION:
    case KIND.ENUM:
    case KIND.ENUM64:
    case KIND.FLOAT:
      return t.sizeOrType;
    default:
      throw new ElfError(`.BTF: type ${id} (kind ${t.kind}) has no size`);
  }
}

/** Map attributes as a BTF-defined map spells them (libbpf's __uint / __type). */
export interface BtfMapDef {
  name: string;
  type: number;
  flags: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

/**
 * The maps of the `.maps` DATASEC. `__uint(name, N)` is a member pointing to
 * an array of N ints; `__type(name, T)` a member pointing to T, whose size is
 * the key or value size.
 */
export function btfMaps(btf: Btf): BtfMapDef[] {
  const sec = btf.types.find((t) => t.kind === KIND.DATASEC && t.name === '.maps');
  if (!sec) return [];
  return sec.vars.map((varId) => {
    const v = btf.types[varId];
    if (!v || v.kind !== KIND.VAR) throw new ElfError(`.BTF: .maps entry ${varId} is not a variable`);
    const def = resolve(btf, v.sizeOrType);
    if (def.kind !== KIND.STRUCT) throw new ElfError(`.BTF: map ${v.name} is not a struct`);
    const m: BtfMapDef = { name: v.name, type: 0, flags: 0, keySize: 0, valueSize: 0, maxEntries: 0 };
    for (const member of def.members) {
      const ptr = resolve(btf, member.type);
      if (ptr.kind !== KIND.PTR) continue;
      const target = resolve(btf, ptr.sizeOrType);
      const uint = target.kind === KIND.ARRAY ? target.array!.nelems : undefined;
      switch (member.name) {
        case 'type':
          m.type = uint ?? 0;
          break;
        case 'map_flags':
          m.flags = uint ?? 0;
          break;
        case 'max_entries':
          m.maxEntries = uint ?? 0;
          break;
        case 'key_size':
          m.keySize = uint ?? 0;
          break;
        case 'value_size':
          m.valueSize = uint ?? 0;
          break;
        case 'key':
          m.keySize = sizeOf(btf, ptr.sizeOrType);
          break;
        case 'value':
          m.valueSize = sizeOf(btf, ptr.sizeOrType);
          break;
      }
    }
    return m;
  });
}

/** Line info of one ELF section, sorted by byte offset of the instruction. */
export type LineTable = { insnOff: number; src: SourceLine }[];

/** .BTF.ext line_info: per section name, where each instruction comes from in C. */
export function btfLineInfo(ext: Uint8Array, btf: Btf): Map<string, LineTable> {
  const view = header(ext, '.BTF.ext');
  const hdrLen = view.getUint32(4, true);
  const lineOff = hdrLen + view.getUint32(16, true);
  const lineLen = view.getUint32(20, true);
  const tables = new Map<string, LineTable>();
  if (lineLen === 0) return tables;
  if (lineOff + lineLen > ext.length) throw new ElfError('.BTF.ext: line info runs past its end');
  const recSize = view.getUint32(lineOff, true);
  if (recSize < 16) throw new ElfError(`.BTF.ext: line info record size ${recSize} < 16`);
  let at = lineOff + 4;
  const end = lineOff + lineLen;
  while (at + 8 <= end) {
    const section = str(btf.strings, view.getUint32(at, true));
    const count = view.getUint32(at + 4, true);
    at += 8;
    const table: LineTable = tables.get(section) ?? [];
    for (let i = 0; i < count; i++, at += recSize) {
      const lineCol = view.getUint32(at + 12, true);
      const text = str(btf.strings, view.getUint32(at + 8, true));
      table.push({
        insnOff: view.getUint32(at, true),
        src: { file: str(btf.strings, view.getUint32(at + 4, true)), line: lineCol >>> 10, col: lineCol & 0x3ff, ...(text ? { text: text.trim() } : {}) },
      });
    }
    table.sort((a, b) => a.insnOff - b.insnOff);
    tables.set(section, table);
  }
  return tables;
}

/**
 * The line of the instruction at `insnOff`: the last record at or before it.
 * Records with line 0 (code the compiler made up) give way to the one before.
 */
export function lineAt(table: LineTable | undefined, insnOff: number): SourceLine | undefined {
  if (!table) return undefined;
  let lo = 0;
  let hi = table.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (table[mid].insnOff <= insnOff) {
      lo = mid + 1;
    } else hi = mid - 1;
  }
  for (let i = lo - 1; i >= 0; i--) if (table[i].src.line > 0) return table[i].src;
  return undefined;
}
