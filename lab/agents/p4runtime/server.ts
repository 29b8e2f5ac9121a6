// The emulated P4 switch agent: a real p4.v1.P4Runtime gRPC server for Weft's
// pipeline. It behaves as the P4Runtime specification asks where Weft
// depends on it:
//   - StreamChannel arbitration per (device id, role): the highest election
//     id is primary (answered OK), every other stream is told ALREADY_EXISTS
//     and its Write / SetForwardingPipelineConfig get PERMISSION_DENIED;
//   - SetForwardingPipelineConfig checks the P4Info it is given (VERIFY,
//     VERIFY_AND_COMMIT, VERIFY_AND_SAVE + COMMIT, RECONCILE_AND_COMMIT) and
//     keeps the p4_device_config and cookie as given (the emulated datapath
//     runs no compiled program), returning them on GetForwardingPipelineConfig
//     as its response_type asks;
//   - Write validates every update (INSERT of an existing key:
//     ALREADY_EXISTS, MODIFY/DELETE of a missing one: NOT_FOUND, malformed:
//     INVALID_ARGUMENT, over the table size: RESOURCE_EXHAUSTED).
// Atomicity as PI (the P4Runtime server of bmv2 and most switches) does it:
// only CONTINUE_ON_ERROR; any other mode is refused with UNIMPLEMENTED. Each
// update is applied or refused on its own; a batch with a refused update is
// answered UNKNOWN with a google.rpc.Status in grpc-status-details-bin
// holding one p4.v1.Error per update (OK for those applied). The datapath
// takes the batch's resulting table at once. A direct counter is read back
// with its entry's key only (no action), as PI sends it. The policy
// generation is weft_gen's default action: a MODIFY of that default entry
// (is_default_action) flips it, a read of it returns it, and only the active
// generation's entries enforce. The committed ACL and classifier tables of
// the active generation are translated together into a SwitchAclTable
// (translate.ts) and handed to the node's SwitchDatapath.

import * as grpc from '@grpc/grpc-js';
import { logger } from '../../../orchestrator/log.ts';
import type { SwitchAclTable, SwitchDatapath } from '../datapath.ts';
import { entryKey, fromBytes, toBytes, p4EntryFromProto, p4EntryKey, p4EntryToJson, type AclEntry, type ClassEntry, type P4Entry, type TableEntryLike } from '../../../targets/p4/entries.ts';
import { pipelineFromP4Info, type P4InfoObject, type Pipeline } from '../../../targets/p4/p4info.ts';
import {
  encodeWriteErrors,
  P4RUNTIME_SERVICE,
  STATUS_DETAILS_KEY,
  uint128ToBigint,
  bigintToUint128,
  type Uint128Object,
} from '../../../targets/p4/service.ts';
import { T } from '../../../targets/p4/proto.ts';
import { p4TablesToSwitchTable } from './translate.ts';

const log = logger('p4runtime-agent');

export interface P4RuntimeAgentOptions {
  /** host:port to listen on; port 0 picks a free one. */
  address: string;
  deviceId: number;
  datapath: SwitchDatapath;
  /** Interface name -> P4 port number; default: ethN is port N. */
  portMap?: Record<string, number>;
  /** Entries the table really holds when fewer than the P4Info declares (a TCAM shared with other features). */
  tableSize?: number;
  /** Runs before a Write that flips the policy generation is applied (fault tests); a throw refuses the whole Write, nothing applied. */
  beforeFlip?: () => Promise<void>;
}

export interface P4RuntimeAgent {
  /** host:port actually bound. */
  address: string;
  port: number;
  /** Committed ACL entries, for tests and status. */
  entries(): AclEntry[];
  /** Committed classifier entries. */
  classEntries(): ClassEntry[];
  /** The active policy generation (weft_gen's default action). */
  generation(): number;
  close(): Promise<void>;
  /** Drops every client connection at once (a lost link), for fault tests. */
  dropConnections(): void;
}

type Code = number;
class UpdateFailure extends Error {
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
  }
}

interface Stream {
  call: grpc.ServerDuplexStream<object, object>;
  deviceId: bigint;
  role: string;
  electionId: bigint;
}

