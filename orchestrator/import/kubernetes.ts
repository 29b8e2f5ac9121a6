// Kubernetes NetworkPolicy (networking.k8s.io/v1) into the directional
// model. Each policy isolates the pods its podSelector picks in the
// directions of its policyTypes (default: Ingress, plus Egress when it has
// egress rules); each ingress/egress entry is an allow. Peers: podSelector
// (pods of the policy's namespace), namespaceSelector (pods of matching
// namespaces), both (AND), or ipBlock with except (external addresses). An
// entry without from/to allows every peer, without ports every port.
// What Weft cannot express (SCTP, named ports, NotIn/Exists selectors) is a
// warning at its position, and the allow that needed it is narrowed.

import type { MapNode } from '../yaml/node.ts';
import { listChoices, type YamlSource, type YNode } from '../yaml/source.ts';
import type { KindTable, ManifestObject } from './manifest.ts';
import {
  CLUSTER_LABEL,
  NAMESPACE_LABEL_PREFIX,
  NAMESPACE_NAME_LABEL,
  POD_NAMESPACE_LABEL,
  type DirRule,
  type Direction,
  type ImportedPolicy,
  type Isolation,
  type Origin,
  type Peer,
  type PortRange,
  type Selector,
} from './model.ts';
import { portRange, readCidr, readExcept, readPortNumber } from './read.ts';
import { intersectUnions, readLabelSelector, type SelectorBounds } from './selector.ts';

export const NETWORK_POLICY_KINDS: KindTable = { NetworkPolicy: ['networking.k8s.io/v1'] };

const POLICY_TYPES = ['Ingress', 'Egress'] as const;
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

/** Namespace labels as pod endpoint labels (model.ts). */
export function namespaceLabelKey(key: string): string {
  return key === NAMESPACE_NAME_LABEL ? POD_NAMESPACE_LABEL : `${NAMESPACE_LABEL_PREFIX}${key}`;
}

export function importNetworkPolicies(objects: ManifestObject[], cluster: string, files: string[]): ImportedPolicy {
  const out: ImportedPolicy = { name: 'kubernetes-networkpolicies', source: 'Kubernetes NetworkPolicy', files, clusterSelector: { [CLUSTER_LABEL]: cluster }, rules: [], isolations: [] };
  for (const o of objects) readNetworkPolicy(o, cluster, out);
  return out;
}

function readNetworkPolicy(o: ManifestObject, cluster: string, out: ImportedPolicy): void {
  const { src } = o;
  const namespace = o.namespace ?? 'default';
  const object = `NetworkPolicy ${namespace}/${o.name}`;
  if (o.namespace === undefined) {
    src.bag.warning('namespace-defaulted', `${object}: metadata.namespace is missing; the policy is read as in namespace "default"`, o.span, 'valid: metadata.namespace: <namespace>, as kubectl would otherwise apply it to the current namespace');
  }
  const spec = o.spec;
  if (!spec) {
    src.require(o.map, 'spec', object, 'valid: spec: {podSelector, policyTypes, ingress, egress}');
    return;
  }
  src.checkKeys(spec, ['podSelector', 'policyTypes', 'ingress', 'egress'], `${object}: spec`);
  const inNamespace: Selector = { [CLUSTER_LABEL]: cluster, [POD_NAMESPACE_LABEL]: namespace };
  const psNode = src.require(spec, 'podSelector', `${object}: spec`, 'valid: podSelector: {} (every pod of the namespace) or {matchLabels: {...}}');
  if (psNode === undefined) return;
  const subject = readLabelSelector(src, psNode, `${object}: podSelector`, {
    base: inNamespace,
    mapKey: (k) => k,
    effect: 'the policy\'s allows are dropped, and it isolates every pod the rest of its selector matches',
  });
  const types = readPolicyTypes(src, spec, object);
  if (!types) return;
  const origin = (node: YNode, part: string): Origin => ({ span: src.span(node), object, part });
  for (const direction of ['ingress', 'egress'] as const) {
    const key = direction;
    const rulesNode = src.get(spec, key);
    if (!types.has(direction)) {
      if (rulesNode !== undefined) {
        src.bag.warning('ignored-rules', `${object}: spec.${key} is ignored because policyTypes does not list ${direction === 'ingress' ? 'Ingress' : 'Egress'}`, src.span(src.keyNode(spec, key)), 'valid: as in Kubernetes; add it to policyTypes to apply these rules');
      }
      continue;
    }
    const iso: Isolation = { direction, subject: subject.upper, origin: origin(psNode, 'podSelector') };
    out.isolations.push(iso);
    if (rulesNode === undefined) continue;
    const seq = src.seq(rulesNode, `${object}: spec.${key}`, `valid: ${key}: [{${direction === 'ingress' ? 'from' : 'to'}: [...], ports: [...]}]`);
    for (const [idx, item] of (seq ? src.items(seq) : []).entries()) {
      const r = readRule(src, item, direction, `${object}: ${key}[${idx}]`, inNamespace, cluster);
      if (!r || item === null || subject.lower.length === 0) continue;
      if (r.peers.length === 0 || r.ports === undefined) continue;
      const rule: DirRule = { direction, action: 'allow', subject: subject.lower, peers: r.peers, ports: r.ports, origin: origin(item, `${key}[${idx}]`) };
      out.rules.push(rule);
    }
  }
}

