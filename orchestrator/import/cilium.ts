// CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy (cilium.io/v2),
// L3/L4 subset, into the directional model. A policy holds one rule
// (`spec`) or several (`specs`). A rule selects pods (endpointSelector) and
// lists ingress/egress allows and ingressDeny/egressDeny denies; a pod is
// isolated in a direction when a rule selecting it has allows or denies in
// that direction (enableDefaultDeny can turn that off). Deny wins over
// allow. In a namespaced policy, selectors without a namespace label mean
// the policy's namespace.
//
// An entry's peers are the union of its endpoint, CIDR and entity lists;
// an entry with only toPorts allows every peer, an empty entry none. What
// has no Weft form (L7 rules, toFQDNs, toServices, entities without an
// inventory meaning, SCTP, named ports, ICMP) is a warning at its position:
// an allow loses what needed it (narrowed), a deny grows to cover it
// (widened), so the import never allows more than Cilium would.

import { isMap, isScalar, isSeq, type MapNode } from '../yaml/node.ts';
import { clip, listChoices, type YamlSource, type YNode } from '../yaml/source.ts';
import type { KindTable, ManifestObject } from './manifest.ts';
import { CLUSTER_LABEL, POD_NAMESPACE_LABEL, type Direction, type ImportedPolicy, type Origin, type Peer, type PortRange, type Selector } from './model.ts';
import { portRange, readCidr, readExcept, readPortNumber } from './read.ts';
import { readLabelSelector, type SelectorBounds } from './selector.ts';

export const CILIUM_KINDS: KindTable = {
  CiliumNetworkPolicy: ['cilium.io/v2'],
  CiliumClusterwideNetworkPolicy: ['cilium.io/v2'],
};

const RULE_KEYS = ['endpointSelector', 'nodeSelector', 'ingress', 'egress', 'ingressDeny', 'egressDeny', 'enableDefaultDeny', 'description', 'labels'];
const PROTOCOLS = ['TCP', 'UDP', 'SCTP', 'ANY'] as const;
/** Entities with a meaning here: all (every address), world (outside the cluster), cluster (every pod). */
const ENTITIES = ['all', 'world', 'world-ipv4', 'world-ipv6', 'cluster'] as const;
const CILIUM_ENTITIES = [...ENTITIES, 'host', 'remote-node', 'kube-apiserver', 'ingress', 'health', 'init', 'unmanaged', 'none'];

/** Keys of an entry by what they do; `peer` keys list peers, `narrow` keys restrict an allow further. */
const PEER_KEYS: Record<Direction, { endpoints: string; cidr: string; cidrSet: string; entities: string; unsupported: string[]; narrow: string[] }> = {
  ingress: { endpoints: 'fromEndpoints', cidr: 'fromCIDR', cidrSet: 'fromCIDRSet', entities: 'fromEntities', unsupported: ['fromGroups', 'fromNodes'], narrow: ['fromRequires', 'authentication'] },
  egress: { endpoints: 'toEndpoints', cidr: 'toCIDR', cidrSet: 'toCIDRSet', entities: 'toEntities', unsupported: ['toFQDNs', 'toServices', 'toGroups', 'toNodes'], narrow: ['toRequires', 'authentication'] },
};

interface RuleCtx {
  src: YamlSource;
  object: string;
  /** The policy's namespace; undefined for a clusterwide policy. */
  namespace: string | undefined;
  cluster: string;
  out: ImportedPolicy;
}

