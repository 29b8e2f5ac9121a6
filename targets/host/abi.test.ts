// The C header with the datapath's shared constants is generated from
// abi.ts; the checked-in copy must match what abi.ts renders now.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { COUNTERS, MAP, renderAbiHeader } from './abi.ts';

describe('bpf/lib/abi.h', () => {
  it('is up to date with targets/host/abi.ts (regenerate: make -C bpf abi)', () => {
    const checkedIn = readFileSync(fileURLToPath(new URL('../../bpf/lib/abi.h', import.meta.url)), 'utf8');
    expect(checkedIn).toBe(renderAbiHeader());
  });

  it('names every map weft_<concern>_v<N> and every counter once', () => {
    for (const name of Object.values(MAP)) expect(name).toMatch(/^weft_[a-z0-9]+_v\d+$/);
    expect(new Set(COUNTERS).size).toBe(COUNTERS.length);
  });
});
