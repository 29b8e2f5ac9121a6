// The packet stream a DPU is verified on: generated flows as the DPU sees
// them, each with the stateful reference's verdict. Shared by the kernel
// verification (verify.ts), the kernel-free tests and the benchmark.

import type { CodegenInput, VerifyOptions } from '../contract.ts';
import type { Flow } from '../../orchestrator/flow.ts';
import type { IpAddr } from '../../orchestrator/net/ip.ts';
import { ReferenceEvaluator } from '../../orchestrator/reference/evaluator.ts';
import { ReferenceConntrack } from '../../orchestrator/reference/stateful.ts';
import { generateFlows, generatePacketSequences, makeRng, type Rng } from '../../orchestrator/testing/generate.ts';
import { buildPacket } from '../host/packet.ts';

const TCP_ACK = 0x10;

/** The frame of a packet, as a TCP stack sends it: SYN when it opens, ACK when it answers (buildPacket sends SYN). */
export function framePacket(f: Flow, ack: boolean): Buffer {
  const pkt = buildPacket(f);
  if (f.proto === 6 && ack) pkt[14 + (f.src.family === 4 ? 20 : 40) + 13] = TCP_ACK;
  return pkt;
}

const tupleKey = (f: Flow, reverse: boolean): string =>
  reverse ? `${f.dst.family}|${f.dst.value}|${f.src.value}|${f.proto}|${f.dport}|${f.sport}` : `${f.src.family}|${f.src.value}|${f.dst.value}|${f.proto}|${f.sport}|${f.dport}`;

function moved(f: Flow, src: IpAddr, dst: IpAddr): Flow {
  return { src, dst, proto: f.proto, sport: f.sport, dport: f.dport, icmpType: f.icmpType, icmpCode: f.icmpCode, icmpId: f.icmpId };
}

/**
 * Generated packets as the DPU sees them, each with the stateful reference's
 * verdict (the stateless one where no end is local) and its TCP ACK flag:
 * random flows, the same moved onto a local address on either side, and
 * request/reply sequences with one end local. `judge` sees every packet, in
 * stream order; returns how many were sent.
 */
export function streamPackets(input: Pick<CodegenInput, 'policy' | 'fabric'>, locals: IpAddr[], opts: VerifyOptions, judge: (f: Flow, want: 'allow' | 'deny', local: boolean, ack: boolean) => void): number {
  const evaluator = new ReferenceEvaluator(input.policy, input.fabric);
  let conntrack = new ReferenceConntrack(evaluator);
  const localSet = new Set(locals.map((a) => `${a.family}|${a.value}`));
  const isLocal = (a: IpAddr) => localSet.has(`${a.family}|${a.value}`);
  const rng = makeRng(opts.seed);
  const byFamily = { 4: locals.filter((a) => a.family === 4), 6: locals.filter((a) => a.family === 6) };
  const pickLocal = (r: Rng, fam: 4 | 6): IpAddr | undefined => (byFamily[fam].length ? r.pick(byFamily[fam]) : undefined);
  // TCP tuples sent so far: a packet whose reverse was sent answers it and carries ACK.
  let seen = new Set<string>();
  let sent = 0;
  let sinceReset = 0;
  const send = (f: Flow) => {
    // The reference forgets nothing; bounded tables keep memory flat on long runs (both forget together).
    if (++sinceReset > 65_536) {
      conntrack = new ReferenceConntrack(evaluator);
      seen = new Set();
      sinceReset = 0;
    }
    sent++;
    const local = isLocal(f.src) || isLocal(f.dst);
    const ack = f.proto === 6 && seen.has(tupleKey(f, true));
    if (f.proto === 6) seen.add(tupleKey(f, false));
    judge(f, local ? conntrack.packet(f) : evaluator.verdict(f).verdict, local, ack);
  };
  const target = opts.packets;
  const seqShare = Math.floor(target / 4);
  while (sent < target - seqShare) {
    for (const f of generateFlows(rng, input.policy, input.fabric, 2048)) {
      send(f);
      const l = pickLocal(rng, f.src.family);
      if (l) {
        send(moved(f, l, f.dst));
        send(moved(f, f.src, pickLocal(rng, f.src.family) ?? l));
      }
      if (sent >= target - seqShare) break;
    }
  }
  while (sent < target) {
    for (const seq of generatePacketSequences(rng, input.policy, input.fabric, 512)) {
      const l = pickLocal(rng, seq[0].src.family);
      let mapped = seq;
      if (l && !seq.some((p) => isLocal(p.src) || isLocal(p.dst))) {
        const from = rng.chance(0.5) ? seq[0].src : seq[0].dst;
        const swap = (a: IpAddr) => (a.family === from.family && a.value === from.value ? l : a);
        mapped = seq.map((p) => moved(p, swap(p.src), swap(p.dst)));
      }
      for (const p of mapped) send(p);
      if (sent >= target) break;
    }
  }
  return sent;
}

