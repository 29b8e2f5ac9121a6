// gRPC channel settings of Weft's switch clients (P4Runtime, gNMI). A
// rollout opens one short-lived channel per switch, a thousand in one run,
// so the settings that suit a long-lived channel to one server cost here.

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
