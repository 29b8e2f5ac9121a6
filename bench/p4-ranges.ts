// Port range encodings for the P4 ACL: ternary entries per range, average
// and worst case, over 20,000 random ranges and 20,000 ranges shaped like
// service ranges (start anywhere, 2-4,000 ports long):
//   binary: the minimal prefix cover (at most 2w-2 = 30);
//   gray: the prefix blocks mapped to binary-reflected Gray code and merged
//     (blocks mirrored across a power-of-two boundary differ in one bit), as
//     SRGE does; measured here only, the pipeline does not use it;
//   fence: what the pipeline matches (DIRPE with four 4-bit digits, 60 key
//     bits instead of 16; at most 7).
// Run alone: node bin/run-ts.js bench/p4-ranges.ts

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeRng } from '../orchestrator/testing/generate.ts';
import { fenceRangeTernaries, mergeTernaries, rangeTernaries, type Ternary } from '../targets/p4/ternary.ts';

const COUNT = 20_000;

function grayCover(lo: number, hi: number): number {
  const gray = (t: Ternary): Ternary => {
    const v = Number(t.value);
    return { value: BigInt(v ^ (v >>> 1)) & t.mask, mask: t.mask };
  };
  return mergeTernaries(rangeTernaries(lo, hi, 16).map(gray), 16).length;
}

function measure(ranges: [number, number][]): Record<string, number> {
  const enc = {
    binary: (lo: number, hi: number) => rangeTernaries(lo, hi, 16).length,
    gray: grayCover,
    fence: (lo: number, hi: number) => fenceRangeTernaries([{ lo, hi }]).length,
  };
  const out: Record<string, number> = {};
  for (const [name, f] of Object.entries(enc)) {
    let sum = 0;
    let max = 0;
    for (const [lo, hi] of ranges) {
      const n = f(lo, hi);
      sum += n;
      max = Math.max(max, n);
    }
    out[`${name}.avg`] = Number((sum / ranges.length).toFixed(2));
    out[`${name}.max`] = max;
  }
  return out;
}

export async function run(): Promise<Record<string, unknown>> {
  const rng = makeRng(42);
  const random: [number, number][] = [];
  const service: [number, number][] = [];
  for (let i = 0; i < COUNT; i++) {
    const a = rng.int(0, 65535);
    const b = rng.int(0, 65535);
    random.push(a <= b ? [a, b] : [b, a]);
    const lo = rng.int(1, 60000);
    service.push([lo, Math.min(65535, lo + rng.int(1, 4000))]);
  }
  const out: Record<string, unknown> = { ranges: COUNT };
  for (const [k, v] of Object.entries(measure(random))) out[`random.${k}`] = v;
  for (const [k, v] of Object.entries(measure(service))) out[`service.${k}`] = v;
  out['worst.binary'] = rangeTernaries(1, 65534, 16).length;
  out['worst.fence'] = fenceRangeTernaries([{ lo: 1, hi: 65534 }]).length;
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  console.log(JSON.stringify(await run(), null, 1));
}
