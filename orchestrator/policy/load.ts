// Reads policy.yaml into the Policy model: checks every key it reads, warns
// about keys it does not know (legal, but likely a typo), normalises ports,
// and collects all problems into one InputError whose diagnostics point at
// the offending YAML node.
//
// Group membership, as the rest of Weft implements it: the addresses of every
// inventory endpoint whose labels include all of the group's `selector`
// pairs, plus every address inside one of its `cidrs` and outside all of its
// `except` prefixes. `except` carves holes only into the group's own cidrs,
// never into the selector's endpoints. An empty selector (`{}`) selects every
// endpoint.

import { basename } from 'node:path';
import { withLazyDigest } from '../yaml/lazy-digest.ts';
import { isScalar, type MapNode } from '../yaml/node.ts';
import { DiagnosticBag, type SourceSpan } from '../diagnostics.ts';
import { cidrsOverlap, formatCidr, parseCidr, type Cidr } from '../net/ip.ts';
import { checkWeftHeader, readInputFile, clip, listChoices, YamlSource, type YNode } from '../yaml/source.ts';
import type { Action, GroupDef, PeerRef, Policy, PortMatch, ProtocolName, Rule, Section } from './model.ts';

const PROTOCOLS: readonly ProtocolName[] = ['tcp', 'udp', 'icmp', 'icmpv6', 'any'];
const ACTIONS: readonly Action[] = ['allow', 'deny'];

/** The keys each mapping of policy.yaml knows (README, File formats); others draw an unknown-key warning. */
export const POLICY_KEYS = {
  top: ['apiVersion', 'kind', 'metadata', 'spec'],
  metadata: ['name'],
  spec: ['defaultAction', 'groups', 'rules', 'sections'],
  group: ['selector', 'cidrs', 'except'],
  section: ['name', 'rules'],
  rule: ['name', 'from', 'to', 'ports', 'action', 'log'],
  port: ['protocol', 'port', 'type', 'code'],
} as const;

/** Parses policy.yaml text; throws InputError with every diagnostic on bad input. */
export function parsePolicy(text: string, file: string): Policy {
  const bag = new DiagnosticBag();
  const src = YamlSource.parse(text, file, bag);
  const policy = src ? readPolicy(src) : undefined;
  bag.throwIfErrors();
  if (!policy) throw new Error('unreachable: policy unread without errors');
  const warnings = bag.items.filter((d) => d.severity === 'warning');
  if (warnings.length) policy.warnings = warnings;
  return policy;
}

/** Reads a policy file's text; a missing or oversized file, or a directory, is bad input. */
export function readPolicyFile(path: string): string {
  return readInputFile(path, 'policy', 'a readable policy.yaml or policy.json');
}

/** Reads and parses a policy file; an oversized file is refused before it is read. */
export function loadPolicy(path: string): Policy {
  return parsePolicy(readPolicyFile(path), path);
}

function readPolicy(src: YamlSource): Policy | undefined {
  const top = src.map(src.root, 'policy document', 'valid: a mapping with apiVersion, kind, metadata and spec');
  if (!top) return undefined;
  checkWeftHeader(src, top, 'Policy');
  src.checkKeys(top, POLICY_KEYS.top, 'policy document');
  let name = basename(src.file).replace(/\.(ya?ml|json)$/, '');
  const meta = src.get(top, 'metadata');
  if (meta !== undefined) {
    const m = src.map(meta, 'metadata');
    if (m) src.checkKeys(m, POLICY_KEYS.metadata, 'metadata');
    const n = m ? src.get(m, 'name') : undefined;
    if (n !== undefined) name = src.string(n, 'metadata.name') ?? name;
  }
  const specNode = src.require(top, 'spec', 'policy', 'valid: spec: {defaultAction, groups, rules | sections}');
  const spec = specNode === undefined ? undefined : src.map(specNode, 'spec');
  if (!spec) return undefined;
  src.checkKeys(spec, POLICY_KEYS.spec, 'spec');

  let defaultAction: Action = 'deny';
  const da = src.get(spec, 'defaultAction');
  if (da !== undefined) defaultAction = readAction(src, da, 'spec.defaultAction') ?? 'deny';

  const groups = readGroups(src, spec);
  const sections: Section[] = [];
  const rules: Rule[] = [];
  const ctx: RuleContext = { src, groups, rules, names: new Map() };
  const rulesNode = src.get(spec, 'rules');
  const sectionsNode = src.get(spec, 'sections');
  if (rulesNode !== undefined && sectionsNode !== undefined) {
    src.bag.error(
      'rules-and-sections',
      'spec has both "rules" and "sections"',
      src.span(src.keyNode(spec, 'sections')),
      'valid: either a top-level rules list or a sections list, each section with its own rules',
    );
  } else if (rulesNode !== undefined) {
    readRuleList(ctx, rulesNode, '', 'spec.rules');
  } else if (sectionsNode !== undefined) {
    readSections(ctx, sectionsNode, sections);
  }
  return withLazyDigest({ file: src.file, name, defaultAction, groups, sections, rules }, src.root);
}

