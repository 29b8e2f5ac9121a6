// How NetBox objects map to Weft, where NetBox usage varies between sites:
// the defaults below, overridable by a small YAML options file
// (`weft import netbox DIR --options netbox-import.yaml`, README).

import { isScalar } from '../../orchestrator/yaml/node.ts';
import { InputError, type DiagnosticBag } from '../../orchestrator/diagnostics.ts';
import { listChoices, readInputFile, YamlSource } from '../../orchestrator/yaml/source.ts';
import { DPU_PROFILES, PIPELINES } from '../fabric.ts';
import type { DeviceKind, DpuProfile, Pipeline } from '../model.ts';

/** What a NetBox device becomes: a Weft device, an unmanaged endpoint, or nothing. */
export type RoleMapping = DeviceKind | 'endpoint' | 'skip';
const ROLE_MAPPINGS: readonly RoleMapping[] = ['host', 'dpu', 'smartnic', 'switch', 'endpoint', 'skip'];

export interface TagSettings {
  kind?: RoleMapping;
  pipeline?: Pipeline;
  profile?: DpuProfile;
  agent?: boolean;
}

export const MGMT_FIELDS = ['oob_ip', 'primary_ip4', 'primary_ip6'] as const;
export const LABEL_FIELDS = ['site', 'tenant', 'role', 'platform', 'rack', 'location'] as const;

export interface NetboxOptions {
  /** Device role slug -> mapping. */
  roles: Record<string, RoleMapping>;
  /** Tag slug -> settings; tags win over the role. */
  tags: Record<string, TagSettings>;
  defaultPipeline: Pipeline;
  /** Device statuses imported; others are skipped with a warning. */
  statuses: string[];
  /** Where the management address comes from, first present wins. */
  mgmtAddress: (typeof MGMT_FIELDS)[number][];
  /** Device fields whose slug becomes a label (`site: dc1`). */
  labelFields: (typeof LABEL_FIELDS)[number][];
}

export const DEFAULT_NETBOX_OPTIONS: NetboxOptions = {
  roles: {
    server: 'host',
    compute: 'host',
    hypervisor: 'host',
    host: 'host',
    leaf: 'switch',
    spine: 'switch',
    tor: 'switch',
    'access-switch': 'switch',
    'core-switch': 'switch',
    'border-leaf': 'switch',
    dpu: 'dpu',
    smartnic: 'smartnic',
    firewall: 'endpoint',
    storage: 'endpoint',
    appliance: 'endpoint',
    'patch-panel': 'skip',
    pdu: 'skip',
    'console-server': 'skip',
  },
  tags: {
    'weft-p4': { pipeline: 'p4' },
    'weft-openconfig': { pipeline: 'openconfig' },
    'weft-no-agent': { agent: false },
    'weft-host': { kind: 'host' },
    'weft-switch': { kind: 'switch' },
    'weft-endpoint': { kind: 'endpoint' },
    bluefield: { profile: 'bluefield' },
    nfp: { profile: 'nfp' },
  },
  defaultPipeline: 'openconfig',
  statuses: ['active'],
  mgmtAddress: ['oob_ip', 'primary_ip4', 'primary_ip6'],
  labelFields: ['site', 'tenant', 'role'],
};

const OPTION_KEYS = ['roles', 'tags', 'defaultPipeline', 'statuses', 'mgmtAddress', 'labelFields'];

function oneOf<T extends string>(src: YamlSource, node: Parameters<YamlSource['span']>[0], what: string, valid: readonly T[]): T | undefined {
  const v = isScalar(node) ? node.value : undefined;
  if (typeof v === 'string' && (valid as readonly string[]).includes(v)) return v as T;
  src.bag.error('bad-option', `${what} is ${src.describe(node ?? null)}`, src.span(node), `valid: ${listChoices(valid)}`);
  return undefined;
}

/** The defaults with the file's settings on top (roles and tags merge key by key). */
export function loadNetboxOptions(path: string | undefined, bag: DiagnosticBag): NetboxOptions {
  const opts: NetboxOptions = structuredClone(DEFAULT_NETBOX_OPTIONS);
  if (path === undefined) return opts;
  let textIn: string;
  try {
    textIn = readInputFile(path, 'NetBox options', 'a readable YAML options file');
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    bag.items.push(...e.diagnostics);
    return opts;
  }
  const src = YamlSource.parse(textIn, path, bag);
  const top = src ? src.map(src.root, 'NetBox options', `valid: a mapping with ${listChoices(OPTION_KEYS)}`) : undefined;
  if (!src || !top) return opts;
  src.checkKeys(top, OPTION_KEYS, 'NetBox options');
  const roles = src.get(top, 'roles');
  const rm = roles === undefined ? undefined : src.map(roles, 'roles', 'valid: roles: {server: host, leaf: switch}');
  for (const { key, value } of rm ? src.pairs(rm, 'roles') : []) {
    const k = oneOf(src, value, `roles.${key}`, ROLE_MAPPINGS);
    if (k) opts.roles[key] = k;
  }
  const tags = src.get(top, 'tags');
  const tm = tags === undefined ? undefined : src.map(tags, 'tags', 'valid: tags: {weft-p4: {pipeline: p4}}');
  for (const { key, value } of tm ? src.pairs(tm, 'tags') : []) {
    const m = src.map(value, `tags.${key}`, 'valid: {kind, pipeline, profile, agent}');
    if (!m) continue;
    src.checkKeys(m, ['kind', 'pipeline', 'profile', 'agent'], `tags.${key}`);
    const s: TagSettings = {};
    const kind = src.get(m, 'kind');
    if (kind !== undefined) s.kind = oneOf(src, kind, `tags.${key}.kind`, ROLE_MAPPINGS);
    const pipeline = src.get(m, 'pipeline');
    if (pipeline !== undefined) s.pipeline = oneOf(src, pipeline, `tags.${key}.pipeline`, PIPELINES);
    const profile = src.get(m, 'profile');
    if (profile !== undefined) s.profile = oneOf(src, profile, `tags.${key}.profile`, DPU_PROFILES);
    const agent = src.get(m, 'agent');
    if (agent !== undefined) s.agent = src.bool(agent, `tags.${key}.agent`);
    opts.tags[key] = s;
  }
  const dp = src.get(top, 'defaultPipeline');
  if (dp !== undefined) opts.defaultPipeline = oneOf(src, dp, 'defaultPipeline', PIPELINES) ?? opts.defaultPipeline;
  const list = <T extends string>(key: string, valid: readonly T[] | undefined): T[] | undefined => {
    const n = src.get(top, key);
    if (n === undefined) return undefined;
    const seq = src.seq(n, key, `valid: ${key}: [...]`);
    if (!seq) return undefined;
    const out: T[] = [];
    for (const item of src.items(seq)) {
      const v = valid ? oneOf(src, item, `${key} entry`, valid) : (src.string(item, `${key} entry`) as T | undefined);
      if (v !== undefined) out.push(v);
    }
    return out;
  };
  opts.statuses = list<string>('statuses', undefined) ?? opts.statuses;
  opts.mgmtAddress = list('mgmtAddress', MGMT_FIELDS) ?? opts.mgmtAddress;
  opts.labelFields = list('labelFields', LABEL_FIELDS) ?? opts.labelFields;
  return opts;
}