function readPolicyTypes(src: YamlSource, spec: MapNode, object: string): Set<Direction> | undefined {
  const node = src.get(spec, 'policyTypes');
  const types = new Set<Direction>();
  if (node === undefined) {
    types.add('ingress');
    if (src.get(spec, 'egress') !== undefined) types.add('egress');
    return types;
  }
  const seq = src.seq(node, `${object}: policyTypes`, 'valid: policyTypes: [Ingress, Egress]');
  if (!seq) return undefined;
  for (const item of src.items(seq)) {
    const t = src.string(item, `${object}: policyTypes entry`, `valid: ${listChoices(POLICY_TYPES)}`);
    if (t === undefined) return undefined;
    if (t === 'Ingress') types.add('ingress');
    else if (t === 'Egress') types.add('egress');
    else {
      src.bag.error('bad-policy-type', `${object}: policy type "${t}"`, src.span(item), `valid: ${listChoices(POLICY_TYPES)}`);
      return undefined;
    }
  }
  return types;
}

/**
 * One ingress/egress entry. peers: [] when every listed peer was dropped;
 * ports: undefined when every listed port was dropped (both mean the entry
 * allows nothing).
 */
function readRule(src: YamlSource, node: YNode | null, direction: Direction, what: string, inNamespace: Selector, cluster: string): { peers: Peer[]; ports: PortRange[] | undefined } | undefined {
  const peerKey = direction === 'ingress' ? 'from' : 'to';
  const m = src.map(node, what, `valid: {${peerKey}: [...], ports: [...]}`);
  if (!m) return undefined;
  src.checkKeys(m, [peerKey, 'ports'], what);
  let peers: Peer[] = [{ kind: 'any' }];
  const peersNode = src.get(m, peerKey);
  if (peersNode !== undefined) {
    const seq = src.seq(peersNode, `${what}.${peerKey}`, `valid: ${peerKey}: [{podSelector: {...}}, {ipBlock: {cidr: 10.0.0.0/8}}]`);
    if (!seq) return undefined;
    const items = src.items(seq);
    if (items.length > 0) {
      peers = [];
      items.forEach((p, i) => {
        const peer = readPeer(src, p, `${what}.${peerKey}[${i}]`, inNamespace, cluster);
        if (peer) peers.push(peer);
      });
      if (peers.length === 0) src.bag.warning('rule-dropped', `${what}: none of its peers can be imported, so the rule is dropped (it allows nothing)`, src.span(peersNode), 'see the warnings about its peers');
    }
  }
  return { peers, ports: readPorts(src, m, what) };
}

