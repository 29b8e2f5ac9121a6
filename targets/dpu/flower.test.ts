// flower.tc against the stateful reference, through its own interpreter: the
// rules written for a bluefield DPU's embedded switch, parsed back from the
// file text, never drop a packet the reference allows (replies included),
// catch denied packets leaving the host, and stay safe when cut short at a
// small declared capacity.

import { describe, expect, it } from 'vitest';
import { buildIr } from '../../orchestrator/ir/build.ts';
import { computeShare } from '../host/share.ts';
import { flowerFile, flowerRules, FlowerTable, parseFlower } from './flower.ts';
import { PROFILES } from './profiles.ts';
import { streamPackets } from './packets.ts';
import { dpuScenario } from './testing.ts';

const PACKETS = 30_000;
const CAPACITY = PROFILES.bluefield.eswitchRules!;

function check(seed: number, capacity: number) {
  const s = dpuScenario(seed, 'bluefield');
  const share = computeShare(buildIr(s.policy, s.fabric), s.fabric, s.dpu, { slotLimit: Number.MAX_SAFE_INTEGER });
  const plan = flowerRules(share, capacity);
  const rules = parseFlower(flowerFile('eth0', plan, s.dpu.name));
  expect(rules.length).toBe(plan.rules.length);
  const table = new FlowerTable(rules);
  const local = new Set(share.localAddresses.map((a) => `${a.family}|${a.value}`));
  const r = { packets: 0, fromHost: 0, allowedDropped: 0, denied: 0, dropped: 0 };
  r.packets = streamPackets(s, share.localAddresses, { packets: PACKETS, seed }, (f, want) => {
    if (!local.has(`${f.src.family}|${f.src.value}`)) return;
    r.fromHost++;
    const got = table.decide(f);
    if (got === 'drop' && want === 'allow') r.allowedDropped++;
    if (want === 'deny') {
      r.denied++;
      if (got === 'drop') r.dropped++;
    }
  });
  return { ...r, rules: plan.rules.length, complete: plan.complete };
}

describe('bluefield flower rules (interpreter against the reference)', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: never drops an allowed packet leaving the host, drops denied ones`, () => {
      const r = check(seed, CAPACITY);
      console.log(`flower seed ${seed}: ${r.rules} rules${r.complete ? '' : ' (cut at capacity)'}, ${r.packets} packets (${r.fromHost} from the host), ${r.denied} denied, ${r.dropped} dropped by flower, ${r.allowedDropped} allowed dropped`);
      expect(r.rules).toBeLessThanOrEqual(CAPACITY);
      expect(r.fromHost).toBeGreaterThan(PACKETS / 10);
      expect(r.allowedDropped).toBe(0);
      expect(r.dropped).toBeGreaterThan(0);
    });
  }

  it('a list cut at a small capacity drops less, never an allowed packet', () => {
    const whole = check(2, CAPACITY);
    const cut = check(2, Math.max(2, Math.floor(whole.rules / 3)));
    expect(cut.complete).toBe(false);
    expect(cut.rules).toBeLessThan(whole.rules);
    expect(cut.allowedDropped).toBe(0);
    expect(cut.dropped).toBeLessThanOrEqual(whole.dropped);
  });

  it('writes tc batch lines and reads them back', () => {
    const text = flowerFile(
      'eth0',
      { rules: [{ pref: 1, src: { addr: 0x0a000001n, len: 32 }, dst: { addr: 0x0a000100n, len: 24 }, proto: 6, dstPort: [22, 22], action: 'drop' }], complete: true, capacity: 8 },
      'dpu1',
    );
    expect(text).toContain('filter add dev eth0 ingress protocol ip pref 1 flower skip_sw src_ip 10.0.0.1/32 dst_ip 10.0.1.0/24 ip_proto tcp dst_port 22 action drop');
    expect(() => parseFlower('filter add dev eth0 ingress pref 1 flower skip_sw action mirred\n', 'x.tc')).toThrow(/x\.tc:1: action "mirred" is neither drop nor pass/);
  });
});