export function importCiliumPolicies(objects: ManifestObject[], cluster: string, files: string[]): ImportedPolicy {
  const out: ImportedPolicy = { name: 'cilium-policies', source: 'Cilium network policies', files, clusterSelector: { [CLUSTER_LABEL]: cluster }, rules: [], isolations: [] };
  for (const o of objects) {
    const { src } = o;
    const clusterwide = o.kind === 'CiliumClusterwideNetworkPolicy';
    const namespace = clusterwide ? undefined : (o.namespace ?? 'default');
    const object = `${o.kind} ${namespace ? `${namespace}/` : ''}${o.name}`;
    if (!clusterwide && o.namespace === undefined) {
      src.bag.warning('namespace-defaulted', `${object}: metadata.namespace is missing; the policy is read as in namespace "default"`, o.span, 'valid: metadata.namespace: <namespace>');
    }
    const ctx: RuleCtx = { src, object, namespace, cluster, out };
    const specNode = src.get(o.map, 'spec');
    const specsNode = src.get(o.map, 'specs');
    if (specNode === undefined && specsNode === undefined) {
      src.bag.error('missing-key', `${object}: neither "spec" nor "specs"`, o.span, 'valid: spec: {endpointSelector, ingress, egress, ...} or specs: [...]');
      continue;
    }
    if (o.spec) readRule(ctx, o.spec, 'spec');
    if (specsNode !== undefined) {
      const seq = src.seq(specsNode, `${object}: specs`, 'valid: specs: [{endpointSelector, ingress, ...}]');
      for (const [i, item] of (seq ? src.items(seq) : []).entries()) {
        const m = src.map(item, `${object}: specs[${i}]`);
        if (m) readRule(ctx, m, `specs[${i}]`);
      }
    }
  }
  return out;
}

/** Cilium label keys carry a source prefix ("k8s:app"); reserved: labels are not pod labels. */
function mapCiliumKey(ctx: RuleCtx, effect: string): (key: string, node: YNode) => string | undefined {
  return (key, node) => {
    const m = /^([a-z0-9-]+):(.*)$/.exec(key);
    if (!m || m[1] === 'k8s' || m[1] === 'any') return m ? m[2] : key;
    ctx.src.bag.warning('unsupported-label-source', `${ctx.object}: label "${clip(key)}" comes from source "${m[1]}", which pods in the inventory do not carry: ${effect}`, ctx.src.span(node), 'valid in Weft: pod labels (k8s: or no prefix)');
    return undefined;
  };
}

/**
 * Reads an endpoint selector. In a namespaced policy a peer selector without
 * a namespace key means the policy's namespace, and the subject
 * (`endpointSelector`, `subject` true) is always within it.
 */
function readSelector(ctx: RuleCtx, node: YNode | undefined, what: string, effect: string, subject = false): SelectorBounds {
  const base: Selector = { [CLUSTER_LABEL]: ctx.cluster };
  const bounds = readLabelSelector(ctx.src, node, what, { base, mapKey: mapCiliumKey(ctx, effect), effect });
  if (ctx.namespace === undefined) return bounds;
  const ns = ctx.namespace;
  if (!subject && namesKey(ctx.src, node, POD_NAMESPACE_LABEL)) return bounds;
  const add = (sels: Selector[]): Selector[] => sels.filter((s) => s[POD_NAMESPACE_LABEL] === undefined || s[POD_NAMESPACE_LABEL] === ns).map((s) => ({ ...s, [POD_NAMESPACE_LABEL]: ns }));
  return { lower: add(bounds.lower), upper: add(bounds.upper) };
}

/** Whether a selector mentions `key` (with or without a source prefix) in matchLabels or matchExpressions. */
function namesKey(src: YamlSource, node: YNode | undefined, key: string): boolean {
  const m = isMap(node) ? node : undefined;
  if (!m) return false;
  const bare = (k: unknown): boolean => typeof k === 'string' && k.replace(/^(k8s|any):/, '') === key;
  const ml = src.get(m, 'matchLabels');
  if (isMap(ml) && ml.items.some((p) => isScalar(p.key) && bare(p.key.value))) return true;
  const me = src.get(m, 'matchExpressions');
  return isSeq(me) && me.items.some((e) => {
    const k = isMap(e) ? src.get(e, 'key') : undefined;
    return isScalar(k) && bare(k.value);
  });
}

