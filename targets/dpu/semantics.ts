// The prefilter's meaning, read from its artefact: what offload.bpf.c does
// with a packet, given the share its maps hold. Verification and tests hold
// it against the reference evaluator without a kernel; the kernel tests hold
// the real program against it and the reference.

import type { Flow } from '../../orchestrator/flow.ts';
import type { IdEntry, PolicyEntry } from '../host/share.ts';
import { ANY_REMOTE } from '../../orchestrator/ir/share.ts';
import type { PrefilterShare } from './prefilter.ts';

export type NicAction = 'drop' | 'pass';

const ECHO_REPLY: Record<number, number> = { 1: 0, 58: 129 };
const ICMPS = new Set([1, 58]);

export class PrefilterSemantics {
  private readonly ids = new Map<string, IdEntry>();
  private readonly cells = new Map<string, PolicyEntry>();
  private readonly idLengths: number[];
  private readonly portLengths: number[];

  constructor(private readonly share: Pick<PrefilterShare, 'id4' | 'policy' | 'defaultAction' | 'rules'>) {
    for (const e of share.id4) this.ids.set(`${e.prefix.len}|${e.prefix.addr}`, e);
    for (const e of share.policy) this.cells.set(PrefilterSemantics.cellKey(e.dir, e.proto, e.local, e.remote, e.portLen, e.port), e);
    this.idLengths = [...new Set(share.id4.map((e) => e.prefix.len))].sort((a, b) => b - a);
    this.portLengths = [...new Set(share.policy.map((e) => e.portLen))].sort((a, b) => b - a);
  }

  private static cellKey(dir: string, proto: number, local: number, remote: number, len: number, port: number): string {
    return `${dir}|${proto}|${local}|${remote}|${len}|${port}`;
  }

  private identity(addr: bigint): IdEntry | undefined {
    for (const len of this.idLengths) {
      const masked = len === 0 ? 0n : (addr >> BigInt(32 - len)) << BigInt(32 - len);
      const e = this.ids.get(`${len}|${masked}`);
      if (e) return e;
    }
    return undefined;
  }

  private verdict(dir: 'egress' | 'ingress', proto: number, local: number, remote: number, port: number): { verdict: 'allow' | 'deny'; rule?: number } {
    for (const r of remote === ANY_REMOTE ? [remote] : [remote, ANY_REMOTE]) {
      for (const len of this.portLengths) {
        const masked = len === 0 ? 0 : (port >> (16 - len)) << (16 - len);
        const c = this.cells.get(PrefilterSemantics.cellKey(dir, proto, local, r, len, masked));
        // A cell names its rule by position in the share's list; callers get the policy index.
        if (c) return { verdict: c.verdict, rule: this.share.rules[c.rule].index };
      }
    }
    return { verdict: this.share.defaultAction };
  }

  /**
   * What the NIC does with a packet of `f`, and the rule whose drop it
   * counts; `ack`: a TCP packet with ACK set (one without ACK is a SYN, and a
   * SYN opens a connection rather than answering one).
   */
  decide(f: Flow, ack: boolean): { action: NicAction; rule?: number } {
    if (f.src.family !== 4) return { action: 'pass' };
    const src = this.identity(f.src.value);
    const dst = this.identity(f.dst.value);
    let dir: 'egress' | 'ingress';
    let local: number;
    let remote: number;
    if (src?.local) [dir, local, remote] = ['egress', src.id, dst?.id ?? 0];
    else if (dst?.local) [dir, local, remote] = ['ingress', dst.id, src?.id ?? 0];
    else return { action: 'pass' };
    if (ICMPS.has(f.proto) && f.icmpType === ECHO_REPLY[f.proto]) return { action: 'pass' };
    const proto = ICMPS.has(f.proto) || f.proto === 6 || f.proto === 17 ? f.proto : 0;
    const port = ICMPS.has(f.proto) ? ((f.icmpType ?? 0) << 8) | (f.icmpCode ?? 0) : proto === 0 ? 0 : f.dport;
    const fwd = this.verdict(dir, proto, local, remote, port);
    if (fwd.verdict === 'allow') return { action: 'pass' };
    const opens = proto === 6 && !ack;
    if (!opens && (proto === 6 || proto === 17) && this.verdict(dir === 'egress' ? 'ingress' : 'egress', proto, local, remote, f.sport).verdict === 'allow') return { action: 'pass' };
    return { action: 'drop', rule: fwd.rule };
  }
}