function readPeer(src: YamlSource, node: YNode | null, what: string, inNamespace: Selector, cluster: string): Peer | undefined {
  const m = src.map(node, what, 'valid: {podSelector: {...}}, {namespaceSelector: {...}}, both, or {ipBlock: {cidr, except}}');
  if (!m) return undefined;
  src.checkKeys(m, ['podSelector', 'namespaceSelector', 'ipBlock'], what);
  const ps = src.get(m, 'podSelector');
  const ns = src.get(m, 'namespaceSelector');
  const ip = src.get(m, 'ipBlock');
  const effect = 'this peer is left out of the allow';
  if (ip !== undefined) {
    if (ps !== undefined || ns !== undefined) {
      src.bag.error('ipblock-with-selector', `${what}: ipBlock together with a selector`, src.span(ip), 'valid: ipBlock alone in its peer entry, as the Kubernetes API demands');
      return undefined;
    }
    const b = src.map(ip, `${what}.ipBlock`, 'valid: ipBlock: {cidr: 10.0.0.0/8, except: [10.0.5.0/24]}');
    if (!b) return undefined;
    src.checkKeys(b, ['cidr', 'except'], `${what}.ipBlock`);
    const cNode = src.require(b, 'cidr', `${what}.ipBlock`, 'valid: cidr: 10.0.0.0/8');
    const cidr = cNode === undefined ? undefined : readCidr(src, cNode, `${what}.ipBlock.cidr`);
    const except = readExcept(src, src.get(b, 'except'), cidr, `${what}.ipBlock`);
    return cidr && except ? { kind: 'cidr', cidrs: [cidr], except } : undefined;
  }
  if (ps === undefined && ns === undefined) {
    src.bag.error('empty-peer', `${what}: a peer with neither podSelector, namespaceSelector nor ipBlock`, src.span(m), 'valid: one of podSelector, namespaceSelector (or both), or ipBlock');
    return undefined;
  }
  let sel: SelectorBounds;
  if (ns === undefined) {
    sel = readLabelSelector(src, ps, `${what}.podSelector`, { base: inNamespace, mapKey: (k) => k, effect });
  } else {
    const nsSel = readLabelSelector(src, ns, `${what}.namespaceSelector`, { base: { [CLUSTER_LABEL]: cluster }, mapKey: namespaceLabelKey, effect });
    const podSel = readLabelSelector(src, ps, `${what}.podSelector`, { base: { [CLUSTER_LABEL]: cluster }, mapKey: (k) => k, effect });
    sel = { lower: intersectUnions(nsSel.lower, podSel.lower), upper: intersectUnions(nsSel.upper, podSel.upper) };
  }
  return sel.lower.length ? { kind: 'pods', selectors: sel.lower } : undefined;
}

function readPorts(src: YamlSource, rule: MapNode, what: string): PortRange[] | undefined {
  const node = src.get(rule, 'ports');
  if (node === undefined) return [];
  const seq = src.seq(node, `${what}.ports`, 'valid: ports: [{protocol: TCP, port: 443}]');
  if (!seq) return undefined;
  const items = src.items(seq);
  if (items.length === 0) return [];
  const out: PortRange[] = [];
  items.forEach((item, i) => {
    const p = readPort(src, item, `${what}.ports[${i}]`);
    if (p) out.push(p);
  });
  if (out.length === 0) {
    src.bag.warning('rule-dropped', `${what}: none of its ports can be imported, so the rule is dropped (it allows nothing)`, src.span(node), 'valid in Weft: TCP or UDP with numeric ports');
    return undefined;
  }
  return out;
}

function readPort(src: YamlSource, node: YNode | null, what: string): PortRange | undefined {
  const m = src.map(node, what, 'valid: {protocol: TCP, port: 443, endPort: 450}');
  if (!m) return undefined;
  src.checkKeys(m, ['protocol', 'port', 'endPort'], what);
  const protoNode = src.get(m, 'protocol');
  let protocol = 'TCP' as (typeof PROTOCOLS)[number];
  if (protoNode !== undefined) {
    const p = src.string(protoNode, `${what}.protocol`, `valid: ${listChoices(PROTOCOLS)}`);
    if (p === undefined) return undefined;
    if (!(PROTOCOLS as readonly string[]).includes(p)) {
      src.bag.error('bad-protocol', `${what}: protocol "${p}"`, src.span(protoNode), `valid: ${listChoices(PROTOCOLS)}`);
      return undefined;
    }
    protocol = p as typeof protocol;
  }
  if (protocol === 'SCTP') {
    src.bag.warning('unsupported-protocol', `${what}: SCTP has no Weft form; this port entry is dropped from the allow`, src.span(protoNode), 'valid in Weft: TCP or UDP');
    return undefined;
  }
  const proto = protocol === 'TCP' ? 'tcp' : 'udp';
  const portNode = src.get(m, 'port');
  const endNode = src.get(m, 'endPort');
  let port: number | undefined;
  if (portNode !== undefined) {
    const r = readPortNumber(src, portNode, `${what}.port`);
    if (!r.ok) {
      if (r.named !== undefined) {
        src.bag.warning('named-port', `${what}: named port "${r.named}" needs the pod spec, which the import does not read; this port entry is dropped from the allow`, src.span(portNode), 'valid in Weft: a numeric port (look up the containerPort the name stands for)');
      }
      return undefined;
    }
    port = r.port;
  }
  return portRange(src, proto, port, endNode, what);
}