function readAction(src: YamlSource, node: YNode, what: string): Action | undefined {
  const v = isScalar(node) ? node.value : undefined;
  if (typeof v === 'string' && (ACTIONS as readonly string[]).includes(v)) return v as Action;
  src.bag.error('bad-action', `${what} is ${src.describe(node)}`, src.span(node), `valid: ${listChoices(ACTIONS)}`);
  return undefined;
}

function readGroups(src: YamlSource, spec: MapNode): Map<string, GroupDef> {
  const groups = new Map<string, GroupDef>();
  const node = src.get(spec, 'groups');
  if (node === undefined) return groups;
  const map = src.map(node, 'spec.groups', 'valid: groups: {web: {selector: {app: web}}, ops: {cidrs: [10.0.0.0/8]}}');
  if (!map) return groups;
  for (const { key, keyNode, value } of src.pairs(map, 'spec.groups')) {
    const span = src.span(keyNode);
    if (key === 'any') {
      src.bag.error('reserved-group-name', 'group named "any"', span, 'valid: any name but "any", which always means every address');
      continue;
    }
    const g = src.map(value, `group ${key}`, 'valid: {selector: {...}} and/or {cidrs: [...], except: [...]}');
    if (!g) continue;
    src.checkKeys(g, POLICY_KEYS.group, `group ${key}`);
    const def: GroupDef = { name: key, cidrs: [], except: [], span };
    const sel = src.get(g, 'selector');
    if (sel !== undefined) {
      const selMap = src.map(sel, `group ${key}: selector`, 'valid: selector: {app: web, env: prod}');
      if (selMap) def.selector = readStringMap(src, selMap, `group ${key}: selector`);
    }
    const cidrsNode = src.get(g, 'cidrs');
    if (cidrsNode !== undefined) def.cidrs = readCidrList(src, cidrsNode, `group ${key}: cidrs`).map((c) => c.cidr);
    const exceptNode = src.get(g, 'except');
    if (exceptNode !== undefined) {
      if (cidrsNode === undefined) {
        src.bag.error('except-without-cidrs', `group ${key} has "except" but no "cidrs"`, src.span(src.keyNode(g, 'except')), 'valid: except removes addresses from the group\'s cidrs; add cidrs or drop except');
      } else {
        const ex = readCidrList(src, exceptNode, `group ${key}: except`);
        const families = new Set(def.cidrs.map((c) => c.family));
        for (const { cidr, node: n } of ex) {
          if (def.cidrs.length > 0 && !families.has(cidr.family)) {
            src.bag.error(
              'except-family-mismatch',
              `group ${key}: except ${src.scalarText(n)} is IPv${cidr.family} but every cidr of the group is IPv${cidr.family === 4 ? 6 : 4}, so it can never apply`,
              src.span(n),
              `valid: an except prefix of the same family as one of the group's cidrs`,
            );
          } else if (def.cidrs.length > 0 && !def.cidrs.some((c) => cidrsOverlap(c, cidr))) {
            // Legal but useless: the hole is cut where the group has no address, so
            // the author most likely meant another prefix (or another group).
            src.bag.warning(
              'except-outside-cidrs',
              `group ${key}: except ${src.scalarText(n)} lies outside every cidr of the group, so it removes nothing`,
              src.span(n),
              `valid: an except prefix inside one of the group's cidrs (${def.cidrs.map(formatCidr).join(', ')})`,
            );
          }
          def.except.push(cidr);
        }
      }
    }
    if (sel === undefined && cidrsNode === undefined && exceptNode === undefined) {
      src.bag.error('empty-group', `group ${key} has neither "selector" nor "cidrs"`, span, 'valid: selector: {app: web} and/or cidrs: [10.0.0.0/8]');
    }
    groups.set(key, def);
  }
  return groups;
}

