// The gNMI protocol as Weft speaks it: the project's proto definitions
// (targets/openconfig/proto/, package gnmi) loaded into protobufjs, the
// grpc-js service definition both the client and the emulated switch agent
// use, and gNMI path helpers.

import protobuf from 'protobufjs';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { join } from 'node:path';
import { packagePath } from '../../orchestrator/package-root.ts';

const PROTO_DIR = packagePath('targets', 'openconfig', 'proto');

function load(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
  root.loadSync(['gnmi/gnmi.proto']);
  root.resolveAll();
  return root;
}

export const gnmiRoot: protobuf.Root = load();

const type = (name: string): protobuf.Type => gnmiRoot.lookupType(name);

export const G = {
  CapabilityRequest: type('gnmi.CapabilityRequest'),
  CapabilityResponse: type('gnmi.CapabilityResponse'),
  GetRequest: type('gnmi.GetRequest'),
  GetResponse: type('gnmi.GetResponse'),
  SetRequest: type('gnmi.SetRequest'),
  SetResponse: type('gnmi.SetResponse'),
  SubscribeRequest: type('gnmi.SubscribeRequest'),
  SubscribeResponse: type('gnmi.SubscribeResponse'),
} as const;

/** Plain objects: camelCase fields, enums as names, 64-bit integers as strings, bytes as Buffers. */
const TO_OBJECT: protobuf.IConversionOptions = { enums: String, longs: String, bytes: Buffer, defaults: false, oneofs: true, arrays: true };

// Message shapes, as the plain objects above (only the fields Weft reads or writes).
export interface PathElem {
  name: string;
  key?: Record<string, string>;
}
export interface Path {
  origin?: string;
  elem?: PathElem[];
  target?: string;
}
export interface TypedValue {
  jsonIetfVal?: Buffer | string;
  jsonVal?: Buffer | string;
  uintVal?: string | number;
  stringVal?: string;
}
export interface Update {
  path?: Path;
  val?: TypedValue;
}
export interface Notification {
  timestamp?: string | number;
  prefix?: Path;
  update?: Update[];
  delete?: Path[];
}
export type EncodingName = 'JSON' | 'BYTES' | 'PROTO' | 'ASCII' | 'JSON_IETF';
export interface ModelData {
  name: string;
  organization?: string;
  version?: string;
}
/** google.protobuf.Duration; seconds is 64-bit (a string once decoded). */
export interface Duration {
  seconds?: string | number;
  nanos?: number;
}
/** gnmi_ext.Commit: one action on the target's single commit-confirmed slot, named by id. */
export interface CommitExtension {
  id?: string;
  commit?: { rollbackDuration?: Duration };
  confirm?: Record<string, never>;
  cancel?: Record<string, never>;
  setRollbackDuration?: { rollbackDuration?: Duration };
  /** Which action is set (filled in when decoding). */
  action?: 'commit' | 'confirm' | 'cancel' | 'setRollbackDuration';
}
/** gnmi_ext.Extension (only the members Weft reads or writes). */
export interface Extension {
  commit?: CommitExtension;
}
export interface CapabilityResponse {
  supportedModels?: ModelData[];
  supportedEncodings?: EncodingName[];
  gNMIVersion?: string;
  /** Extensions the target implements, each shown by an empty instance (Weft's agent lists `commit`). */
  extension?: Extension[];
}
export interface GetRequest {
  prefix?: Path;
  path?: Path[];
  type?: 'ALL' | 'CONFIG' | 'STATE' | 'OPERATIONAL';
  encoding?: EncodingName;
}
export interface GetResponse {
  notification?: Notification[];
}
export interface SetRequest {
  prefix?: Path;
  delete?: Path[];
  replace?: Update[];
  update?: Update[];
  extension?: Extension[];
}
export interface UpdateResult {
  path?: Path;
  op?: 'INVALID' | 'DELETE' | 'REPLACE' | 'UPDATE';
}
export interface SetResponse {
  response?: UpdateResult[];
  timestamp?: string | number;
}
export type SubscriptionModeName = 'TARGET_DEFINED' | 'ON_CHANGE' | 'SAMPLE';
export interface Subscription {
  path?: Path;
  mode?: SubscriptionModeName;
  sampleInterval?: string | number;
}
export interface SubscriptionList {
  prefix?: Path;
  subscription?: Subscription[];
  mode?: 'STREAM' | 'ONCE' | 'POLL';
  encoding?: EncodingName;
  updatesOnly?: boolean;
}
export interface SubscribeRequest {
  subscribe?: SubscriptionList;
  poll?: Record<string, never>;
}
export interface SubscribeResponse {
  update?: Notification;
  syncResponse?: boolean;
}

