// Host codegen: the datapath object, maps.json (sizes, failsafe, and the
// record file of each large table), the record files with every entry of
// this host's share (records.ts), rules.json, and interfaces.json telling
// the agent where to attach. Pure except for running clang (cached).
//
// Where the programs attach, and why each packet is judged once:
//   - TC ingress and egress on every interface the fabric links give the host
//     (uplinks, and endpoint-facing ports when endpoints sit behind them). The
//     program derives the direction from the addresses (source local: egress;
//     else destination local: ingress), so it does not matter on which hook a
//     packet is first seen. It marks the packets it judged (skb mark bit), so a
//     packet forwarded from one watched port to another is not judged again;
//     veth crossings into endpoint namespaces clear the mark.
//   - XDP on uplinks only: the early, stateless drop.

import { readFileSync } from 'node:fs';
import type { CodegenInput, CodegenOutput } from '../contract.ts';
import { AGENT_VERSION } from './agent-version.ts';
import { buildObject } from './build.ts';
import { INTERFACES_FORMAT, type InterfacesJson } from './interfaces.ts';
import { computeShare, RECORD_MAPS, RULE_SOURCES_FILE, RULES_FILE, shareArtefacts, type HostShare } from './share.ts';

export function hostCodegen(input: CodegenInput): Promise<CodegenOutput> {
  return hostShareCodegen(input, computeShare(input.ir, input.fabric, input.device));
}

/** The artefacts of a share already computed for the device (a DPU running the host datapath reads the share again for its flower rules). */
export async function hostShareCodegen(input: CodegenInput, share: HostShare): Promise<CodegenOutput> {
  const object = readFileSync(await buildObject());
  const artefacts = shareArtefacts(share);
  const ifaces: InterfacesJson = {
    format: INTERFACES_FORMAT,
    device: input.device.name,
    agentVersion: AGENT_VERSION,
    interfaces: input.devicePlacement.interfaces.map((i) => ({ name: i.name, role: i.role, tc: true, xdp: i.role === 'uplink' })),
  };
  const notes: string[] = [];
  if (ifaces.interfaces.length === 0) notes.push(`${input.device.name}: no links in the fabric, so the agent has no interface to attach to`);
  if (share.localAddresses.length === 0) notes.push(`${input.device.name}: no local endpoints; the datapath passes everything`);
  return {
    files: [
      { path: 'policy.bpf.o', content: new Uint8Array(object) },
      { path: 'maps.json', content: `${JSON.stringify(artefacts.maps)}\n` },
      { path: RULES_FILE, content: artefacts.rules },
      { path: RULE_SOURCES_FILE, content: artefacts.ruleSources },
      ...RECORD_MAPS.map((map) => ({ path: artefacts.maps.maps[map].records.file, content: new Uint8Array(artefacts.records[map]) })),
      { path: 'interfaces.json', content: `${JSON.stringify(ifaces, null, 2)}\n` },
    ],
    notes,
    stats: {
      localEndpoints: share.localAddresses.length,
      localIdentities: share.localIdentities.length,
      id4Entries: share.id4.length,
      id6Entries: share.id6.length,
      policyEntries: share.policy.length,
      policyMaxEntries: share.maxEntries.policy,
      ctEntries: share.maxEntries.ct,
      // The rules this host counts hits for (its per-CPU counters hold both slots of them, with headroom).
      countedRules: share.rules.length,
      statsMaxEntries: share.maxEntries.stats,
    },
  };
}
