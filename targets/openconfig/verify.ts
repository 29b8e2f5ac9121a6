// `weft verify --target openconfig`: the compiled acl.json, read back through
// the same reader the agent uses, interpreted on generated flows and compared
// with the reference evaluator.
//   exact ports:     a source from outside the switch's unmanaged endpoints
//                    is dropped (anti-spoofing), and each flow is also tried
//                    from one of their addresses; the verdict then equals the
//                    reference's, except
//                    (a) a reply entry passing a packet whose reversed flow the
//                    reference allows (the stateless approximation), and
//                    (b) ICMP messages the model cannot name, dropped where the
//                    reference allows them (fail closed); both are counted.
//                    Replies of allowed flows towards local endpoints must pass.
//   prefilter ports: never drops a flow the reference allows.
//   every port:      IPv6 neighbour discovery passes (control traffic).
// Request/reply sequences then run against the stateful reference (the
// switch-common sequence check): a reply it allows must pass at exact and
// prefilter ports; reply entries passing a reply-shaped packet it denies are
// counted as stateless approximations, not mismatches.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Flow } from '../../orchestrator/flow.ts';
import type { IpAddr } from '../../orchestrator/net/ip.ts';
import { ReferenceEvaluator } from '../../orchestrator/reference/evaluator.ts';
import { generateFlows, generatePacketSequences, makeRng } from '../../orchestrator/testing/generate.ts';
import { logger } from '../../orchestrator/log.ts';
import {
  AddressResolver,
  checkSwitchSequences,
  describeFlow,
  endpointSources,
  formatApproximations,
  isControlTraffic,
  packetOfFlow,
  type SequenceCheckResult,
  type SwitchPacket,
} from '../switch-common/index.ts';
import type { CodegenInput, EnforcementMode, VerifyOptions, VerifyReport } from '../contract.ts';
import { portMode } from './codegen.ts';
import { icmpInModel, parseAclDocument, type AclConfig } from './model.ts';
import { AclInterpreter, permits, TCP_ACK, TCP_SYN, type AclDecision } from './semantics.ts';

export interface OpenconfigVerifyReport extends VerifyReport {
  /** Flows passed by a reply entry whose reversed flow the reference allows. */
  replyApproximated: number;
  /** ICMP messages outside the model dropped although the reference allows them. */
  failClosed: number;
  /** Replies of allowed flows checked to pass. */
  repliesChecked: number;
  /** IPv6 neighbour discovery messages checked to pass. */
  controlChecked: number;
  /** Request/reply sequences run against the stateful reference (their mismatches count in `mismatches`). */
  sequences: number;
  sequencePackets: number;
  /** Replies the stateful reference allows, checked to pass. */
  sequenceReplies: number;
  /** Counted differences on the sequences (stateless passes, fail-closed ICMP), by reason. */
  approximated: Record<string, number>;
}

const log = logger('openconfig');

/** The packet a reply to `f` would be (echo requests get their echo reply). */
export function replyOf(f: Flow): Flow {
  const r: Flow = { src: f.dst, dst: f.src, proto: f.proto, sport: f.dport, dport: f.sport };
  if (f.proto === 1 || f.proto === 58) {
    r.icmpType = f.icmpType === 8 ? 0 : f.icmpType === 128 ? 129 : f.icmpType;
    r.icmpCode = f.icmpCode;
    r.icmpId = f.icmpId;
  }
  return r;
}

/** The flow a reply-shaped packet would answer. */
function requestOf(p: Flow): Flow {
  const r: Flow = { src: p.dst, dst: p.src, proto: p.proto, sport: p.dport, dport: p.sport };
  if (p.proto === 1 || p.proto === 58) {
    r.icmpType = p.icmpType === 0 ? 8 : p.icmpType === 129 ? 128 : p.icmpType;
    r.icmpCode = p.icmpCode;
  }
  return r;
}

function isEchoRequest(f: Flow): boolean {
  return f.icmpCode === 0 && ((f.proto === 1 && f.src.family === 4 && f.icmpType === 8) || (f.proto === 58 && f.src.family === 6 && f.icmpType === 128));
}

function isReplyEntry(d: AclDecision): boolean {
  return d.kind === 'entry' && (d.description ?? '').startsWith('reply of');
}

