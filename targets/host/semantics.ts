// An interpreter of the host artefact (maps.json and its record files, as a HostShare): the
// stateless verdict the datapath gives a packet, written from the C's
// precedence table without touching the kernel. Unit tests compare it with
// the reference; kernel tests compare the real programs.

import { FAMILY_BITS, type IpAddr } from '../../orchestrator/net/ip.ts';
import type { Flow, Verdict } from '../../orchestrator/flow.ts';
import { ANY_REMOTE } from '../../orchestrator/ir/share.ts';
import type { HostShare, IdEntry, PolicyEntry } from './share.ts';

const IR_PROTOS = new Set([1, 6, 17, 58]);

function covers(e: IdEntry, a: IpAddr): boolean {
  if (e.prefix.family !== a.family) return false;
  const shift = BigInt(FAMILY_BITS[a.family] - e.prefix.len);
  return a.value >> shift === e.prefix.addr >> shift;
}

/** Compiled tables of one share, for repeated lookups. */
export class HostSemantics {
  private readonly ids: Map<string, IdEntry>[] = [];
  private readonly lens: Record<4 | 6, number[]>;
  private readonly cells = new Map<string, PolicyEntry>();
  private readonly portLens: number[];

  constructor(private readonly share: HostShare) {
    const byLen = (es: IdEntry[]) => [...new Set(es.map((e) => e.prefix.len))].sort((a, b) => b - a);
    this.lens = { 4: byLen(share.id4), 6: byLen(share.id6) };
    for (const e of [...share.id4, ...share.id6]) {
      const m = (this.ids[e.prefix.len] ??= new Map());
      m.set(`${e.prefix.family}|${e.prefix.addr}`, e);
    }
    for (const p of share.policy) this.cells.set(`${p.dir}|${p.proto}|${p.local}|${p.remote}|${p.portLen}|${p.port}`, p);
    this.portLens = [...new Set(share.policy.map((p) => p.portLen))].sort((a, b) => b - a);
  }

  identity(a: IpAddr): { id: number; local: boolean } {
    const bits = FAMILY_BITS[a.family];
    for (const len of this.lens[a.family]) {
      const masked = (a.value >> BigInt(bits - len)) << BigInt(bits - len);
      const e = this.ids[len]?.get(`${a.family}|${masked}`);
      if (e && covers(e, a)) return { id: e.id, local: e.local };
    }
    return { id: 0, local: false };
  }

  /** undefined: the host does not judge this flow (neither end is local). `rule`: the deciding rule's policy index, -1 for the default. */
  verdict(f: Flow): { verdict: Verdict; rule: number } | undefined {
    const s = this.identity(f.src);
    const d = this.identity(f.dst);
    if (!s.local && !d.local) return undefined;
    const proto = IR_PROTOS.has(f.proto) ? f.proto : 0;
    const key = proto === 6 || proto === 17 ? f.dport : proto === 1 || proto === 58 ? ((f.icmpType ?? 0) << 8) | (f.icmpCode ?? 0) : 0;
    const [dir, local, remote] = s.local ? (['egress', s.id, d.id] as const) : (['ingress', d.id, s.id] as const);
    // The specific remote first, then the cells valid for any remote (bpf/lib/policy.h).
    for (const r of remote === ANY_REMOTE ? [remote] : [remote, ANY_REMOTE]) {
      for (const len of this.portLens) {
        const masked = len === 0 ? 0 : key & (0xffff << (16 - len)) & 0xffff;
        const c = this.cells.get(`${dir}|${proto}|${local}|${r}|${len}|${masked}`);
        // A cell names its rule by position in the share's list; the caller gets the policy index.
        if (c) return { verdict: c.verdict, rule: this.share.rules[c.rule].index };
      }
    }
    return { verdict: this.share.defaultAction, rule: -1 };
  }
}