function readRule(ctx: RuleCtx, rule: MapNode, part: string): void {
  const { src, object } = ctx;
  src.checkKeys(rule, RULE_KEYS, `${object}: ${part}`);
  if (src.get(rule, 'nodeSelector') !== undefined) {
    src.bag.warning('unsupported-selector', `${object}: ${part}: nodeSelector (host policy) has no Weft form here; the rule is not imported`, src.span(src.keyNode(rule, 'nodeSelector')), 'valid in Weft: endpointSelector rules');
    return;
  }
  const esNode = src.require(rule, 'endpointSelector', `${object}: ${part}`, 'valid: endpointSelector: {matchLabels: {...}} or {} for every pod');
  if (esNode === undefined) return;
  const subject = readSelector(ctx, esNode, `${object}: ${part}.endpointSelector`, 'the rule\'s allows are dropped, and its isolation and denies cover every pod the rest of the selector matches', true);
  const defaultDeny = readDefaultDeny(src, rule, `${object}: ${part}`);
  for (const direction of ['ingress', 'egress'] as const) {
    const allowNode = src.get(rule, direction);
    const denyNode = src.get(rule, `${direction}Deny`);
    const allows = allowNode === undefined ? [] : entries(src, allowNode, `${object}: ${part}.${direction}`);
    const denies = denyNode === undefined ? [] : entries(src, denyNode, `${object}: ${part}.${direction}Deny`);
    if ((allows.length || denies.length) && defaultDeny[direction]) {
      ctx.out.isolations.push({ direction, subject: subject.upper, origin: { span: src.span(esNode), object, part: `${part}.endpointSelector` } });
    }
    for (const [i, e] of allows.entries()) readEntry(ctx, e, direction, 'allow', subject.lower, `${part}.${direction}[${i}]`);
    for (const [i, e] of denies.entries()) readEntry(ctx, e, direction, 'deny', subject.upper, `${part}.${direction}Deny[${i}]`);
  }
}

function entries(src: YamlSource, node: YNode, what: string): MapNode[] {
  const seq = src.seq(node, what, 'valid: a list of rules, e.g. [{fromEndpoints: [...], toPorts: [...]}]');
  const outList: MapNode[] = [];
  for (const item of seq ? src.items(seq) : []) {
    const m = src.map(item, `${what} entry`);
    if (m) outList.push(m);
  }
  return outList;
}

function readDefaultDeny(src: YamlSource, rule: MapNode, what: string): Record<Direction, boolean> {
  const outDd = { ingress: true, egress: true };
  const node = src.get(rule, 'enableDefaultDeny');
  if (node === undefined) return outDd;
  const m = src.map(node, `${what}.enableDefaultDeny`, 'valid: enableDefaultDeny: {ingress: true, egress: false}');
  if (!m) return outDd;
  src.checkKeys(m, ['ingress', 'egress'], `${what}.enableDefaultDeny`);
  for (const d of ['ingress', 'egress'] as const) {
    const v = src.get(m, d);
    if (v !== undefined) outDd[d] = src.bool(v, `${what}.enableDefaultDeny.${d}`) ?? true;
  }
  return outDd;
}

/**
 * One ingress/egress(Deny) entry. `subject` is already the bound fitting
 * the action (lower for allows, upper for denies).
 */
