// The offload checker's public face: check a built BPF object against a
// profile's limits, and print the result.
export { checkOffload, formatOffloadReport, type CheckOptions, type OffloadCheckReport, type OffloadViolation } from './check.ts';
export { ElfError } from './elf.ts';
