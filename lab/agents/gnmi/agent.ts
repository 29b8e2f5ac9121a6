// The emulated OpenConfig switch: a gNMI server (Capabilities, Get, Set,
// Subscribe) over the openconfig-acl and openconfig-defined-sets trees
// (/acl and /defined-sets; acl entries may name prefix-sets and port-sets,
// resolved when the datapath is programmed). A Set is one transaction: its
// deletes, replaces and updates are applied to a copy of the tree, the whole
// result is validated (the same reader Weft's codegen output goes through),
// translated and programmed into the datapath, and only then committed.
// Anything failing on the way leaves the running config untouched. A Set may
// carry the commit-confirmed extension (commit.ts); Capabilities lists it.

import * as grpc from '@grpc/grpc-js';
import { logger } from '../../../orchestrator/log.ts';
import {
  formatPath,
  GNMI_SERVICE,
  joinPath,
  jsonIetfValue,
  type GetRequest,
  type GetResponse,
  type Notification,
  type PathElem,
  type SetRequest,
  type SetResponse,
  type SubscribeRequest,
  type SubscribeResponse,
  type Subscription,
  type Update,
  type UpdateResult,
} from '../../../targets/openconfig/gnmi.ts';
import {
  AclConfigError,
  aclContentJson,
  DEFINED_SETS_MODULE,
  definedSetsContentJson,
  parseAclConfig,
  parseDefinedSets,
  stripPrefix,
  type AclConfig,
} from '../../../targets/openconfig/model.ts';
import type { SwitchDatapath } from '../datapath.ts';
import { aclToSwitchTable, counterId } from './translate.ts';
import { CommitError, commitOf, CommitSlot, type PendingCommit } from './commit.ts';

const log = logger('gnmi-agent');

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

/** YANG list keys of the lists under /acl and /defined-sets. */
const LIST_KEYS: Record<string, string[]> = {
  'acl-set': ['name', 'type'],
  'acl-entry': ['sequence-id'],
  interface: ['id'],
  'ingress-acl-set': ['set-name', 'type'],
  'egress-acl-set': ['set-name', 'type'],
  'ipv4-prefix-set': ['name'],
  'ipv6-prefix-set': ['name'],
  'port-set': ['name'],
};

export interface GnmiAgentOptions {
  /** host:port; port 0 picks a free one. */
  address: string;
  datapath: SwitchDatapath;
  /** The switch's interfaces: bindings to any other are refused. */
  interfaces: string[];
  /** Test hook run after validation and before the datapath is programmed. */
  beforeCommit?: (req: SetRequest) => Promise<void>;
  /** How often ON_CHANGE counter subscriptions look at the datapath (ms). */
  counterPollMs?: number;
  /** Whether the switch implements openconfig-defined-sets (default true); without it /defined-sets is refused. */
  definedSets?: boolean;
  /** Whether the switch implements the commit-confirmed extension (default true); without it a Set carrying it is refused. */
  commitConfirmed?: boolean;
}

export interface GnmiAgent {
  /** The bound address (with the real port). */
  address: string;
  config(): AclConfig;
  /** The commit awaiting confirmation, if any. */
  pendingCommit(): PendingCommit | undefined;
  close(): Promise<void>;
  /** Drops every connection at once, as a crashing switch would. */
  kill(): void;
}

class StatusError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

