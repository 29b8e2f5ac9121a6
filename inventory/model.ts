// The fabric after loading (from fabric.yaml or a containerlab topology):
// devices, links between their ports, and the endpoints (workloads) with
// their addresses and labels.

import type { IpAddr } from '../orchestrator/net/ip.ts';
import type { Diagnostic, SourceSpan } from '../orchestrator/diagnostics.ts';

export type DeviceKind = 'host' | 'dpu' | 'smartnic' | 'switch';
export type Pipeline = 'p4' | 'openconfig';
export type DpuProfile = 'nfp' | 'bluefield' | 'generic';

export interface Mgmt {
  address?: string;
  ssh?: { user: string; port: number; hostKey?: string };
  p4runtime?: { port: number; deviceId: number; deviceConfig?: string };
  gnmi?: { port: number };
  snmp?: { port: number };
}

export interface Device {
  name: string;
  kind: DeviceKind;
  pipeline?: Pipeline; // switches only
  profile?: DpuProfile; // dpu/smartnic only
  attachedTo?: string; // dpu/smartnic: the host it sits in front of
  /** Hosts: false when no Weft agent runs there (its DPU then enforces exactly). */
  agent?: boolean;
  mgmt: Mgmt;
  /**
   * Table sizes the device really has: aclEntries for the ACL (a P4 switch's
   * weft_acl, an OpenConfig switch's acl-set); lpmEntries for each of a P4
   * switch's address classifier tables.
   */
  capacity?: { aclEntries?: number; lpmEntries?: number };
  /** Optional features of a device's configuration model (OpenConfig switches: openconfig-defined-sets). */
  capabilities?: { definedSets?: boolean };
  labels: Record<string, string>;
  span: SourceSpan;
}

export interface PortRef {
  device: string;
  port: string;
}

export interface Link {
  a: PortRef;
  b: PortRef;
  span: SourceSpan;
}

export interface Endpoint {
  name: string;
  host?: string; // managed: the host (or its DPU) enforces for it
  attach?: PortRef; // unmanaged: the switch port it plugs into
  addresses: IpAddr[];
  labels: Record<string, string>;
  span: SourceSpan;
}

/**
 * A plain L2 bridge of a containerlab topology (kind bridge / ovs-bridge): it
 * joins ports but enforces nothing, so it is not a Device. Links with a
 * bridge at either end live in its `links`, never in Fabric.links (a link
 * between two bridges is listed under the first of them).
 */
export interface Bridge {
  name: string;
  labels: Record<string, string>;
  links: Link[];
  span: SourceSpan;
}

export interface Fabric {
  file: string;
  name: string;
  devices: Device[];
  links: Link[];
  endpoints: Endpoint[];
  /** Only from containerlab topologies; absent or empty elsewhere. */
  bridges?: Bridge[];
  digest: string;
  /** Warnings about the file itself (unknown keys); absent when there are none. */
  warnings?: Diagnostic[];
}
