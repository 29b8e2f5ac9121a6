// The stateful reference: a connection opened by an allowed flow carries its
// replies; a reply of a connection that was never allowed is judged as a new
// flow like any other packet. Targets with connection tracking are checked
// packet by packet against this.

import type { Flow, Verdict } from '../flow.ts';
import type { ReferenceEvaluator } from './evaluator.ts';

const ECHO_REQUEST: Record<number, number> = { 1: 8, 58: 128 };
const ECHO_REPLY: Record<number, number> = { 1: 0, 58: 129 };

export class ReferenceConntrack {
  /** Keys of allowed connections, in the direction they were opened. */
  private readonly open = new Set<string>();

  constructor(private readonly evaluator: ReferenceEvaluator) {}

  private static tupleKey(f: Flow): string {
    return `${f.src.family}|${f.src.value}|${f.dst.value}|${f.proto}|${f.sport}|${f.dport}`;
  }

  private static echoKey(family: number, src: bigint, dst: bigint, proto: number, id: number): string {
    return `echo|${family}|${src}|${dst}|${proto}|${id}`;
  }

  /** True when p answers a connection already allowed in the other direction. */
  private isReply(p: Flow): boolean {
    if (p.proto === 6 || p.proto === 17) {
      const opened: Flow = { src: p.dst, dst: p.src, proto: p.proto, sport: p.dport, dport: p.sport };
      return this.open.has(ReferenceConntrack.tupleKey(opened));
    }
    if ((p.proto === 1 || p.proto === 58) && p.icmpType === ECHO_REPLY[p.proto] && p.icmpId !== undefined) {
      return this.open.has(ReferenceConntrack.echoKey(p.src.family, p.dst.value, p.src.value, p.proto, p.icmpId));
    }
    return false;
  }

  private track(p: Flow): void {
    if (p.proto === 6 || p.proto === 17) {
      this.open.add(ReferenceConntrack.tupleKey(p));
    } else if ((p.proto === 1 || p.proto === 58) && p.icmpType === ECHO_REQUEST[p.proto] && p.icmpId !== undefined) {
      this.open.add(ReferenceConntrack.echoKey(p.src.family, p.src.value, p.dst.value, p.proto, p.icmpId));
    }
  }

  packet(p: Flow): Verdict {
    if (this.isReply(p)) return 'allow';
    const v = this.evaluator.verdict(p).verdict;
    if (v === 'allow') this.track(p);
    return v;
  }

  /** Number of tracked connections (for tests and reports). */
  get size(): number {
    return this.open.size;
  }
}