/** acl.json: the openconfig-acl tree and, when its entries reference sets, the openconfig-defined-sets tree. */
export function readAclConfig(text: string): AclConfig {
  return parseAclDocument(JSON.parse(text));
}

/** Checks an acl configuration against the reference on the given flows. */
export function checkAcl(config: AclConfig, input: CodegenInput, flows: Flow[]): OpenconfigVerifyReport {
  const { policy, fabric, ir, device, devicePlacement } = input;
  const acl = new AclInterpreter(config);
  const reference = new ReferenceEvaluator(policy, fabric);
  const book = new AddressResolver(ir);
  const local = new Set(devicePlacement.localIdentities);
  const report: OpenconfigVerifyReport = {
    device: device.name,
    target: 'openconfig',
    mode: devicePlacement.mode,
    flows: 0,
    mismatches: 0,
    examples: [],
    replyApproximated: 0,
    failClosed: 0,
    repliesChecked: 0,
    controlChecked: 0,
    sequences: 0,
    sequencePackets: 0,
    sequenceReplies: 0,
    approximated: {},
  };
  const mismatch = (text: string): void => {
    report.mismatches++;
    if (report.examples.length < 5) report.examples.push(text);
  };
  const bound = new Set(acl.boundInterfaces());
  // Ports of one mode share their acl-sets: one representative per mode.
  const byMode = new Map<EnforcementMode, string>();
  for (const i of devicePlacement.interfaces) {
    const mode = portMode(i.role);
    if (!mode) continue;
    if (!bound.has(i.name)) mismatch(`interface ${i.name} (${i.role}) has no acl-set bound`);
    if (!byMode.has(mode)) byMode.set(mode, i.name);
  }
  // Exact ports see the unmanaged endpoints' own addresses as sources: each
  // flow is also tried from one of them, and as given must not pass if spoofed.
  const localSources: Record<4 | 6, IpAddr[]> = { 4: [], 6: [] };
  for (const e of fabric.endpoints) {
    if (e.host !== undefined || e.attach?.device !== device.name) continue;
    for (const a of e.addresses) localSources[a.family].push(a);
  }
  const verdicts = flows.map((f) => reference.verdict(f));
  for (const [mode, iface] of byMode) {
    for (let k = 0; k < flows.length; k++) {
      let f = flows[k];
      let verdict = verdicts[k];
      if (isControl(f)) {
        report.flows++;
        report.controlChecked++;
        if (!permits(acl.decide(iface, f, 0))) mismatch(`${iface} ${mode}: neighbour discovery ${describeFlow(f)} is dropped`);
        continue;
      }
      if (mode === 'prefilter') {
        report.flows++;
        if (verdict.verdict === 'allow' && !permits(acl.decide(iface, f, f.proto === 6 ? TCP_SYN : 0))) {
          mismatch(`${iface} prefilter drops ${describeFlow(f)} which rule ${verdict.rule} allows`);
        }
        continue;
      }
      const pool = localSources[f.src.family];
      // Replies enter the exact port from the local endpoint: the answer to
      // an allowed flow towards it (tried with one of its addresses) must pass.
      const toLocal = local.has(book.identityOfAddress(f.dst)) || pool.length === 0 ? f : { ...f, dst: pool[k % pool.length] };
      const toVerdict = toLocal === f ? verdict : reference.verdict(toLocal);
      const replyable = f.proto === 6 || f.proto === 17 || isEchoRequest(f);
      if (toVerdict.verdict === 'allow' && toVerdict.rule >= 0 && replyable && local.has(book.identityOfAddress(toLocal.dst))) {
        const r = replyOf(toLocal);
        report.repliesChecked++;
        report.flows++;
        if (!permits(acl.decide(iface, r, f.proto === 6 ? TCP_ACK : 0))) mismatch(`${iface} exact: reply ${describeFlow(r)} of an allowed flow is dropped`);
      }
      if (!local.has(book.identityOfAddress(f.src))) {
        report.flows++;
        if (permits(acl.decide(iface, f, f.proto === 6 ? TCP_SYN : 0))) mismatch(`${iface} exact: spoofed source passes: ${describeFlow(f)}`);
        if (pool.length === 0) continue;
        f = { ...f, src: pool[k % pool.length] };
        verdict = reference.verdict(f);
      }
      const want = verdict.verdict === 'allow';
      const d = acl.decide(iface, f, f.proto === 6 ? TCP_SYN : 0);
      const got = permits(d);
      report.flows++;
      if (got === want) continue;
      if (got && isReplyEntry(d) && reference.verdict(requestOf(f)).verdict === 'allow') report.replyApproximated++;
      else if (!got && (f.proto === 1 || f.proto === 58) && !icmpInModel(f.src.family, f.proto, f.icmpType ?? 0, f.icmpCode ?? 0)) report.failClosed++;
      else mismatch(`${iface} exact: ${describeFlow(f)}: acl ${got ? 'allows' : 'denies'}, reference ${want ? 'allows' : 'denies'} (rule ${verdict.rule})`);
    }
  }
  return report;
}