function readEntry(ctx: RuleCtx, m: MapNode, direction: Direction, action: 'allow' | 'deny', subject: Selector[], part: string): void {
  const { src, object } = ctx;
  const keys = PEER_KEYS[direction];
  const what = `${object}: ${part}`;
  src.checkKeys(m, [keys.endpoints, keys.cidr, keys.cidrSet, keys.entities, ...keys.unsupported, ...keys.narrow, 'toPorts', 'icmps'], what);
  const allow = action === 'allow';
  const effect = allow ? 'it is left out of this allow' : 'this deny covers every address instead';
  const selectorEffect = allow ? 'it is left out of this allow' : 'this deny covers every pod the rest of the selector matches';
  let hasPeerKey = false;
  let peers: Peer[] = [];
  const widen = (): void => {
    peers = [{ kind: 'any' }];
  };
  for (const k of keys.narrow) {
    const n = src.keyNode(m, k);
    if (n === undefined) continue;
    if (allow) {
      src.bag.warning('unsupported-constraint', `${what}: ${k} has no Weft form; the allow it restricts is dropped`, src.span(n), 'valid in Weft: endpoint, CIDR and entity peers with ports');
      return;
    }
    src.bag.warning('unsupported-constraint', `${what}: ${k} has no Weft form; the deny applies without it`, src.span(n), 'valid in Weft: endpoint, CIDR and entity peers with ports');
  }
  for (const k of keys.unsupported) {
    const n = src.keyNode(m, k);
    if (n === undefined) continue;
    hasPeerKey = true;
    src.bag.warning('unsupported-peer', `${what}: ${k} has no Weft form (it needs names or services resolved at run time): ${effect}`, src.span(n), 'valid in Weft: endpoint, CIDR and entity peers');
    if (!allow) widen();
  }
  const epNode = src.get(m, keys.endpoints);
  if (epNode !== undefined) {
    hasPeerKey = true;
    const seq = src.seq(epNode, `${what}.${keys.endpoints}`, `valid: ${keys.endpoints}: [{matchLabels: {app: web}}]`);
    for (const [i, item] of (seq ? src.items(seq) : []).entries()) {
      const b = readSelector(ctx, item ?? undefined, `${what}.${keys.endpoints}[${i}]`, selectorEffect);
      const sels = allow ? b.lower : b.upper;
      if (sels.length) peers.push({ kind: 'pods', selectors: sels });
    }
  }
  const cidrNode = src.get(m, keys.cidr);
  if (cidrNode !== undefined) {
    hasPeerKey = true;
    const seq = src.seq(cidrNode, `${what}.${keys.cidr}`, `valid: ${keys.cidr}: [10.0.0.0/8]`);
    for (const item of seq ? src.items(seq) : []) {
      const c = readCidr(src, item, `${what}.${keys.cidr} entry`);
      if (c) peers.push({ kind: 'cidr', cidrs: [c], except: [] });
    }
  }
  const setNode = src.get(m, keys.cidrSet);
  if (setNode !== undefined) {
    hasPeerKey = true;
    const seq = src.seq(setNode, `${what}.${keys.cidrSet}`, `valid: ${keys.cidrSet}: [{cidr: 10.0.0.0/8, except: [10.0.5.0/24]}]`);
    for (const [i, item] of (seq ? src.items(seq) : []).entries()) {
      const sm = src.map(item, `${what}.${keys.cidrSet}[${i}]`, 'valid: {cidr: 10.0.0.0/8, except: [...]}');
      if (!sm) continue;
      src.checkKeys(sm, ['cidr', 'except', 'cidrGroupRef', 'cidrGroupSelector'], `${what}.${keys.cidrSet}[${i}]`);
      const cNode = src.get(sm, 'cidr');
      if (cNode === undefined) {
        src.bag.warning('unsupported-peer', `${what}.${keys.cidrSet}[${i}]: a CiliumCIDRGroup reference has no Weft form: ${effect}`, src.span(sm), 'valid in Weft: cidr with except');
        if (!allow) widen();
        continue;
      }
      const c = readCidr(src, cNode, `${what}.${keys.cidrSet}[${i}].cidr`);
      const ex = readExcept(src, src.get(sm, 'except'), c, `${what}.${keys.cidrSet}[${i}]`);
      if (c && ex) peers.push({ kind: 'cidr', cidrs: [c], except: ex });
    }
  }
  const entNode = src.get(m, keys.entities);
  if (entNode !== undefined) {
    hasPeerKey = true;
    const seq = src.seq(entNode, `${what}.${keys.entities}`, `valid: ${keys.entities}: [world]`);
    for (const item of seq ? src.items(seq) : []) {
      const e = src.string(item, `${what}.${keys.entities} entry`, `valid: ${listChoices(CILIUM_ENTITIES)}`);
      if (e === undefined) continue;
      const p = entityPeer(ctx, e);
      if (p) peers.push(p);
      else if (CILIUM_ENTITIES.includes(e)) {
        src.bag.warning('unsupported-entity', `${what}: entity "${e}" has no meaning in a Weft inventory: ${effect}`, src.span(item), `valid in Weft: ${listChoices(ENTITIES)}`);
        if (!allow) widen();
      } else {
        src.bag.error('bad-entity', `${what}: unknown entity "${clip(e)}"`, src.span(item), `valid: ${listChoices(CILIUM_ENTITIES)}`);
      }
    }
  }
  const ports = readToPorts(ctx, m, what, allow);
  if (ports === undefined) return;
  if (!hasPeerKey) {
    // Cilium: an entry with only ports allows every peer; an empty entry none.
    if (src.get(m, 'toPorts') !== undefined) peers = [{ kind: 'any' }];
  } else if (peers.length === 0 && allow) {
    src.bag.warning('rule-dropped', `${what}: none of its peers can be imported, so it is dropped (it allows nothing)`, src.span(m), 'see the warnings about its peers');
  }
  if (peers.length === 0) return;
  const origin: Origin = { span: src.span(m), object, part };
  ctx.out.rules.push({ direction, action, subject, peers, ports, origin });
}

