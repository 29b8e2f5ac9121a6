// The libbpf calls hardware offload needs beyond targets/host/libbpf.ts:
// binding a program and its maps to a NIC (prog_ifindex / map_ifindex)
// before load. Same library (libbpf.so.1), bound through koffi.

import koffi from 'koffi';
import { check, LIBBPF_PATH, type Ptr } from '../host/libbpf.ts';

/** XDP attach flag: run the program on the NIC (if_link.h). */
export const XDP_FLAGS_HW_MODE = 8;

const lib = koffi.load(LIBBPF_PATH);
const fn = {
  findProgram: lib.func('void *bpf_object__find_program_by_name(void *obj, const char *name)'),
  progSetIfindex: lib.func('void bpf_program__set_ifindex(void *prog, uint32_t ifindex)'),
  nextMap: lib.func('void *bpf_object__next_map(void *obj, void *map)'),
  mapSetIfindex: lib.func('int bpf_map__set_ifindex(void *map, uint32_t ifindex)'),
};

/** Binds the program and every map of an opened (not yet loaded) object to the NIC at `ifindex`. */
export function bindToNic(obj: Ptr, prog: string, ifindex: number): void {
  const p = fn.findProgram(obj, prog);
  if (!p) throw new Error(`object has no program ${prog}`);
  fn.progSetIfindex(p, ifindex);
  for (let m = fn.nextMap(obj, null); m; m = fn.nextMap(obj, m)) check('bpf_map__set_ifindex', fn.mapSetIfindex(m, ifindex) as number);
}
