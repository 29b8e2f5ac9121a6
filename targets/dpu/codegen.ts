// DPU codegen, by profile (profiles.ts):
//   nfp, generic  the stateless XDP prefilter (offload.bpf.o, built for the
//                 share's prefix lengths), its maps.json and record files,
//                 rules.json; XDP on every port of the DPU.
//   bluefield     the host datapath of targets/host on the DPU's own Linux
//                 (host-facing and uplink ports), plus flower.tc: the
//                 stateless drops its embedded switch could take in hardware.
// Every profile writes dpu.json, which tells the agent how to install it.

import { readFileSync } from 'node:fs';
import type { CodegenInput, CodegenOutput, EnforcementMode } from '../contract.ts';
import type { Device } from '../../inventory/model.ts';
import { InputError } from '../../orchestrator/diagnostics.ts';
import { hostShareCodegen } from '../host/codegen.ts';
import { computeShare } from '../host/share.ts';
import { buildPrefilter } from './build.ts';
import { FLOWER_FILE, flowerFile, flowerRules } from './flower.ts';
import { buildOf, DPU_RULES_FILE, prefilterArtefacts, prefilterShare, rulesAtNic, TABLE_MAPS } from './prefilter.ts';
import { DEVICE_FILE, DEVICE_FORMAT, OFFLOAD_OBJECT, type DpuDeviceJson } from './device.ts';
import { profileOf, type ProfileSpec } from './profiles.ts';
import { gateOffload } from './offload-gate.ts';

function modeCheck(device: Device, spec: ProfileSpec, mode: EnforcementMode): void {
  if (spec.modes.includes(mode)) return;
  throw new InputError([
    {
      code: 'dpu-mode',
      severity: 'error',
      message: `${device.name}: profile ${spec.name} can only ${spec.modes.join(' or ')}, but its host ${device.attachedTo ?? '(none)'} runs no agent, so the DPU would have to enforce the full policy (${mode})`,
      span: device.span,
      hint: 'run the agent on the host (drop agent: false), or choose profile bluefield, whose DPU runs the full datapath',
    },
  ]);
}

/**
 * A port takes a limited number of offloaded programs (profile
 * programsPerPort): two prefilter NICs in front of one host would both put
 * theirs on the host's port.
 */
function portCheck(input: CodegenInput, spec: ProfileSpec): void {
  const limit = spec.limits?.programsPerPort;
  if (limit === undefined || input.device.attachedTo === undefined) return;
  const same = input.fabric.devices.filter(
    (d) => (d.kind === 'dpu' || d.kind === 'smartnic') && d.attachedTo === input.device.attachedTo && profileOf(d.profile ?? 'generic').attach !== 'dpu-linux',
  );
  if (same.length <= limit) return;
  throw new InputError([
    {
      code: 'dpu-port-programs',
      severity: 'error',
      message: `${same.map((d) => d.name).join(' and ')} each offload a prefilter in front of ${input.device.attachedTo}: ${spec.name} takes ${limit} offloaded program${limit === 1 ? '' : 's'} per port`,
      span: same[limit].span,
      hint: `valid: one prefilter NIC per host (attachedTo), or profile bluefield, whose DPU runs its own datapath`,
    },
  ]);
}

function descriptor(input: CodegenInput, spec: ProfileSpec): string {
  const d: DpuDeviceJson = {
    format: DEVICE_FORMAT,
    device: input.device.name,
    profile: spec.name,
    attach: spec.attach,
    mode: input.devicePlacement.mode,
    interfaces: input.devicePlacement.interfaces.map((i) => ({ name: i.name, role: i.role })),
  };
  return `${JSON.stringify(d, null, 2)}\n`;
}