function entityPeer(ctx: RuleCtx, e: string): Peer | undefined {
  switch (e) {
    case 'all':
      return { kind: 'any' };
    case 'cluster':
      return { kind: 'pods', selectors: [{ [CLUSTER_LABEL]: ctx.cluster }] };
    case 'world':
      return { kind: 'cidr', cidrs: [{ family: 4, addr: 0n, len: 0 }, { family: 6, addr: 0n, len: 0 }], except: [] };
    case 'world-ipv4':
      return { kind: 'cidr', cidrs: [{ family: 4, addr: 0n, len: 0 }], except: [] };
    case 'world-ipv6':
      return { kind: 'cidr', cidrs: [{ family: 6, addr: 0n, len: 0 }], except: [] };
    default:
      return undefined;
  }
}

/**
 * toPorts (and icmps) of an entry: [] for every port, undefined when the
 * allow keeps no port at all (then it is dropped, with a warning).
 */
function readToPorts(ctx: RuleCtx, m: MapNode, what: string, allow: boolean): PortRange[] | undefined {
  const { src } = ctx;
  const icmps = src.keyNode(m, 'icmps');
  const node = src.get(m, 'toPorts');
  if (icmps !== undefined) {
    src.bag.warning('unsupported-icmp', `${what}: icmps are not imported; ${allow ? 'the ICMP part of this allow is dropped' : 'this deny covers every port instead'}`, src.span(icmps), 'valid in Weft: toPorts with TCP/UDP ports');
    if (!allow) return [];
    if (node === undefined) return undefined;
  }
  if (node === undefined) return [];
  const seq = src.seq(node, `${what}.toPorts`, 'valid: toPorts: [{ports: [{port: "80", protocol: TCP}]}]');
  if (!seq) return undefined;
  const out: PortRange[] = [];
  let every = false;
  for (const [i, item] of src.items(seq).entries()) {
    const pm = src.map(item, `${what}.toPorts[${i}]`, 'valid: {ports: [{port: "80", protocol: TCP}]}');
    if (!pm) continue;
    const w = `${what}.toPorts[${i}]`;
    src.checkKeys(pm, ['ports', 'rules', 'terminatingTLS', 'originatingTLS', 'serverNames', 'listener'], w);
    const l7 = ['rules', 'terminatingTLS', 'originatingTLS', 'serverNames', 'listener'].map((k) => src.keyNode(pm, k)).find((k) => k !== undefined);
    if (l7 !== undefined) {
      if (allow) {
        src.bag.warning('unsupported-l7', `${w}: ${isScalar(l7) ? String(l7.value) : 'L7'} (L7 filtering) has no Weft form; these ports are dropped from the allow`, src.span(l7), 'valid in Weft: L3/L4 only; Weft cannot enforce the L7 part, so it does not allow the ports either');
        continue;
      }
      src.bag.warning('unsupported-l7', `${w}: L7 settings in a deny are ignored; the deny covers the ports`, src.span(l7), 'valid in Weft: L3/L4 only');
    }
    const portsNode = src.get(pm, 'ports');
    if (portsNode === undefined) {
      every = true;
      continue;
    }
    const ps = src.seq(portsNode, `${w}.ports`, 'valid: ports: [{port: "80", protocol: TCP}]');
    for (const [j, p] of (ps ? src.items(ps) : []).entries()) {
      const r = readPort(ctx, p, `${w}.ports[${j}]`, allow);
      if (r === 'every') every = true;
      else out.push(...r);
    }
  }
  if (every) return [];
  if (out.length === 0) {
    if (allow) src.bag.warning('rule-dropped', `${what}: none of its ports can be imported, so it is dropped (it allows nothing)`, src.span(node), 'see the warnings about its ports');
    return allow ? undefined : [];
  }
  return out;
}

