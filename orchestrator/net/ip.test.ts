// parseIpv4 against the rule it implements, written the plain way (split,
// match each part, range-check): on every edge case and thousands of
// generated near-addresses, both must accept the same texts and agree on
// the value.

import { describe, expect, it } from 'vitest';
import { makeRng } from '../testing/generate.ts';
import { parseIpv4 } from './ip.ts';

function byRule(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((v, p) => (v << 8n) | BigInt(Number(p)), 0n);
}

describe('parseIpv4', () => {
  it('accepts exactly the dotted quads of parts 0-255 without leading zeros', () => {
    const edges = ['0.0.0.0', '255.255.255.255', '10.0.1.11', '256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1..2.3', '.1.2.3', '1.2.3.', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.-4', '1.2.3.1000', '', '1.2.3.0x1', '::1', '100.200.250.255'];
    const rng = makeRng(11);
    const alphabet = ['0', '1', '2', '5', '9', '.', '.', '.', 'a', ' ', '-'];
    const generated = Array.from({ length: 20_000 }, () => {
      if (rng.int(0, 1) === 0) return Array.from({ length: 4 }, () => String(rng.int(0, 300))).join('.');
      return Array.from({ length: rng.int(0, 15) }, () => rng.pick(alphabet)).join('');
    });
    let accepted = 0;
    for (const t of [...edges, ...generated]) {
      const want = byRule(t);
      expect(parseIpv4(t), JSON.stringify(t)).toBe(want);
      if (want !== undefined) accepted++;
    }
    expect(accepted).toBeGreaterThan(1_000);
    console.log(`parseIpv4: ${edges.length + generated.length} texts agree with the rule, ${accepted} of them addresses`);
  });
});
