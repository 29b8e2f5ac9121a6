// Writes bpf/lib/abi.h from targets/host/abi.ts (run by `make -C bpf abi`).

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderAbiHeader } from './abi.ts';

const out = fileURLToPath(new URL('../../bpf/lib/abi.h', import.meta.url));
writeFileSync(out, renderAbiHeader());
