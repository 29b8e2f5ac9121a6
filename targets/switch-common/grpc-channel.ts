// gRPC channel settings of Weft's switch clients (P4Runtime, gNMI). A
// rollout opens one short-lived channel per switch, a thousand in one run,
// so the settings that suit a long-lived channel to one server cost here.

import { isIPv4, isIPv6 } from 'node:net';
import type { ChannelOptions } from '@grpc/grpc-js';

export const SWITCH_CHANNEL_OPTIONS: ChannelOptions = {
  // A channel of its own closes its connection when the client closes. In
  // grpc-js's process-wide pool the connection would stay open until a sweep
  // every 10 s, a sweep that walks every switch the process ever reached.
  'grpc.use_local_subchannel_pool': 1,
  // channelz keeps per-channel and per-call records for a debugger that a
  // command-line run never attaches.
  'grpc.enable_channelz': 0,
};

/**
 * The channel target of a switch's "host:port" (IPv6 in brackets). An
 * address given as an IP literal names grpc-js's ipv4/ipv6 resolver: its
 * default DNS resolver sets up a c-ares resolver for every channel, even
 * for a literal, which cost a thousand-switch rollout about a second of CPU.
 */
export function channelTarget(address: string): string {
  const colon = address.lastIndexOf(':');
  const host = colon < 0 ? address : address.slice(0, colon);
  if (isIPv4(host)) return `ipv4:${address}`;
  if (host.startsWith('[') && host.endsWith(']') && isIPv6(host.slice(1, -1))) return `ipv6:${address}`;
  return address;
}