function isObj(v: Json | undefined): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Strips module prefixes from member names so trees merge by plain names. */
function normalize(v: Json): Json {
  if (Array.isArray(v)) return v.map(normalize);
  if (!isObj(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) out[stripPrefix(k)] = normalize(x);
  return out;
}

function keyMatches(item: Json, key: Record<string, string>): boolean {
  if (!isObj(item)) return false;
  return Object.entries(key).every(([k, want]) => {
    const have = item[k];
    if (have === undefined) return false;
    return want === '*' || stripPrefix(String(have)) === stripPrefix(want);
  });
}

function withKeys(listName: string, key: Record<string, string>, item: Obj, path: string): Obj {
  const names = LIST_KEYS[listName];
  if (!names) throw new StatusError(grpc.status.INVALID_ARGUMENT, `${path}: ${listName} is not a list`);
  const out: Obj = { ...item };
  for (const n of names) {
    if (key[n] === undefined) throw new StatusError(grpc.status.INVALID_ARGUMENT, `${path}: missing key ${n} of ${listName}`);
    if (out[n] === undefined) out[n] = n === 'sequence-id' ? Number(key[n]) : key[n];
  }
  return out;
}

/** Merges `b` into `a`: containers member by member, lists item by key. */
function merge(a: Json | undefined, b: Json, name: string): Json {
  if (Array.isArray(b) && Array.isArray(a) && LIST_KEYS[name]) {
    const keys = LIST_KEYS[name];
    const out = [...a];
    for (const item of b) {
      const key = Object.fromEntries(keys.map((k) => [k, String(isObj(item) ? item[k] : '')]));
      const i = out.findIndex((x) => keyMatches(x, key));
      if (i >= 0) out[i] = merge(out[i], item, name);
      else out.push(item);
    }
    return out;
  }
  if (isObj(a) && isObj(b)) {
    const out: Obj = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = merge(a[k], v, k);
    return out;
  }
  return b;
}

/** A path below one of the agent's roots, without module prefixes; other roots are not served. */
function rootedElems(elems: PathElem[], what: string, roots: readonly string[]): PathElem[] {
  if (elems.length > 0 && !roots.includes(stripPrefix(elems[0].name))) {
    throw new StatusError(grpc.status.UNIMPLEMENTED, `${what} ${formatPath({ elem: elems })}: only ${roots.map((r) => `/${r}`).join(' and ')} are supported by this agent`);
  }
  return elems.map((e) => ({ ...e, name: stripPrefix(e.name) }));
}

type Op = 'replace' | 'update' | 'delete';

/** Applies one operation at `elems` (below /acl) to a copy of `node`; returns the new node. */
function applyAt(node: Json | undefined, elems: PathElem[], op: Op, value: Json | undefined, path: string): Json | undefined {
  if (elems.length === 0) {
    switch (op) {
      case 'delete':
        return undefined;
      case 'replace':
        return value;
      case 'update':
        return merge(node, value as Json, '');
    }
  }
  const [e, ...rest] = elems;
  const container: Obj = isObj(node) ? { ...node } : {};
  if (e.key && Object.keys(e.key).length > 0) {
    const list = Array.isArray(container[e.name]) ? [...(container[e.name] as Json[])] : [];
    const i = list.findIndex((x) => keyMatches(x, e.key!));
    const cur = i >= 0 ? list[i] : undefined;
    if (cur === undefined && op === 'delete') return node;
    let next = applyAt(cur, rest, op, value, path);
    if (next !== undefined) {
      if (!isObj(next)) throw new StatusError(grpc.status.INVALID_ARGUMENT, `${path}: a ${e.name} entry must be an object`);
      next = withKeys(e.name, e.key, next, path);
    }
    if (i >= 0) {
      if (next === undefined) list.splice(i, 1);
      else list[i] = next;
    } else if (next !== undefined) list.push(next);
    container[e.name] = list;
    return container;
  }
  const next = applyAt(container[e.name], rest, op, value, path);
  if (next === undefined) delete container[e.name];
  else container[e.name] = next;
  return container;
}

function getAt(node: Json | undefined, elems: PathElem[]): Json | undefined {
  let cur = node;
  for (const e of elems) {
    if (!isObj(cur)) return undefined;
    cur = cur[e.name];
    if (e.key && Object.keys(e.key).length > 0) {
      if (!Array.isArray(cur)) return undefined;
      cur = cur.find((x) => keyMatches(x, e.key!));
    }
  }
  return cur;
}

function nowNs(): string {
  return (BigInt(Date.now()) * 1_000_000n).toString();
}

function jsonVal(v: Json): Update['val'] {
  return { jsonIetfVal: Buffer.from(JSON.stringify(v)) };
}

function grpcError(e: unknown): grpc.ServiceError {
  if (e instanceof StatusError || e instanceof CommitError) return Object.assign(new Error(e.message), { code: e.code, details: e.message, metadata: new grpc.Metadata() });
  if (e instanceof AclConfigError) {
    return Object.assign(new Error(e.message), { code: grpc.status.INVALID_ARGUMENT, details: `invalid configuration: ${e.message}`, metadata: new grpc.Metadata() });
  }
  const msg = e instanceof Error ? e.message : String(e);
  return Object.assign(new Error(msg), { code: grpc.status.INTERNAL, details: msg, metadata: new grpc.Metadata() });
}

const COUNTER_LEAF = ['acl', 'interfaces', 'interface', 'ingress-acl-sets', 'ingress-acl-set', 'acl-entries', 'acl-entry', 'state', 'matched-packets'];

export async function startGnmiAgent(opts: GnmiAgentOptions): Promise<GnmiAgent> {
  const roots = opts.definedSets === false ? ['acl'] : ['acl', 'defined-sets'];
  const modules: Record<string, string> = { acl: 'openconfig-acl', 'defined-sets': DEFINED_SETS_MODULE };
  /** The running configuration from the root: members `acl` and `defined-sets`. */
  let tree: Obj = { acl: {} };
  let config: AclConfig = { sets: [], interfaces: [] };
  const below = (elems: PathElem[], what: string): PathElem[] => rootedElems(elems, what, roots);
  let writing = false;
  const changeListeners = new Set<() => void>();

  /** Programs the datapath with a validated configuration, then makes it the running one. */
  const install = async (candidate: AclConfig): Promise<void> => {
    try {
      await opts.datapath.program(aclToSwitchTable(candidate));
    } catch (e) {
      throw new StatusError(grpc.status.INTERNAL, `datapath refused the configuration: ${e instanceof Error ? e.message : String(e)}`);
    }
    config = candidate;
    tree = { acl: normalize(aclContentJson(candidate) as Json) };
    if (candidate.definedSets) tree['defined-sets'] = normalize(definedSetsContentJson(candidate.definedSets) as Json);
    for (const l of changeListeners) l();
  };

  const commits = new CommitSlot<AclConfig>(async (saved, why) => {
    if (writing) throw new StatusError(grpc.status.ABORTED, 'a Set is in progress');
    writing = true;
    try {
      await install(saved);
      log.warn({ sets: saved.sets.length, why }, 'configuration from before the commit restored');
    } finally {
      writing = false;
    }
  });

  const isCounterPath = (elems: PathElem[]): boolean =>
    elems.length === COUNTER_LEAF.length && elems.every((e, i) => e.name === COUNTER_LEAF[i]);

  /** Counter leaves matching a (possibly wildcarded) counter path. */
  const counterUpdates = async (elems: PathElem[]): Promise<Update[]> => {
    const counts = await opts.datapath.counters();
    const want = (i: number, k: string, v: string): boolean => {
      const w = elems[i + 1].key?.[k];
      return w === undefined || w === '*' || stripPrefix(w) === stripPrefix(v);
    };
    const sets = new Map(config.sets.map((s) => [`${s.name}|${s.type}`, s]));
    const out: Update[] = [];
    for (const itf of config.interfaces) {
      if (!want(1, 'id', itf.id)) continue;
      for (const ref of itf.ingress) {
        if (!want(3, 'set-name', ref.setName) || !want(3, 'type', ref.type)) continue;
        for (const e of sets.get(`${ref.setName}|${ref.type}`)?.entries ?? []) {
          if (!want(5, 'sequence-id', String(e.seq))) continue;
          const n = counts.get(counterId(itf.id, { name: ref.setName, type: ref.type }, e.seq)) ?? 0n;
          out.push({
            path: {
              elem: [
                { name: 'acl' },
                { name: 'interfaces' },
                { name: 'interface', key: { id: itf.id } },
                { name: 'ingress-acl-sets' },
                { name: 'ingress-acl-set', key: { 'set-name': ref.setName, type: ref.type } },
                { name: 'acl-entries' },
                { name: 'acl-entry', key: { 'sequence-id': String(e.seq) } },
                { name: 'state' },
                { name: 'matched-packets' },
              ],
            },
            val: { uintVal: n.toString() },
          });
        }
      }
    }
    return out;
  };

  const interfacesTree = (): Json => ({
    interface: opts.interfaces.map((name) => ({
      name,
      config: { name, type: 'iana-if-type:ethernetCsmacd' },
      state: { name, 'oper-status': 'UP' },
    })),
  });

  /** Updates for one requested path (config subtree or counter leaves). */
  const updatesFor = async (elems: PathElem[]): Promise<Update[]> => {
    if (elems.length > 0 && stripPrefix(elems[0].name) === 'interfaces') {
      const v = getAt({ interfaces: interfacesTree() }, elems.map((e) => ({ ...e, name: stripPrefix(e.name) })));
      if (v === undefined) throw new StatusError(grpc.status.NOT_FOUND, `${formatPath({ elem: elems })}: no such node`);
      return [{ path: { elem: elems }, val: jsonVal(v) }];
    }
    const path = below(elems, 'get');
    if (isCounterPath(path)) return counterUpdates(path);
    if (elems.length === 0) return [{ path: { elem: [] }, val: jsonVal(Object.fromEntries(Object.entries(tree).map(([k, v]) => [`${modules[k]}:${k}`, v]))) }];
    const v = getAt(tree, path);
    if (v === undefined) throw new StatusError(grpc.status.NOT_FOUND, `${formatPath({ elem: elems })}: no such node`);
    return [{ path: { elem: elems }, val: jsonVal(v) }];
  };

  const set = async (req: SetRequest): Promise<SetResponse> => {
    if (writing) throw new StatusError(grpc.status.ABORTED, 'another Set is in progress; retry');
    const commit = commitOf(req);
    if (commit && opts.commitConfirmed === false) throw new StatusError(grpc.status.UNIMPLEMENTED, 'this switch does not implement the commit-confirmed extension');
    writing = true;
    try {
      if (commit && commit.action !== 'commit') {
        if (req.delete?.length || req.replace?.length || req.update?.length) {
          throw new StatusError(grpc.status.INVALID_ARGUMENT, `a Set carrying ${commit.action} of commit ${commit.id} changes no configuration; send the changes with the commit`);
        }
        writing = false;
        await commits.act(commit);
        log.info({ id: commit.id, action: commit.action }, 'commit action');
        return { response: [], timestamp: nowNs() };
      }
      commits.admit(commit);
      if (commit) CommitSlot.checkRequest(commit);
      const before = config;
      let next: Json | undefined = tree;
      const results: UpdateResult[] = [];
      const steps: [Op, PathElem[], Json | undefined, UpdateResult['op']][] = [
        ...(req.delete ?? []).map((p): [Op, PathElem[], Json | undefined, UpdateResult['op']] => ['delete', joinPath(req.prefix, p), undefined, 'DELETE']),
        ...(req.replace ?? []).map((u): [Op, PathElem[], Json | undefined, UpdateResult['op']] => ['replace', joinPath(req.prefix, u.path), normalize(jsonIetfValue(u.val) as Json), 'REPLACE']),
        ...(req.update ?? []).map((u): [Op, PathElem[], Json | undefined, UpdateResult['op']] => ['update', joinPath(req.prefix, u.path), normalize(jsonIetfValue(u.val) as Json), 'UPDATE']),
      ];
      for (const [op, elems, value, resultOp] of steps) {
        const path = below(elems, op);
        if (elems.length === 0 && op !== 'delete') {
          // A Set at the root carries the module-qualified top containers.
          if (!isObj(value ?? null)) throw new StatusError(grpc.status.INVALID_ARGUMENT, 'the root value must be an object');
          rootedElems(Object.keys(value as Obj).map((name) => ({ name })), op, roots);
        }
        next = applyAt(next, path, op, value, formatPath({ elem: elems })) ?? {};
        results.push({ path: { elem: elems }, op: resultOp });
      }
      const root = isObj(next) ? next : {};
      const definedSets = root['defined-sets'] === undefined ? undefined : parseDefinedSets(root['defined-sets']);
      const candidate = parseAclConfig(root.acl ?? {}, opts.interfaces, definedSets);
      if (opts.beforeCommit) await opts.beforeCommit(req);
      await install(candidate);
      const pending = commit ? commits.arm(commit, before) : undefined;
      log.info({ sets: config.sets.length, interfaces: config.interfaces.length, commit: pending?.id, rollbackAt: pending && new Date(pending.deadline).toISOString() }, 'acl configuration committed');
      return { response: results, timestamp: nowNs() };
    } finally {
      writing = false;
    }
  };

  const server = new grpc.Server();
  server.addService(GNMI_SERVICE, {
    Capabilities: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      cb(null, {
        supportedModels: [
          { name: 'openconfig-acl', organization: 'OpenConfig working group', version: '1.3.3' },
          { name: 'openconfig-packet-match', organization: 'OpenConfig working group', version: '2.3.0' },
          ...(opts.definedSets === false ? [] : [{ name: DEFINED_SETS_MODULE, organization: 'OpenConfig working group', version: '1.1.0' }]),
          { name: 'openconfig-interfaces', organization: 'OpenConfig working group', version: '3.7.1' },
        ],
        supportedEncodings: ['JSON_IETF', 'JSON'],
        gNMIVersion: '0.10.0',
        extension: opts.commitConfirmed === false ? [] : [{ commit: {} }],
      });
    },
    Get: (call: grpc.ServerUnaryCall<GetRequest, GetResponse>, cb: grpc.sendUnaryData<GetResponse>) => {
      void (async () => {
        const enc = call.request.encoding ?? 'JSON';
        if (enc !== 'JSON_IETF' && enc !== 'JSON') throw new StatusError(grpc.status.UNIMPLEMENTED, `encoding ${enc} is not supported (JSON_IETF, JSON)`);
        const notification: Notification[] = [];
        for (const p of call.request.path?.length ? call.request.path : [{}]) {
          notification.push({ timestamp: nowNs(), update: await updatesFor(joinPath(call.request.prefix, p)) });
        }
        return { notification };
      })().then(
        (r) => cb(null, r),
        (e) => cb(grpcError(e)),
      );
    },
    Set: (call: grpc.ServerUnaryCall<SetRequest, SetResponse>, cb: grpc.sendUnaryData<SetResponse>) => {
      set(call.request).then(
        (r) => cb(null, r),
        (e) => {
          log.warn({ err: e instanceof Error ? e.message : String(e) }, 'set refused; running configuration unchanged');
          cb(grpcError(e));
        },
      );
    },
    Subscribe: (call: grpc.ServerDuplexStream<SubscribeRequest, SubscribeResponse>) => {
      const timers: NodeJS.Timeout[] = [];
      let list: SubscribeRequest['subscribe'];
      let onChange: (() => void) | undefined;
      const stop = (): void => {
        for (const t of timers) clearInterval(t);
        if (onChange) changeListeners.delete(onChange);
      };
      const fail = (e: unknown): void => {
        stop();
        call.destroy(grpcError(e));
      };
      const send = async (subs: Subscription[]): Promise<void> => {
        const update: Update[] = [];
        for (const s of subs) update.push(...(await updatesFor(joinPath(list?.prefix, s.path))));
        if (update.length > 0 && !call.writableEnded) call.write({ update: { timestamp: nowNs(), update } });
      };
      const sync = (): void => {
        if (!call.writableEnded) call.write({ syncResponse: true });
      };
      call.on('data', (req: SubscribeRequest) => {
        void (async () => {
          if (req.subscribe) {
            if (list) throw new StatusError(grpc.status.INVALID_ARGUMENT, 'a second SubscriptionList on one stream');
            list = req.subscribe;
            const subs = list.subscription ?? [];
            if (subs.length === 0) throw new StatusError(grpc.status.INVALID_ARGUMENT, 'empty subscription list');
            const mode = list.mode ?? 'STREAM';
            if (!list.updatesOnly) await send(subs);
            sync();
            if (mode === 'ONCE') {
              call.end();
              return;
            }
            if (mode === 'POLL') return;
            const onChangeConfig: Subscription[] = [];
            for (const s of subs) {
              const elems = joinPath(list.prefix, s.path);
              const counters = isCounterPath(below(elems, 'subscribe'));
              if (s.mode === 'SAMPLE') {
                const ms = Math.max(10, Number(BigInt(s.sampleInterval ?? 0) / 1_000_000n) || 1000);
                timers.push(setInterval(() => void send([s]).catch(fail), ms));
              } else if (counters) {
                // ON_CHANGE for counters: look often, send only the leaves that moved.
                const snapshot = async (): Promise<{ ups: Update[]; now: Map<string, string> }> => {
                  const ups = await updatesFor(elems);
                  return { ups, now: new Map(ups.map((u) => [formatPath(u.path), String(u.val?.uintVal ?? '')])) };
                };
                let last = (await snapshot()).now;
                const look = async (): Promise<void> => {
                  const { ups, now } = await snapshot();
                  const moved = ups.filter((u) => last.get(formatPath(u.path)) !== now.get(formatPath(u.path)));
                  last = now;
                  if (moved.length > 0 && !call.writableEnded) call.write({ update: { timestamp: nowNs(), update: moved } });
                };
                timers.push(setInterval(() => void look().catch(fail), opts.counterPollMs ?? 100));
              } else onChangeConfig.push(s);
            }
            if (onChangeConfig.length > 0) {
              onChange = () => void send(onChangeConfig).catch(fail);
              changeListeners.add(onChange);
            }
          } else if (req.poll !== undefined) {
            if (!list || (list.mode ?? 'STREAM') !== 'POLL') throw new StatusError(grpc.status.FAILED_PRECONDITION, 'poll on a stream that is not in POLL mode');
            await send(list.subscription ?? []);
            sync();
          }
        })().catch(fail);
      });
      call.on('end', () => {
        stop();
        if (!call.writableEnded) call.end();
      });
      call.on('cancelled', stop);
      call.on('error', stop);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(opts.address, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const host = opts.address.slice(0, opts.address.lastIndexOf(':'));
  log.info({ address: `${host}:${port}` }, 'gnmi agent listening');
  return {
    address: `${host}:${port}`,
    config: () => config,
    pendingCommit: () => commits.current(),
    close: () =>
      new Promise<void>((resolve) => {
        commits.close();
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 2000).unref();
      }),
    kill: () => {
      commits.close();
      server.forceShutdown();
    },
  };
}