/** A committed or saved pipeline: the device config is the target's compiled program, kept as given and returned on Get. */
interface PipelineState {
  info: P4InfoObject;
  pipe: Pipeline;
  deviceConfig?: Buffer;
  cookie?: string;
}

interface UpdateObject {
  type?: string;
  entity?: { tableEntry?: TableEntryLike & { isDefaultAction?: boolean } };
}

export async function startP4RuntimeAgent(opts: P4RuntimeAgentOptions): Promise<P4RuntimeAgent> {
  const deviceId = BigInt(opts.deviceId);
  let pipeline: PipelineState | undefined;
  let saved: PipelineState | undefined;
  let table = new Map<string, P4Entry>();
  let generation = 0;
  const streams = new Set<Stream>();
  const numberToName = new Map<number, string>();
  for (const [name, n] of Object.entries(opts.portMap ?? {})) numberToName.set(n, name);
  const portName = (n: number): string => numberToName.get(n) ?? `eth${n}`;
  const knownPorts = (): number[] => (opts.portMap ? [...numberToName.keys()] : [...Array(511).keys()]);

  const primaryOf = (role: string): Stream | undefined => {
    let best: Stream | undefined;
    for (const s of streams) if (s.role === role && (!best || s.electionId > best.electionId)) best = s;
    return best;
  };
  const announce = (role: string): void => {
    const primary = primaryOf(role);
    for (const s of streams) {
      if (s.role !== role) continue;
      const isPrimary = s === primary;
      s.call.write({
        arbitration: {
          deviceId: deviceId.toString(),
          role: role ? { name: role } : undefined,
          electionId: primary ? bigintToUint128(primary.electionId) : undefined,
          status: isPrimary ? { code: grpc.status.OK, message: 'primary' } : { code: grpc.status.ALREADY_EXISTS, message: 'backup: a higher election id is primary' },
        },
      });
    }
  };

  /** Checks that a request comes from the primary of its role. */
  const checkPrimary = (req: { deviceId?: string; electionId?: Uint128Object; role?: string }): void => {
    if (BigInt(req.deviceId ?? 0) !== deviceId) throw new UpdateFailure(grpc.status.NOT_FOUND, `unknown device id ${req.deviceId ?? 0} (this is device ${deviceId})`);
    const role = req.role ?? '';
    const primary = primaryOf(role);
    const eid = uint128ToBigint(req.electionId);
    if (!primary || eid === undefined || eid !== primary.electionId) {
      throw new UpdateFailure(grpc.status.PERMISSION_DENIED, `election id ${eid ?? 'none'} is not the primary's for role "${role}"`);
    }
  };

  /** What enforces: the entries of the active generation only. */
  const toSwitchTable = (entries: P4Entry[], pipe: Pipeline, gen: number): SwitchAclTable => {
    const active = entries.filter((e) => (e.entry.gen ?? 0) === gen);
    return p4TablesToSwitchTable(aclOf(active), classesOf(active), pipe, knownPorts(), portName);
  };

  const fail = (cb: (err: Partial<grpc.StatusObject> | null) => void, e: unknown): void => {
    if (e instanceof UpdateFailure) cb({ code: e.code, details: e.message });
    else cb({ code: grpc.status.INTERNAL, details: e instanceof Error ? e.message : String(e) });
  };

  const impl: grpc.UntypedServiceImplementation = {
    StreamChannel(call: grpc.ServerDuplexStream<object, object>) {
      let me: Stream | undefined;
      const leave = (): void => {
        if (!me) return;
        streams.delete(me);
        const role = me.role;
        me = undefined;
        announce(role);
      };
      call.on('data', (msg: { arbitration?: { deviceId?: string; role?: { name?: string }; electionId?: Uint128Object } }) => {
        const arb = msg.arbitration;
        if (!arb) return;
        if (BigInt(arb.deviceId ?? 0) !== deviceId) {
          call.emit('error', { code: grpc.status.NOT_FOUND, details: `unknown device id ${arb.deviceId ?? 0}` });
          return;
        }
        const eid = uint128ToBigint(arb.electionId);
        if (eid === undefined) {
          call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'arbitration without an election id' });
          return;
        }
        const role = arb.role?.name ?? '';
        for (const s of streams) {
          if (s !== me && s.role === role && s.electionId === eid) {
            call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: `election id ${eid} is already used by another client` });
            return;
          }
        }
        if (me && me.role !== role) leave();
        if (!me) {
          me = { call, deviceId, role, electionId: eid };
          streams.add(me);
        } else me.electionId = eid;
        announce(role);
      });
      call.on('end', () => {
        leave();
        call.end();
      });
      call.on('error', leave);
      call.on('cancelled', leave);
      call.on('close', leave);
    },

    SetForwardingPipelineConfig(call: grpc.ServerUnaryCall<Record<string, never>, object>, cb: grpc.sendUnaryData<object>) {
      const req = call.request as { deviceId?: string; electionId?: Uint128Object; role?: string; action?: string; config?: { p4info?: P4InfoObject; p4DeviceConfig?: Buffer; cookie?: { cookie?: string } } };
      (async () => {
        checkPrimary(req);
        const action = req.action ?? 'UNSPECIFIED';
        const verify = (): PipelineState => {
          if (!req.config?.p4info) throw new UpdateFailure(grpc.status.INVALID_ARGUMENT, 'no p4info in the config');
          try {
            const dc = req.config.p4DeviceConfig;
            return { info: req.config.p4info, pipe: pipelineFromP4Info(req.config.p4info), deviceConfig: dc && dc.length > 0 ? Buffer.from(dc) : undefined, cookie: req.config.cookie?.cookie };
          } catch (e) {
            throw new UpdateFailure(grpc.status.INVALID_ARGUMENT, `this switch runs Weft's ACL pipeline only: ${(e as Error).message}`);
          }
        };
        const commit = async (next: PipelineState, keep: boolean): Promise<void> => {
          const nextTable = keep ? table : new Map<string, P4Entry>();
          const nextGen = keep ? generation : 0;
          await opts.datapath.program(toSwitchTable([...nextTable.values()], next.pipe, nextGen));
          pipeline = next;
          table = nextTable;
          generation = nextGen;
        };
        switch (action) {
          case 'VERIFY':
            verify();
            break;
          case 'VERIFY_AND_SAVE':
            saved = verify();
            break;
          case 'VERIFY_AND_COMMIT':
            await commit(verify(), false);
            break;
          case 'COMMIT':
            if (!saved) throw new UpdateFailure(grpc.status.FAILED_PRECONDITION, 'COMMIT without a saved config (use VERIFY_AND_SAVE first)');
            await commit(saved, false);
            saved = undefined;
            break;
          case 'RECONCILE_AND_COMMIT': {
            const next = verify();
            // The entries survive when the program's shape is unchanged.
            const same = pipeline !== undefined && JSON.stringify(T.P4Info.toObject(T.P4Info.fromObject(pipeline.info))) === JSON.stringify(T.P4Info.toObject(T.P4Info.fromObject(next.info)));
            await commit(next, same);
            break;
          }
          default:
            throw new UpdateFailure(grpc.status.INVALID_ARGUMENT, `unsupported pipeline action ${action}`);
        }
        log.info({ device: opts.deviceId, action }, 'pipeline config');
        return {};
      })().then((r) => cb(null, r), (e) => fail(cb, e));
    },

    GetForwardingPipelineConfig(call: grpc.ServerUnaryCall<Record<string, never>, object>, cb: grpc.sendUnaryData<object>) {
      const req = call.request as { deviceId?: string; responseType?: string };
      if (BigInt(req.deviceId ?? 0) !== deviceId) return cb({ code: grpc.status.NOT_FOUND, details: `unknown device id ${req.deviceId ?? 0}` });
      if (!pipeline) return cb({ code: grpc.status.FAILED_PRECONDITION, details: 'no forwarding pipeline config set' });
      const type = req.responseType ?? 'ALL';
      if (type !== 'ALL' && type !== 'COOKIE_ONLY' && type !== 'P4INFO_AND_COOKIE' && type !== 'DEVICE_CONFIG_AND_COOKIE') {
        return cb({ code: grpc.status.INVALID_ARGUMENT, details: `unknown response_type ${type}` });
      }
      cb(null, {
        config: {
          p4info: type === 'ALL' || type === 'P4INFO_AND_COOKIE' ? pipeline.info : undefined,
          p4DeviceConfig: type === 'ALL' || type === 'DEVICE_CONFIG_AND_COOKIE' ? pipeline.deviceConfig : undefined,
          cookie: pipeline.cookie ? { cookie: pipeline.cookie } : undefined,
        },
      });
    },

    Write(call: grpc.ServerUnaryCall<Record<string, never>, object>, cb: grpc.sendUnaryData<object>) {
      const req = call.request as { deviceId?: string; electionId?: Uint128Object; role?: string; updates?: UpdateObject[]; atomicity?: string };
      (async () => {
        checkPrimary(req);
        if ((req.atomicity ?? 'CONTINUE_ON_ERROR') !== 'CONTINUE_ON_ERROR') {
          throw new UpdateFailure(grpc.status.UNIMPLEMENTED, 'Support for atomic write modes has not been implemented yet');
        }
        if (!pipeline) throw new UpdateFailure(grpc.status.FAILED_PRECONDITION, 'no forwarding pipeline config set');
        const pipe = pipeline.pipe;
        const updates = req.updates ?? [];
        if (opts.beforeFlip && updates.some((u) => u.entity?.tableEntry?.isDefaultAction)) {
          await opts.beforeFlip().catch((e: unknown) => {
            throw new UpdateFailure(grpc.status.UNAVAILABLE, `write not applied: ${(e as Error).message}`);
          });
        }
        const staged = new Map(table);
        let stagedGen = generation;
        const results: { code: number; message: string }[] = [];
        for (const u of updates) {
          try {
            if (u.entity?.tableEntry?.isDefaultAction) stagedGen = generationOfDefault(u, pipe);
            else applyUpdate(staged, u, opts.tableSize === undefined ? pipe : { ...pipe, size: Math.min(pipe.size, opts.tableSize) });
            results.push({ code: grpc.status.OK, message: '' });
          } catch (e) {
            const f = e instanceof UpdateFailure ? e : new UpdateFailure(grpc.status.INVALID_ARGUMENT, (e as Error).message);
            results.push({ code: f.code, message: f.message });
          }
        }
        const failed = results.filter((r) => r.code !== grpc.status.OK).length;
        if (failed < updates.length) {
          await opts.datapath.program(toSwitchTable([...staged.values()], pipe, stagedGen));
          table = staged;
          generation = stagedGen;
        }
        log.info({ device: opts.deviceId, updates: updates.length, failed, entries: table.size, generation }, 'write applied');
        if (failed > 0) {
          const md = new grpc.Metadata();
          md.set(STATUS_DETAILS_KEY, encodeWriteErrors(`${failed} of ${updates.length} updates failed`, results));
          throw Object.assign(new UpdateFailure(grpc.status.UNKNOWN, `${failed} of ${updates.length} updates failed; the others were applied`), { metadata: md });
        }
        return {};
      })().then(
        (r) => cb(null, r),
        (e) => {
          const md = (e as { metadata?: grpc.Metadata }).metadata;
          if (md && e instanceof UpdateFailure) cb({ code: e.code, details: e.message, metadata: md });
          else if (e instanceof UpdateFailure) fail(cb, e);
          else cb({ code: grpc.status.INTERNAL, details: `datapath refused the table, nothing applied: ${(e as Error).message}` });
        },
      );
    },

    Read(call: grpc.ServerWritableStream<Record<string, never>, object>) {
      const req = call.request as { deviceId?: string; entities?: { tableEntry?: TableEntryLike; directCounterEntry?: { tableEntry?: TableEntryLike } }[] };
      (async () => {
        if (BigInt(req.deviceId ?? 0) !== deviceId) throw new UpdateFailure(grpc.status.NOT_FOUND, `unknown device id ${req.deviceId ?? 0}`);
        if (!pipeline) throw new UpdateFailure(grpc.status.FAILED_PRECONDITION, 'no forwarding pipeline config set');
        const pipe = pipeline.pipe;
        const counters = await opts.datapath.counters();
        const out: object[] = [];
        for (const ent of req.entities ?? []) {
          const te = ent.tableEntry ?? ent.directCounterEntry?.tableEntry;
          if (!te) throw new UpdateFailure(grpc.status.UNIMPLEMENTED, 'only table entries and direct counters can be read');
          if (ent.directCounterEntry && te.tableId && te.tableId !== pipe.tableId) throw new UpdateFailure(grpc.status.INVALID_ARGUMENT, `table ${te.tableId} has no direct counter`);
          if ((te as { isDefaultAction?: boolean }).isDefaultAction) {
            out.push({ tableEntry: defaultEntryOf(te.tableId ?? 0, pipe, generation) });
            continue;
          }
          for (const e of filterEntries(table, te, pipe)) {
            const json = p4EntryToJson(e, pipe);
            if (ent.tableEntry) out.push({ tableEntry: json });
            else if (e.kind === 'acl') out.push({ directCounterEntry: { tableEntry: { tableId: json.tableId, match: json.match, priority: json.priority }, data: { packetCount: String(counters.get(entryKey(e.entry)) ?? 0n), byteCount: '0' } } });
          }
        }
        // Stream in chunks so a large table stays under message limits.
        for (let i = 0; i < out.length || i === 0; i += 1000) call.write({ entities: out.slice(i, i + 1000) });
        call.end();
      })().catch((e) => {
        const f = e instanceof UpdateFailure ? e : new UpdateFailure(grpc.status.INTERNAL, (e as Error).message);
        call.emit('error', { code: f.code, details: f.message });
      });
    },

    Capabilities(_call: grpc.ServerUnaryCall<object, object>, cb: grpc.sendUnaryData<object>) {
      cb(null, { p4runtimeApiVersion: '1.4.0' });
    },
  };

  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 64 * 1024 * 1024 });
  server.addService(P4RUNTIME_SERVICE, impl);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(opts.address, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  const host = opts.address.slice(0, opts.address.lastIndexOf(':'));
  log.info({ device: opts.deviceId, address: `${host}:${port}` }, 'p4runtime agent listening');
  return {
    address: `${host}:${port}`,
    port,
    entries: () => aclOf([...table.values()]),
    classEntries: () => classesOf([...table.values()]),
    generation: () => generation,
    dropConnections: () => {
      for (const s of [...streams]) s.call.destroy(new Error('connection dropped'));
      server.forceShutdown();
    },
    close: async () => {
      for (const s of [...streams]) s.call.end();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await opts.datapath.close();
    },
  };
}

