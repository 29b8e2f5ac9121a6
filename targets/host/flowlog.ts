// Flow logs (`weft agent logs`): the events the datapath puts in its ring
// buffer for verdicts of rules with `log: true` (bpf/lib/flowlog.h),
// decoded and named with the rule as rules.json of the slot gave it
// (section, name, file:line:col).
//
// A ring buffer has one read position: two readers at once share the
// events between them, so run one `weft agent logs --follow` per scope.

import { join } from 'node:path';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { DIR, FLOWLOG_EVENT, FLOWLOG_HOOK, MAP, VERDICT } from './abi.ts';
import { paths, preflight, readState, slotDir, type AgentOptions } from './agent.ts';
import { libbpf, RingReader } from './libbpf.ts';
import { readHostRules, readRuleSources, type HostRule, type RuleSource } from './share.ts';
import { formatIp, type Family } from '../../orchestrator/net/ip.ts';

/** One event as the datapath wrote it. */
export interface RawFlowEvent {
  tsNs: bigint;
  rule: number;
  generation: number;
  family: Family;
  src: string;
  dst: string;
  proto: number;
  sport: number;
  dport: number;
  verdict: 'allow' | 'deny';
  direction: 'egress' | 'ingress';
  hook: 'tc' | 'xdp';
  slot: number;
  bytes: number;
}

function readAddr(b: Buffer, at: number, family: Family): string {
  const v = family === 4 ? BigInt(b.readUInt32BE(at)) : (b.readBigUInt64BE(at) << 64n) | b.readBigUInt64BE(at + 8);
  return formatIp(family, v);
}

/** The inverse of struct weft_flowlog_event (layout: FLOWLOG_EVENT in abi.ts). */
export function decodeFlowEvent(b: Buffer): RawFlowEvent {
  if (b.length < FLOWLOG_EVENT) throw new Error(`flow log record of ${b.length} bytes, expected ${FLOWLOG_EVENT}`);
  const family: Family = b[52] === 6 ? 6 : 4;
  return {
    tsNs: b.readBigUInt64LE(0),
    rule: b.readUInt32LE(8),
    generation: b.readUInt32LE(12),
    family,
    src: readAddr(b, 16, family),
    dst: readAddr(b, 32, family),
    sport: b.readUInt16LE(48),
    dport: b.readUInt16LE(50),
    proto: b[53],
    verdict: b[54] === VERDICT.allow ? 'allow' : 'deny',
    direction: b[55] === DIR.egress ? 'egress' : 'ingress',
    hook: b[56] === FLOWLOG_HOOK.xdp ? 'xdp' : 'tc',
    slot: b[57] & 1,
    bytes: b.readUInt32LE(60),
  };
}

/** A flow log event named for people: the device, the rule and its source position, the wall time. */
export interface FlowLogEvent {
  time: string;
  device: string;
  generation: number;
  rule: { index: number; name: string; section: string; source: string };
  verdict: 'allow' | 'deny';
  direction: 'egress' | 'ingress';
  hook: 'tc' | 'xdp';
  protocol: string;
  src: string;
  dst: string;
  sport: number;
  /** TCP/UDP destination port; ICMP: type << 8 | code. */
  dport: number;
  bytes: number;
}

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6' };

/** Reads the events of one scope's datapath; a live handle (close it). */
export class FlowLogReader {
  private readonly ring: RingReader;
  private readonly mapFd: number;
  private readonly rules: (HostRule[] | undefined)[] = [undefined, undefined];
  private readonly sources: RuleSource[][] = [[], []];
  private readonly device: string;
  private readonly runDir: string;
  private pending: FlowLogEvent[] = [];

  constructor(o: AgentOptions) {
    preflight({ ...o, netns: undefined });
    const { pinDir, runDir, scope } = paths(o);
    const state = readState(runDir);
    if (!state) throw new Error(`nothing applied in scope ${scope}: no flow logs to read`);
    this.device = state.device;
    this.runDir = runDir;
    this.mapFd = libbpf.objGet(join(pinDir, MAP.flowlog));
    if (this.mapFd < 0) throw new Error(`the flow log ring ${join(pinDir, MAP.flowlog)} is missing; apply again with this agent`);
    try {
      this.ring = new RingReader(this.mapFd, (rec) => this.pending.push(this.name(decodeFlowEvent(rec))));
    } catch (e) {
      libbpf.closeFd(this.mapFd);
      throw e;
    }
  }

  /**
   * The rule at `position` in a slot's rule list as recorded when the slot
   * was written (an event names its rule by that position, as the hit
   * counters do); reread when the event names a rule the cached list lacks.
   */
  private ruleAt(slot: number, position: number): HostRule | undefined {
    let rules = this.rules[slot];
    if (!rules || !rules[position]) {
      try {
        rules = readHostRules(slotDir(this.runDir, slot));
        this.sources[slot] = readRuleSources(slotDir(this.runDir, slot));
      } catch {
        rules = [];
      }
      this.rules[slot] = rules;
    }
    return rules[position];
  }

  private name(e: RawFlowEvent): FlowLogEvent {
    const r = this.ruleAt(e.slot, e.rule);
    const span = r && this.sources[e.slot]?.find((x) => x.index === r.index)?.span;
    const wallMs = Date.now() - Number(process.hrtime.bigint() - e.tsNs) / 1e6;
    return {
      time: new Date(wallMs).toISOString(),
      device: this.device,
      generation: e.generation,
      rule: r
        ? { index: r.index, name: r.name, section: r.section, source: span ? `${span.file}:${span.line}:${span.col}` : '(not recorded)' }
        : { index: -1, name: `rule #${e.rule} of slot ${e.slot}`, section: '', source: '(unknown: the slot was rewritten since)' },
      verdict: e.verdict,
      direction: e.direction,
      hook: e.hook,
      protocol: PROTO_NAMES[e.proto] ?? String(e.proto),
      src: e.src,
      dst: e.dst,
      sport: e.sport,
      dport: e.dport,
      bytes: e.bytes,
    };
  }

  private take(): FlowLogEvent[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }

  /** Every event waiting in the ring now. */
  drain(): FlowLogEvent[] {
    this.ring.consume();
    return this.take();
  }

  /** Hands events to onEvent as they come until signal aborts. */
  async follow(onEvent: (e: FlowLogEvent) => void, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      // Short polls: between them the event loop runs (signals, the abort).
      this.ring.poll(100);
      for (const e of this.take()) onEvent(e);
      await yieldToEvents();
    }
  }

  close(): void {
    this.ring.close();
    libbpf.closeFd(this.mapFd);
  }
}

/** One line per event for people. */
export function formatFlowEvent(e: FlowLogEvent): string {
  const port = (addr: string, p: number) => (addr.includes(':') ? `[${addr}]:${p}` : `${addr}:${p}`);
  const icmp = e.protocol === 'icmp' || e.protocol === 'icmpv6';
  const flow = icmp ? `${e.src} -> ${e.dst} type ${e.dport >> 8} code ${e.dport & 0xff}` : `${port(e.src, e.sport)} -> ${port(e.dst, e.dport)}`;
  const rule = `${e.rule.section ? `${e.rule.section}/` : ''}${e.rule.name}`;
  return `${e.time} ${e.device} ${e.verdict.padEnd(5)} ${e.protocol.padEnd(6)} ${flow}  rule ${rule} (${e.rule.source}) ${e.direction} ${e.hook}`;
}
