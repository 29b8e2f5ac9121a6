// The directional model both policy importers produce and the composer
// turns into a Weft policy: Kubernetes NetworkPolicy and Cilium policies
// speak of a subject (the pods a policy selects), a direction (ingress,
// egress), peers and ports; Weft speaks of ordered rules over flows. This
// model is the meeting point, already approximated on the safe side by the
// importer (see compose.ts for why that is enough for an exact translation).

import type { SourceSpan } from '../diagnostics.ts';
import type { Cidr } from '../net/ip.ts';

/**
 * How pods appear as Weft endpoints. A fabric that holds pods must label
 * each pod endpoint with its own labels plus these, as Cilium does:
 * - POD_NAMESPACE_LABEL: the pod's namespace;
 * - NAMESPACE_LABEL_PREFIX + key: each label of the pod's namespace;
 * - CLUSTER_LABEL: the cluster name (default "default"), on every pod, so
 *   that "every pod" is a selector too.
 */
export const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const NAMESPACE_LABEL_PREFIX = 'io.cilium.k8s.namespace.labels.';
export const CLUSTER_LABEL = 'io.cilium.k8s.policy.cluster';
/** The label Kubernetes puts on every namespace: its name. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
export const DEFAULT_CLUSTER = 'default';

/** Endpoints whose labels include every pair; every selector includes CLUSTER_LABEL. */
export type Selector = Record<string, string>;

/** Where a rule came from, for the YAML comments and warnings. */
export interface Origin {
  span: SourceSpan;
  /** "NetworkPolicy prod/web-allow" */
  object: string;
  /** "ingress[0]", "podSelector" */
  part: string;
}

/**
 * One side of a rule, as a union:
 * - pods: the pods matching any of the selectors (an empty list: none);
 * - cidr: addresses inside a prefix and outside its holes that are NOT pods
 *   (Kubernetes asks ipBlock to name cluster-external addresses, and Cilium
 *   never applies CIDR rules between its own endpoints);
 * - any: every address, pods included.
 */
export type Peer =
  | { kind: 'pods'; selectors: Selector[] }
  | { kind: 'cidr'; cidrs: Cidr[]; except: Cidr[] }
  | { kind: 'any' };

/** A destination port range; `any` is every protocol. */
export type PortRange = { protocol: 'tcp' | 'udp'; lo: number; hi: number } | { protocol: 'any' };

export type Direction = 'ingress' | 'egress';

/**
 * Ingress: traffic from `peers` to `subject`; egress: from `subject` to
 * `peers`. `ports` empty means every protocol and port. An allow carries
 * the largest expressible subset of what the source allows, a deny the
 * smallest expressible superset of what it denies.
 */
export interface DirRule {
  direction: Direction;
  action: 'allow' | 'deny';
  subject: Selector[];
  peers: Peer[];
  ports: PortRange[];
  origin: Origin;
}

/**
 * Pods that only explicitly allowed traffic may reach (ingress) or leave
 * (egress). An over-approximation when a selector cannot be expressed.
 */
export interface Isolation {
  direction: Direction;
  subject: Selector[];
  origin: Origin;
}

export interface ImportedPolicy {
  name: string;
  /** Source kind, for the file header ("Kubernetes NetworkPolicy"). */
  source: string;
  files: string[];
  clusterSelector: Selector;
  rules: DirRule[];
  isolations: Isolation[];
}