function aclOf(entries: P4Entry[]): AclEntry[] {
  return entries.flatMap((e) => (e.kind === 'acl' ? [e.entry] : []));
}

function classesOf(entries: P4Entry[]): ClassEntry[] {
  return entries.flatMap((e) => (e.kind === 'class' ? [e.entry] : []));
}

/** The table an entry belongs to: its id and size, for the full-table check. */
function tableOf(e: P4Entry, pipe: Pipeline): { id: number; name: string; size: number } {
  if (e.kind === 'acl') return { id: pipe.tableId, name: pipe.tableName, size: pipe.size };
  const t = pipe.classifiers[e.entry.table];
  return { id: t.tableId, name: t.name, size: t.size };
}

/** A DELETE or a read names its entry by key (match and priority); PI needs no action there, so a placeholder one is filled in. */
function withPlaceholderAction(te: TableEntryLike, pipe: Pipeline): TableEntryLike {
  if (te.action) return te;
  const c = pipe.classifierById.get(te.tableId ?? 0);
  return { ...te, action: { action: c ? { actionId: c.actionId, params: [{ paramId: c.paramId, value: Buffer.alloc(1) }] } : { actionId: pipe.permitId } } };
}

/** Applies one update to the staged tables, or throws the P4Runtime error for it. */
function applyUpdate(staged: Map<string, P4Entry>, u: UpdateObject, pipe: Pipeline): void {
  const te = u.entity?.tableEntry;
  if (!te) throw new UpdateFailure(grpc.status.UNIMPLEMENTED, 'only table entries can be written');
  let entry: P4Entry;
  try {
    entry = p4EntryFromProto(u.type === 'DELETE' ? withPlaceholderAction(te, pipe) : te, pipe);
  } catch (e) {
    throw new UpdateFailure(grpc.status.INVALID_ARGUMENT, (e as Error).message);
  }
  const key = p4EntryKey(entry);
  switch (u.type) {
    case 'INSERT': {
      if (staged.has(key)) throw new UpdateFailure(grpc.status.ALREADY_EXISTS, `entry ${key} already exists`);
      const t = tableOf(entry, pipe);
      const used = [...staged.values()].filter((x) => tableOf(x, pipe).id === t.id).length;
      if (used >= t.size) throw new UpdateFailure(grpc.status.RESOURCE_EXHAUSTED, `table ${t.name} is full (${t.size} entries)`);
      staged.set(key, entry);
      break;
    }
    case 'MODIFY':
      if (!staged.has(key)) throw new UpdateFailure(grpc.status.NOT_FOUND, `entry ${key} does not exist`);
      staged.set(key, entry);
      break;
    case 'DELETE':
      if (!staged.delete(key)) throw new UpdateFailure(grpc.status.NOT_FOUND, `entry ${key} does not exist`);
      break;
    default:
      throw new UpdateFailure(grpc.status.INVALID_ARGUMENT, `update type ${u.type ?? 'UNSPECIFIED'} is not INSERT, MODIFY or DELETE`);
  }
}