function readStringMap(src: YamlSource, map: MapNode, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of src.pairs(map, what)) {
    const v = src.textValue(value, `${what}.${key}`);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** The prefixes of a cidrs/except list, each with its node (for spans). */
function readCidrList(src: YamlSource, node: YNode, what: string): { cidr: Cidr; node: YNode }[] {
  const out: { cidr: Cidr; node: YNode }[] = [];
  const seq = src.seq(node, what, `valid: ${what.split(': ')[1] ?? 'cidrs'}: [10.0.0.0/8, "fd00::/8"]`);
  if (seq) {
    for (const item of src.items(seq)) {
      const text = src.string(item, `${what} entry`, 'valid: a prefix like 10.0.0.0/8 or fd00::/8');
      if (text === undefined || item === null) continue;
      const r = parseCidr(text.trim());
      if (r.ok) {
        out.push({ cidr: r.cidr, node: item });
      } else if (r.reason.startsWith('host bits')) {
        src.bag.error('cidr-host-bits', `${what}: "${clip(text)}": ${r.reason}`, src.span(item), 'valid: a prefix whose address has no bits set below its length');
      } else {
        src.bag.error('bad-cidr', `${what}: "${clip(text)}": ${r.reason}`, src.span(item), 'valid: an IPv4 or IPv6 prefix like 10.0.0.0/8, fd00::/8, or a bare address');
      }
    }
  }
  return out;
}

interface RuleContext {
  src: YamlSource;
  groups: Map<string, GroupDef>;
  rules: Rule[];
  /** Rule name -> where it was first defined. */
  names: Map<string, SourceSpan>;
}

function readSections(ctx: RuleContext, node: YNode, sections: Section[]): void {
  const { src } = ctx;
  const seq = src.seq(node, 'spec.sections', 'valid: sections: [{name: baseline, rules: [...]}]');
  if (!seq) return;
  const seen = new Map<string, SourceSpan>();
  for (const item of src.items(seq)) {
    const s = src.map(item, 'section', 'valid: {name: baseline, rules: [...]}');
    if (!s) continue;
    const nameNode = src.require(s, 'name', 'section', 'valid: name: <section name>');
    const name = nameNode === undefined ? undefined : src.string(nameNode, 'section name');
    src.checkKeys(s, POLICY_KEYS.section, `section ${name ?? '?'}`);
    if (name !== undefined && nameNode !== undefined) {
      const first = seen.get(name);
      if (first) {
        src.bag.error('duplicate-section-name', `section "${name}" is defined twice`, src.span(nameNode), `valid: unique section names; the first "${name}" is at line ${first.line}`);
      } else {
        seen.set(name, src.span(nameNode));
        sections.push({ name, span: src.span(s) });
      }
    }
    const rulesNode = src.require(s, 'rules', `section ${name ?? '?'}`, 'valid: rules: [...]');
    if (rulesNode !== undefined) readRuleList(ctx, rulesNode, name ?? '', `section ${name ?? '?'}: rules`);
  }
}

function readRuleList(ctx: RuleContext, node: YNode, section: string, what: string): void {
  const seq = ctx.src.seq(node, what, 'valid: a list of rules, each {name, from, to, ports, action}');
  if (!seq) return;
  for (const item of ctx.src.items(seq)) readRule(ctx, item, section);
}

function readRule(ctx: RuleContext, node: YNode | null, section: string): void {
  const { src } = ctx;
  const r = src.map(node, 'rule', 'valid: {name, from, to, ports, action, log}');
  if (!r) return;
  const nameNode = src.require(r, 'name', 'rule', 'valid: name: <unique rule name>');
  const name = nameNode === undefined ? undefined : src.string(nameNode, 'rule name');
  if (name !== undefined && nameNode !== undefined) {
    const first = ctx.names.get(name);
    if (first) {
      src.bag.error('duplicate-rule-name', `rule "${name}" is defined twice`, src.span(nameNode), `valid: rule names unique across the policy; the first "${name}" is at line ${first.line}`);
    } else {
      ctx.names.set(name, src.span(nameNode));
    }
  }
  const label = `rule ${name ?? '?'}`;
  src.checkKeys(r, POLICY_KEYS.rule, label);
  const from = readPeers(ctx, r, 'from', label);
  const to = readPeers(ctx, r, 'to', label);
  const ports = readPorts(src, r, label);
  const actNode = src.require(r, 'action', label, 'valid: action: allow | deny');
  const action = actNode === undefined ? undefined : readAction(src, actNode, `${label}: action`);
  let log = false;
  const logNode = src.get(r, 'log');
  if (logNode !== undefined) log = src.bool(logNode, `${label}: log`) ?? false;
  if (name === undefined || from === undefined || to === undefined || ports === undefined || action === undefined) return;
  ctx.rules.push({ index: ctx.rules.length, name, section, from, to, ports, action, log, span: src.span(r) });
}

function readPeers(ctx: RuleContext, rule: MapNode, key: 'from' | 'to', label: string): PeerRef[] | undefined {
  const { src } = ctx;
  const node = src.require(rule, key, label, `valid: ${key}: [<group>, ...] or ${key}: [any]`);
  if (node === undefined) return undefined;
  let entries: (YNode | null)[];
  if (isScalar(node)) {
    entries = [node];
  } else {
    const seq = src.seq(node, `${label}: ${key}`, `valid: ${key}: [web] or ${key}: any`);
    if (!seq) return undefined;
    entries = src.items(seq);
    if (entries.length === 0) {
      src.bag.error('empty-peer-list', `${label}: "${key}" is an empty list, so the rule can never match`, src.span(node), 'valid: at least one group, or [any]');
      return undefined;
    }
  }
  const out: PeerRef[] = [];
  let ok = true;
  for (const e of entries) {
    const g = src.string(e, `${label}: ${key} entry`, 'valid: a group name or any');
    if (g === undefined || e === null) {
      ok = false;
      continue;
    }
    if (g === 'any') {
      out.push({ kind: 'any' });
    } else if (ctx.groups.has(g)) {
      out.push({ kind: 'group', name: g, span: src.span(e) });
    } else {
      ok = false;
      const defined = [...ctx.groups.keys()];
      src.bag.error(
        'unknown-group',
        `${label}: ${key} names unknown group "${clip(g)}"`,
        src.span(e),
        `valid: any or a defined group: ${defined.length ? listChoices(defined.slice(0, 20)) + (defined.length > 20 ? `, ... (${defined.length} groups)` : '') : '(no groups are defined)'}`,
      );
    }
  }
  return ok ? out : undefined;
}

function readPorts(src: YamlSource, rule: MapNode, label: string): PortMatch[] | undefined {
  const node = src.get(rule, 'ports');
  if (node === undefined) return [];
  const seq = src.seq(node, `${label}: ports`, 'valid: ports: [{protocol: tcp, port: 80}]; omit ports to match every protocol and port');
  if (!seq) return undefined;
  if (seq.items.length === 0) {
    src.bag.error('empty-ports', `${label}: "ports" is an empty list`, src.span(node), 'valid: omit ports to match every protocol and port, or list at least one entry');
    return undefined;
  }
  const out: PortMatch[] = [];
  let ok = true;
  for (const item of src.items(seq)) {
    const pm = readPortEntry(src, item, label);
    if (pm) out.push(pm);
    else ok = false;
  }
  return ok ? out : undefined;
}

function readPortEntry(src: YamlSource, node: YNode | null, label: string): PortMatch | undefined {
  const e = src.map(node, `${label}: ports entry`, 'valid: {protocol: tcp, port: 80} or {protocol: icmp, type: 8}');
  if (!e) return undefined;
  src.checkKeys(e, POLICY_KEYS.port, `${label}: ports entry`);
  const span = src.span(e);
  const protoNode = src.require(e, 'protocol', `${label}: ports entry`, `valid: protocol: ${listChoices(PROTOCOLS)}`);
  if (protoNode === undefined) return undefined;
  const pv = isScalar(protoNode) ? protoNode.value : undefined;
  if (typeof pv !== 'string' || !(PROTOCOLS as readonly string[]).includes(pv)) {
    src.bag.error('bad-protocol', `${label}: protocol is ${src.describe(protoNode)}`, src.span(protoNode), `valid: ${listChoices(PROTOCOLS)}`);
    return undefined;
  }
  const protocol = pv as ProtocolName;
  const port = src.get(e, 'port');
  const type = src.get(e, 'type');
  const code = src.get(e, 'code');
  switch (protocol) {
    case 'tcp':
    case 'udp': {
      const stray = type ?? code;
      if (stray !== undefined) {
        src.bag.error('icmp-field-on-port-protocol', `${label}: ${protocol} entry has an ICMP ${type ? 'type' : 'code'}`, src.span(stray), `valid: for ${protocol}, port: N or "lo-hi"; type and code belong to icmp/icmpv6`);
        return undefined;
      }
      if (port === undefined) return { protocol, lo: 0, hi: 65535, span };
      const range = readPortRange(src, port, label);
      return range && { protocol, lo: range.lo, hi: range.hi, span };
    }
    case 'icmp':
    case 'icmpv6': {
      if (port !== undefined) {
        src.bag.error('port-on-icmp', `${label}: ${protocol} entry has a port (${src.describe(port)})`, src.span(port), `valid: ${protocol} takes type and code (0-255), not port`);
        return undefined;
      }
      if (code !== undefined && type === undefined) {
        src.bag.error('icmp-code-without-type', `${label}: ${protocol} entry has a code but no type`, src.span(code), 'valid: a code only together with a type, e.g. {type: 3, code: 4}');
        return undefined;
      }
      const t = type === undefined ? undefined : src.int(type, `${label}: ${protocol} type`, 0, 255, 'icmp-out-of-range');
      const c = code === undefined ? undefined : src.int(code, `${label}: ${protocol} code`, 0, 255, 'icmp-out-of-range');
      if ((type !== undefined && t === undefined) || (code !== undefined && c === undefined)) return undefined;
      const pm: PortMatch = { protocol, span };
      if (t !== undefined) pm.type = t;
      if (c !== undefined) pm.code = c;
      return pm;
    }
    case 'any': {
      const stray = port ?? type ?? code;
      if (stray !== undefined) {
        const field = port ? 'port' : type ? 'type' : 'code';
        src.bag.error('field-on-any', `${label}: protocol any has a ${field} (${src.describe(stray)})`, src.span(stray), 'valid: protocol any matches every protocol and port; to match a port use tcp or udp, for a type use icmp or icmpv6');
        return undefined;
      }
      return { protocol, span };
    }
    default: {
      const never: never = protocol;
      throw new Error(`unhandled protocol ${String(never)}`);
    }
  }
}

/** `port: 80`, `port: "80"`, `port: "8000-8099"`. */
function readPortRange(src: YamlSource, node: YNode, label: string): { lo: number; hi: number } | undefined {
  const span = src.span(node);
  const v = isScalar(node) ? node.value : undefined;
  let text: string;
  if (typeof v === 'number') text = src.scalarText(node);
  else if (typeof v === 'string') text = v.trim();
  else {
    src.bag.error('wrong-type', `${label}: port must be a number or a "lo-hi" range, found ${src.describe(node)}`, span, 'valid: port: 443 or port: "8000-8099"');
    return undefined;
  }
  const m = /^([0-9]+)(?:\s*-\s*([0-9]+))?$/.exec(text);
  if (!m) {
    src.bag.error('bad-port', `${label}: port "${clip(text)}" is not a number or a range`, span, 'valid: a port 0-65535 or a range "lo-hi" such as "8000-8099"');
    return undefined;
  }
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  for (const p of [lo, hi]) {
    if (p > 65535) {
      src.bag.error('port-out-of-range', `${label}: port ${p} is out of range`, span, 'valid: 0-65535');
      return undefined;
    }
  }
  if (lo > hi) {
    src.bag.error('reversed-port-range', `${label}: port range "${text}" runs backwards`, span, `valid: lo <= hi, e.g. "${hi}-${lo}"`);
    return undefined;
  }
  return { lo, hi };
}