async function prefilterCodegen(input: CodegenInput, spec: ProfileSpec): Promise<CodegenOutput> {
  const share = prefilterShare(input.ir, input.fabric, input.device);
  const art = prefilterArtefacts(share);
  const object = new Uint8Array(readFileSync(await buildPrefilter(buildOf(share))));
  const checked = gateOffload(input.device, spec, object);
  const notes = [
    `${spec.name} prefilter (${spec.attach}): drops IPv4 flows the policy denies whose reverse is denied too (never a reply of an allowed connection); passes IPv6, fragments and everything else to the host`,
  ];
  if (checked) notes.push(`the offload checker passed ${OFFLOAD_OBJECT} against the ${spec.name} limits (${checked.path})`);
  if (share.scope === 'deny-set') {
    notes.push(
      `the NIC's ${share.capacity.toLocaleString('en')} entries hold the deny set only: ${share.allowEntriesLeftToHost.toLocaleString('en')} allow entries and the default action (${input.policy.defaultAction}) stay on the host, so denies by the default are not dropped at the NIC`,
    );
  }
  if (share.localAddresses.length === 0) notes.push(`no IPv4 endpoints behind it; the prefilter passes everything`);
  return {
    files: [
      { path: OFFLOAD_OBJECT, content: object },
      ...(checked ? [checked] : []),
      { path: 'maps.json', content: `${JSON.stringify(art.maps, null, 2)}\n` },
      ...TABLE_MAPS.map((m) => ({ path: art.maps.maps[m].records.file, content: new Uint8Array(art.records[m]) })),
      { path: DPU_RULES_FILE, content: art.rules },
      { path: DEVICE_FILE, content: descriptor(input, spec) },
    ],
    notes,
    stats: {
      nicCapacity: share.capacity,
      nicEntries: art.maps.capacity.used,
      id4Entries: share.id4.length,
      policyEntries: share.policy.length,
      denyRulesAtNic: rulesAtNic(share).size,
      allowEntriesLeftToHost: share.allowEntriesLeftToHost,
    },
  };
}

async function bluefieldCodegen(input: CodegenInput, spec: ProfileSpec): Promise<CodegenOutput> {
  // The flower walk reads the same share (cells with the host's identity rewrite) as the DPU's own maps.
  const share = computeShare(input.ir, input.fabric, input.device);
  const host = await hostShareCodegen(input, share);
  const hostPort = input.devicePlacement.interfaces.find((i) => i.role === 'host')?.name;
  const capacity = spec.eswitchRules ?? 0;
  const plan = flowerRules({ id4: share.id4, policy: share.policy, defaultAction: share.defaultAction }, capacity);
  const name = input.device.name;
  const notes = [
    ...host.notes,
    `bluefield runs the full stateful datapath (${input.devicePlacement.mode}) on its ports`,
    `${FLOWER_FILE} holds ${plan.rules.length} stateless flower rules for IPv4 leaving the host${plan.complete ? '' : `, cut at the embedded switch's capacity of ${capacity} (the DPU datapath judges what they do not cover)`}; tc flower does not load in Weft's test kernel, so Weft checks this file with its own interpreter against the reference`,
  ];
  const files = [...host.files, { path: DEVICE_FILE, content: descriptor(input, spec) }];
  if (hostPort) files.push({ path: FLOWER_FILE, content: flowerFile(hostPort, plan, name) });
  else notes.push(`no link to its host in the fabric, so there is no port for ${FLOWER_FILE}`);
  return { files, notes, stats: { ...host.stats, flowerRules: plan.rules.length, flowerComplete: plan.complete ? 1 : 0 } };
}

export async function dpuCodegen(input: CodegenInput): Promise<CodegenOutput> {
  const spec = profileOf(input.device.profile ?? 'generic');
  modeCheck(input.device, spec, input.devicePlacement.mode);
  portCheck(input, spec);
  switch (spec.attach) {
    case 'xdp-offload':
    case 'xdp-native':
      return prefilterCodegen(input, spec);
    case 'dpu-linux':
      return bluefieldCodegen(input, spec);
    default: {
      const never: never = spec.attach;
      return never;
    }
  }
}