/** One port entry: its ranges (tcp and udp for ANY), or 'every' when a deny must widen to every port. */
function readPort(ctx: RuleCtx, node: YNode | null, what: string, allow: boolean): PortRange[] | 'every' {
  const { src } = ctx;
  const m = src.map(node, what, 'valid: {port: "80", protocol: TCP, endPort: 90}');
  if (!m) return [];
  src.checkKeys(m, ['port', 'protocol', 'endPort'], what);
  const protoNode = src.get(m, 'protocol');
  let protocol = 'ANY' as (typeof PROTOCOLS)[number];
  if (protoNode !== undefined) {
    const p = src.string(protoNode, `${what}.protocol`, `valid: ${listChoices(PROTOCOLS)}`);
    if (p === undefined) return [];
    if (!(PROTOCOLS as readonly string[]).includes(p)) {
      src.bag.error('bad-protocol', `${what}: protocol "${p}"`, src.span(protoNode), `valid: ${listChoices(PROTOCOLS)}`);
      return [];
    }
    protocol = p as typeof protocol;
  }
  const drop = (code: string, message: string, at: YNode | undefined, hint: string): PortRange[] | 'every' => {
    src.bag.warning(code, `${what}: ${message}; ${allow ? 'this port entry is dropped from the allow' : 'the deny covers every port instead'}`, src.span(at ?? m), hint);
    return allow ? [] : 'every';
  };
  if (protocol === 'SCTP') return drop('unsupported-protocol', 'SCTP has no Weft form', protoNode, 'valid in Weft: TCP, UDP or ANY');
  const portNode = src.get(m, 'port');
  let port: number | undefined;
  if (portNode !== undefined) {
    const r = readPortNumber(src, portNode, `${what}.port`, 0);
    if (!r.ok) return r.named === undefined ? [] : drop('named-port', `named port "${r.named}" needs the pod spec, which the import does not read`, portNode, 'valid in Weft: a numeric port');
    // Port 0 means every port in Cilium.
    port = r.port === 0 ? undefined : r.port;
  }
  const endNode = src.get(m, 'endPort');
  const protos: ('tcp' | 'udp')[] = protocol === 'TCP' ? ['tcp'] : protocol === 'UDP' ? ['udp'] : ['tcp', 'udp'];
  const outP: PortRange[] = [];
  for (const p of protos) {
    const r = portRange(src, p, port, endNode, what);
    if (r) outP.push(r);
  }
  return outP;
}
