// Shared by the switch targets (targets/p4, targets/openconfig):
//   - AddressResolver / lpmIntervals: rule peers -> exact prefix sets per
//     family, derived from the IR's LPM table;
//   - deriveSwitchRules: the ordered rule list for a priority-ordered ACL
//     (control permits, reply permits, forward rules in policy order, the
//     default), with shadowed (decidingRules) and verdict-neutral rules
//     dropped; servicesOf and mergeRanges normalise a rule's ports, and
//     servicesOverlap / setsOverlap tell whether two rules can meet;
//   - exactReplyRules: exact-port reply permits narrowed to first-match-
//     allowed cells (the reply approximation is documented once, in rules.ts);
//   - packetOfFlow / checkSwitchFlows / endpointSources: flows as the packets
//     a switch sees (ingress port, SYN for a new TCP flow, sources of the
//     endpoints behind a port) and the exact/prefilter check against the
//     reference evaluator that both targets' verify run;
//   - describeFlow: one line naming a flow in mismatch examples;
//   - checkSwitchSequences: request/reply sequences against the stateful
//     reference (replies it allows must pass, at every port);
//   - SWITCH_CHANNEL_OPTIONS: gRPC channel settings of the switch clients.
// This file only re-exports.

export { AddressResolver, addressResolver, ANY_ADDRESS, lpmIntervals, prefixesOf, type AddressInterval, type AddressSet } from './addresses.ts';
export {
  CONTROL_RULES,
  decidingRules,
  deriveSwitchRules,
  exactReplyRules,
  FULL_PORTS,
  mergeRanges,
  ND_TYPES,
  servicesOf,
  servicesOverlap,
  setsOverlap,
  TCP_FLAG_ACK,
  TCP_FLAG_SYN,
  type DeriveOptions,
  type PortRange,
  type Service,
  type SwitchRule,
  type SwitchRuleList,
} from './rules.ts';
export {
  checkSwitchFlows,
  checkSwitchSequences,
  describeFlow,
  endpointSources,
  formatApproximations,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  isControlTraffic,
  packetOfFlow,
  type SequenceCheckInput,
  type SequenceCheckResult,
  type SwitchCheckInput,
  type SwitchCheckResult,
  type SwitchPacket,
  type SwitchVerdict,
} from './flows.ts';
export { entryOrigin, sumByOrigin } from './counters.ts';
export { SWITCH_CHANNEL_OPTIONS } from './grpc-channel.ts';