/** The generation a write of weft_gen's default entry selects; every other table's default action is fixed. */
function generationOfDefault(u: UpdateObject, pipe: Pipeline): number {
  const te = u.entity!.tableEntry!;
  const flag = pipe.generation;
  if (te.tableId !== flag.tableId) throw new UpdateFailure(grpc.status.INVALID_ARGUMENT, `the default action of table ${te.tableId ?? 0} is fixed; only weft_gen's can be modified`);
  if (u.type !== 'MODIFY') throw new UpdateFailure(grpc.status.INVALID_ARGUMENT, `a default entry can only be modified, not ${u.type ?? 'UNSPECIFIED'}`);
  if (te.match?.length || te.priority) throw new UpdateFailure(grpc.status.INVALID_ARGUMENT, 'a default entry has no match and no priority');
  const act = te.action?.action;
  const param = act?.params?.find((p) => p.paramId === flag.paramId);
  if (act?.actionId !== flag.actionId || act.params?.length !== 1 || !param) throw new UpdateFailure(grpc.status.INVALID_ARGUMENT, `weft_gen's default action is set_gen (id ${flag.actionId}) with its one parameter (id ${flag.paramId})`);
  const gen = fromBytes(typeof param.value === 'string' ? Buffer.from(param.value, 'base64') : (param.value ?? new Uint8Array()));
  if (gen >= BigInt(flag.count)) throw new UpdateFailure(grpc.status.INVALID_ARGUMENT, `generation ${gen} outside 0-${flag.count - 1}`);
  return Number(gen);
}