function codec<O>(t: protobuf.Type): { ser: (o: O) => Buffer; de: (b: Buffer) => O } {
  return {
    ser: (o) => Buffer.from(t.encode(t.fromObject(o as Record<string, unknown>)).finish()),
    de: (b) => t.toObject(t.decode(b), TO_OBJECT) as O,
  };
}

function method<Req, Res>(name: string, req: protobuf.Type, res: protobuf.Type, requestStream: boolean, responseStream: boolean) {
  const a = codec<Req>(req);
  const b = codec<Res>(res);
  return {
    path: `/gnmi.gNMI/${name}`,
    requestStream,
    responseStream,
    requestSerialize: a.ser,
    requestDeserialize: a.de,
    responseSerialize: b.ser,
    responseDeserialize: b.de,
  };
}

export const GNMI_SERVICE = {
  Capabilities: method<Record<string, never>, CapabilityResponse>('Capabilities', G.CapabilityRequest, G.CapabilityResponse, false, false),
  Get: method<GetRequest, GetResponse>('Get', G.GetRequest, G.GetResponse, false, false),
  Set: method<SetRequest, SetResponse>('Set', G.SetRequest, G.SetResponse, false, false),
  Subscribe: method<SubscribeRequest, SubscribeResponse>('Subscribe', G.SubscribeRequest, G.SubscribeResponse, true, true),
} satisfies ServiceDefinition;

/** A Duration in milliseconds. */
export function durationMs(d: Duration | undefined): number {
  return Number(d?.seconds ?? 0) * 1000 + Math.floor((d?.nanos ?? 0) / 1e6);
}

/** Milliseconds as a Duration. */
export function msDuration(ms: number): Duration {
  const whole = Math.floor(ms / 1000);
  return { seconds: whole, nanos: Math.round((ms - whole * 1000) * 1e6) };
}

/** "/acl/acl-sets/acl-set[name=x][type=ACL_IPV4]" as a gNMI path. */
export function parsePath(text: string): Path {
  const elem: PathElem[] = [];
  const s = text.startsWith('/') ? text.slice(1) : text;
  let i = 0;
  while (i < s.length) {
    let name = '';
    while (i < s.length && s[i] !== '/' && s[i] !== '[') name += s[i++];
    const e: PathElem = { name };
    while (s[i] === '[') {
      const close = s.indexOf(']', i);
      if (close < 0) throw new Error(`unterminated key in path "${text}"`);
      const kv = s.slice(i + 1, close);
      const eq = kv.indexOf('=');
      if (eq < 0) throw new Error(`key without "=" in path "${text}"`);
      e.key = { ...(e.key ?? {}), [kv.slice(0, eq)]: kv.slice(eq + 1) };
      i = close + 1;
    }
    if (name) elem.push(e);
    if (s[i] === '/') i++;
  }
  return { elem };
}

export function formatPath(p: Path | undefined): string {
  const elems = p?.elem ?? [];
  if (elems.length === 0) return '/';
  return elems
    .map((e) => `/${e.name}${Object.entries(e.key ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `[${k}=${v}]`).join('')}`)
    .join('');
}

/** A prefix and a path joined into one path. */
export function joinPath(prefix: Path | undefined, p: Path | undefined): PathElem[] {
  return [...(prefix?.elem ?? []), ...(p?.elem ?? [])];
}

export function jsonIetfValue(v: TypedValue | undefined): unknown {
  const raw = v?.jsonIetfVal ?? v?.jsonVal;
  if (raw === undefined) throw new Error('value is not JSON_IETF or JSON encoded');
  return JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : Buffer.from(raw, 'base64').toString('utf8'));
}