function isControl(f: Flow): boolean {
  return isControlTraffic(packetOfFlow(f));
}

function flowOfPacket(p: SwitchPacket): Flow {
  if (!p.src || !p.dst) throw new Error('an IP packet without addresses');
  const f: Flow = { src: p.src, dst: p.dst, proto: p.proto, sport: p.sport, dport: p.dport };
  if (p.proto === 1 || p.proto === 58) {
    f.icmpType = p.icmpType;
    f.icmpCode = p.icmpCode;
  }
  return f;
}

/**
 * Request/reply sequences through the acl configuration: packets from an
 * unmanaged endpoint enter its exact port, all others a prefilter port (or,
 * without one, no acl at all).
 */
export function checkAclSequences(config: AclConfig, input: CodegenInput, sequences: Flow[][]): SequenceCheckResult {
  const { fabric, device, devicePlacement } = input;
  const acl = new AclInterpreter(config);
  const exactPorts = devicePlacement.interfaces.filter((i) => portMode(i.role) === 'exact').map((i) => i.name);
  const decide = (p: SwitchPacket): AclDecision => acl.decide(p.inPort ?? '', flowOfPacket(p), p.tcpFlags);
  return checkSwitchSequences({
    sequences,
    reference: new ReferenceEvaluator(input.policy, fabric),
    exactSources: new Map(exactPorts.map((port) => [port, endpointSources(fabric, device.name, port)])),
    prefilterPort: devicePlacement.interfaces.find((i) => portMode(i.role) === 'prefilter')?.name,
    evaluate: (p) => (permits(decide(p)) ? 'permit' : 'deny'),
    replyEntry: (p) => isReplyEntry(decide(p)),
    excuseDrop: (f) =>
      (f.proto === 1 || f.proto === 58) && !icmpInModel(f.src.family, f.proto, f.icmpType ?? 0, f.icmpCode ?? 0) ? 'icmp outside the openconfig model dropped (fail closed)' : undefined,
  });
}

export async function verifyOpenconfig(deviceDir: string, input: CodegenInput, opts: VerifyOptions): Promise<OpenconfigVerifyReport> {
  const config = readAclConfig(await readFile(join(deviceDir, 'acl.json'), 'utf8'));
  const flows = generateFlows(makeRng(opts.seed), input.policy, input.fabric, opts.packets);
  const report = checkAcl(config, input, flows);
  const seq = checkAclSequences(config, input, generatePacketSequences(makeRng(opts.seed + 1), input.policy, input.fabric, Math.max(1, Math.ceil(opts.packets / 4))));
  report.sequences = seq.sequences;
  report.sequencePackets = seq.packets;
  report.sequenceReplies = seq.replies;
  report.approximated = seq.approximated;
  report.mismatches += seq.mismatches;
  report.examples = [...report.examples, ...seq.examples].slice(0, 5);
  log.info(
    `openconfig verify ${input.device.name}: ${report.flows} flow checks, ${seq.sequences} sequences (${seq.packets} packets, ${seq.replies} allowed replies), ` +
      `${report.mismatches} mismatches; approximations: ${report.replyApproximated} flows passed by reply entries, ${report.failClosed} fail-closed, ${formatApproximations(seq.approximated)}`,
  );
  return report;
}