/** A table's default entry as a read returns it: weft_gen's names the generation; the others' are fixed. */
function defaultEntryOf(tableId: number, pipe: Pipeline, gen: number): object {
  if (tableId !== pipe.generation.tableId) throw new UpdateFailure(grpc.status.UNIMPLEMENTED, `only weft_gen's default entry (table ${pipe.generation.tableId}) can be read`);
  return { tableId, isDefaultAction: true, action: { action: { actionId: pipe.generation.actionId, params: [{ paramId: pipe.generation.paramId, value: toBytes(BigInt(gen)).toString('base64') }] } } };
}

/** Read filter: table id 0 means every table; a match (with priority) selects that one entry. */
function filterEntries(table: Map<string, P4Entry>, te: TableEntryLike, pipe: Pipeline): P4Entry[] {
  if (te.tableId === pipe.generation.tableId) return [];
  if (te.tableId && te.tableId !== pipe.tableId && !pipe.classifierById.has(te.tableId)) throw new UpdateFailure(grpc.status.NOT_FOUND, `unknown table id ${te.tableId}`);
  const inTable = [...table.values()].filter((e) => !te.tableId || tableOf(e, pipe).id === te.tableId);
  const priority = (e: P4Entry): number => (e.kind === 'acl' ? e.entry.priority : 0);
  const all = inTable.sort((a, b) => priority(b) - priority(a) || (p4EntryKey(a) < p4EntryKey(b) ? -1 : 1));
  if (!te.match?.length || !te.tableId) return all;
  let want: P4Entry;
  try {
    want = p4EntryFromProto(withPlaceholderAction({ ...te, action: undefined }, pipe), pipe);
  } catch (e) {
    throw new UpdateFailure(grpc.status.INVALID_ARGUMENT, (e as Error).message);
  }
  const hit = table.get(p4EntryKey(want));
  return hit ? [hit] : [];
}
