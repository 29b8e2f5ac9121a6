// `weft explain`: the verdict for one flow, the rule that decides it, the
// identities of both ends and what every enforcement point on the path does.
// Exit 0 whatever the verdict: it is an explanation, not a check.

import { loadInventory } from '../../inventory/load.ts';
import { Explainer, formatExplanation } from '../explain/explain.ts';
import type { Flow } from '../flow.ts';
import { formatIp, parseIp, type IpAddr } from '../net/ip.ts';
import { loadPolicy } from '../policy/load.ts';
import { IPPROTO } from '../policy/model.ts';
import { flag, num, str, UsageError, type CliCommand, type ParsedArgs } from './command.ts';

const PROTOS = ['tcp', 'udp', 'icmp', 'icmpv6'] as const;
type ProtoArg = (typeof PROTOS)[number];

function address(args: ParsedArgs, name: string): IpAddr {
  const text = str(args, name)!;
  const a = parseIp(text);
  if (!a) throw new UsageError(`--${name} "${text}" is not an IPv4 or IPv6 address`);
  return a;
}

function bounded(args: ParsedArgs, name: string, max: number, fallback: number): number {
  const v = num(args, name);
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < 0 || v > max) throw new UsageError(`--${name} ${v} is not an integer within 0-${max}`);
  return v;
}

/** The flow described by explain's options; bad combinations are usage errors (exit 2). */
export function flowFromArgs(args: ParsedArgs): Flow {
  const src = address(args, 'src');
  const dst = address(args, 'dst');
  if (src.family !== dst.family) {
    throw new UsageError(`--src ${formatIp(src.family, src.value)} and --dst ${formatIp(dst.family, dst.value)} are of different address families`);
  }
  const protoText = str(args, 'proto')!;
  if (!(PROTOS as readonly string[]).includes(protoText)) throw new UsageError(`--proto "${protoText}" is not one of ${PROTOS.join('|')}`);
  const proto = protoText as ProtoArg;
  switch (proto) {
    case 'tcp':
    case 'udp': {
      if (num(args, 'dport') === undefined) throw new UsageError(`--proto ${proto} needs --dport`);
      if (num(args, 'type') !== undefined || num(args, 'code') !== undefined) throw new UsageError(`--type/--code apply to icmp and icmpv6, not ${proto}`);
      return { src, dst, proto: IPPROTO[proto], sport: bounded(args, 'sport', 65535, 49152), dport: bounded(args, 'dport', 65535, 0) };
    }
    case 'icmp':
    case 'icmpv6': {
      const family = proto === 'icmp' ? 4 : 6;
      if (src.family !== family) throw new UsageError(`--proto ${proto} needs IPv${family} addresses (use ${proto === 'icmp' ? 'icmpv6' : 'icmp'} for IPv${src.family})`);
      if (num(args, 'dport') !== undefined || num(args, 'sport') !== undefined) throw new UsageError(`--sport/--dport apply to tcp and udp, not ${proto}`);
      const echo = proto === 'icmp' ? 8 : 128;
      return { src, dst, proto: IPPROTO[proto], sport: 0, dport: 0, icmpType: bounded(args, 'type', 255, echo), icmpCode: bounded(args, 'code', 255, 0) };
    }
    default: {
      const never: never = proto;
      return never;
    }
  }
}

export const explainCommand: CliCommand = {
  name: 'explain',
  summary: 'explain the verdict for one flow and where it is enforced',
  usage: 'weft explain --policy P --inventory I --src IP --dst IP --proto tcp|udp|icmp|icmpv6 [--dport N] [--sport N] [--type N --code N] [--json]',
  options: [
    { name: 'policy', type: 'string', help: 'policy.yaml', required: true },
    { name: 'inventory', type: 'string', help: 'fabric.yaml or a containerlab .clab.yml', required: true },
    { name: 'src', type: 'string', help: 'source address', required: true },
    { name: 'dst', type: 'string', help: 'destination address', required: true },
    { name: 'proto', type: 'string', help: 'tcp|udp|icmp|icmpv6', required: true },
    { name: 'dport', type: 'number', help: 'destination port (tcp/udp)' },
    { name: 'sport', type: 'number', help: 'source port (tcp/udp) [default: 49152]' },
    { name: 'type', type: 'number', help: 'ICMP type [default: echo request]' },
    { name: 'code', type: 'number', help: 'ICMP code [default: 0]' },
  ],
  async run(args, io) {
    const flow = flowFromArgs(args);
    const policy = loadPolicy(str(args, 'policy')!);
    const fabric = loadInventory(str(args, 'inventory')!);
    // One flow: only the identities of its addresses are built and only the devices on its path placed.
    const x = new Explainer(policy, fabric).explain(flow);
    io.out(flag(args, 'json') ? JSON.stringify(x, null, 2) : formatExplanation(x));
    return 0;
  },
};
