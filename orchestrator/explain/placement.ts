// The part of the placement `weft explain` reads: how each device on a
// flow's path enforces (its target, mode and interface roles), and whether
// the deciding deny rule is placed as a prefilter on one of its ports. Taken
// from a whole placement when the caller has one; otherwise computed for the
// path's devices alone, with the placement's own per-device view, so a cold
// explain on a fabric of 1,000 devices does not place 10,000 rules on all of
// them to read one rule on a handful.

import type { Fabric } from '../../inventory/model.ts';
import type { IpAddr } from '../net/ip.ts';
import type { DevicePlacement, Placement } from '../placement/model.ts';
import type { Policy } from '../policy/model.ts';
import { indexFabric, viewOf, type FabricIndex, type LocalView } from '../placement/place.ts';

/** A device's enforcement point as explain shows it. */
export type PathDevice = Pick<DevicePlacement, 'device' | 'target' | 'mode' | 'interfaces'>;

export interface ExplainPlacement {
  /** The device's enforcement point; undefined when it enforces nothing (a host without an agent, a switch without a pipeline). */
  device(name: string): PathDevice | undefined;
  /** Whether rule `rule` is placed as a prefilter on `device` at `attach` ("eth1 ingress"). */
  prefilterPlaced(rule: number, device: string, attach: string): boolean;
}

/** Explain's reading of a whole placement. */
export function wholePlacement(placement: Placement): ExplainPlacement {
  const devices = new Map(placement.devices.map((d) => [d.device, d]));
  return {
    device: (name) => devices.get(name),
    prefilterPlaced: (rule, device, attach) => placement.rules[rule]?.points.some((p) => p.device === device && p.mode === 'prefilter' && p.attach === attach) ?? false,
  };
}

/**
 * The placement of the devices explain asks about, each computed on first
 * use. A prefilter point is decided as place() decides it for a rule that
 * wins somewhere, which the rule deciding a flow does by definition: a deny
 * rule is placed on the ingress of a DPU's host port, or of a switch port
 * with hosts behind it, when an endpoint behind that port has an identity
 * on the rule's source side.
 */
export class PathPlacement implements ExplainPlacement {
  private readonly index: FabricIndex;
  private readonly views = new Map<string, LocalView | undefined>();
  /** Addresses of the endpoints looked up so far, by name. */
  private readonly addresses = new Map<string, IpAddr[]>();

  /** `sourceHolds`: whether a rule's source side holds an address (the compiled policy's answer). */
  constructor(
    private readonly fabric: Fabric,
    private readonly policy: Policy,
    private readonly sourceHolds: (rule: number, a: IpAddr) => boolean,
  ) {
    this.index = indexFabric(fabric);
  }

  /** Addresses of the named endpoints, found in one pass over the fabric's endpoints instead of indexing them all. */
  private addressesOf(names: string[]): IpAddr[][] {
    const missing = new Set(names.filter((n) => !this.addresses.has(n)));
    if (missing.size > 0) {
      for (const e of this.fabric.endpoints) if (missing.has(e.name)) this.addresses.set(e.name, e.addresses);
      for (const n of missing) if (!this.addresses.has(n)) this.addresses.set(n, []);
    }
    return names.map((n) => this.addresses.get(n)!);
  }

  private view(name: string): LocalView | undefined {
    if (!this.views.has(name)) {
      const d = this.index.byName.get(name);
      this.views.set(name, d && viewOf(this.index, d));
    }
    return this.views.get(name);
  }

  device(name: string): PathDevice | undefined {
    const v = this.view(name);
    return v && { device: v.device.name, target: v.target, mode: v.mode, interfaces: v.interfaces };
  }

  prefilterPlaced(rule: number, device: string, attach: string): boolean {
    const r = this.policy.rules[rule];
    const v = this.view(device);
    if (!r || r.action !== 'deny' || !v) return false;
    const [port, direction] = attach.split(' ');
    if (direction !== 'ingress') return false;
    const kind = v.device.kind;
    let candidates: LocalView['endpoints'];
    if ((kind === 'dpu' || kind === 'smartnic') && v.mode === 'prefilter') candidates = v.endpoints;
    else if (kind === 'switch') candidates = v.endpoints.filter((e) => e.role === 'behind-host');
    else return false;
    // An endpoint's identities are those of its addresses (Identity.endpoints).
    const behind = candidates.filter((e) => e.via === port).map((e) => e.name);
    return this.addressesOf(behind).some((addrs) => addrs.some((a) => this.sourceHolds(rule, a)));
  }
}
