// P4Runtime client over @grpc/grpc-js: opens the StreamChannel and wins (or
// loses) arbitration with an election id, sets the forwarding pipeline,
// writes batches and decodes per-update errors from the status details
// trailer, and reads entries and direct counters back. Writes are
// CONTINUE_ON_ERROR: the P4Runtime servers in the field (PI, behind bmv2 and
// most switches) implement no other atomicity, so all-or-nothing is the
// caller's job (targets/p4/transition.ts).

import * as grpc from '@grpc/grpc-js';
import { logger } from '../../orchestrator/log.ts';
import { channelTarget, SWITCH_CHANNEL_OPTIONS } from '../switch-common/grpc-channel.ts';
import { entryFromProto, type AclEntry, type TableEntryLike } from './entries.ts';
import { PIPELINE, type P4InfoObject } from './p4info.ts';
import { keyString, wireEntry, type WireEntry } from './table-entry.ts';
import {
  bigintToUint128,
  codeName,
  decodeWriteErrors,
  P4RUNTIME_SERVICE,
  STATUS_DETAILS_KEY,
  uint128ToBigint,
  type Uint128Object,
  type UpdateStatus,
} from './service.ts';

const log = logger('p4runtime-client');

const MAX_MESSAGE = 64 * 1024 * 1024;

/** Extra deadline per update of a Write: a software switch takes milliseconds per entry. */
const WRITE_MS_PER_UPDATE = 10;

export type Atomicity = 'CONTINUE_ON_ERROR' | 'ROLLBACK_ON_ERROR' | 'DATAPLANE_ATOMIC';
export type PipelineAction = 'VERIFY' | 'VERIFY_AND_SAVE' | 'VERIFY_AND_COMMIT' | 'COMMIT' | 'RECONCILE_AND_COMMIT';
export type PipelineResponseType = 'ALL' | 'COOKIE_ONLY' | 'P4INFO_AND_COOKIE' | 'DEVICE_CONFIG_AND_COOKIE';

/** A ForwardingPipelineConfig as read back; each part only when the device sent it. */
export interface PipelineConfig {
  p4info?: P4InfoObject;
  deviceConfig?: Uint8Array;
  cookie?: bigint;
}

/** A Write the device refused, with every update's outcome (index into the batch). */
export class P4WriteError extends Error {
  constructor(
    readonly device: string,
    readonly code: number,
    readonly updates: UpdateStatus[],
    detail: string,
  ) {
    const failed = updates.filter((u) => u.code !== 0 && u.code !== 10);
    const shown = failed
      .slice(0, 5)
      .map((u) => `update ${u.index}: ${codeName(u.code)}: ${u.message}`)
      .join('; ');
    super(`${device}: write refused (${codeName(code)}): ${detail}${shown ? `: ${shown}` : ''}${failed.length > 5 ? ` and ${failed.length - 5} more` : ''}`);
    this.name = 'P4WriteError';
  }
}

/** Any other RPC failure, with the gRPC code. */
export class P4RpcError extends Error {
  constructor(
    readonly device: string,
    readonly rpc: string,
    readonly code: number,
    detail: string,
  ) {
    super(`${device}: ${rpc} failed (${codeName(code)}): ${detail}`);
    this.name = 'P4RpcError';
  }
}

export interface ConnectOptions {
  address: string;
  deviceId: number;
  electionId: bigint;
  role?: string;
  /** For messages: the device's name in the inventory. */
  name?: string;
  timeoutMs?: number;
}

interface StreamResponse {
  arbitration?: { deviceId?: string; electionId?: Uint128Object; status?: { code?: number; message?: string } };
  error?: { canonicalCode?: number; message?: string };
}

export class P4RuntimeClient {
  private primary = false;
  private primaryWaiters: ((ok: boolean) => void)[] = [];
  private closed = false;
  /** Calls in flight, cancelled by close() so a lost controller never leaves a call waiting. */
  private readonly inflight = new Set<grpc.Call>();

  private constructor(
    private readonly client: grpc.Client,
    private readonly stream: grpc.ClientDuplexStream<object, StreamResponse>,
    readonly opts: Required<Omit<ConnectOptions, 'role'>> & { role: string },
  ) {}

  get name(): string {
    return this.opts.name;
  }

  /** True while this client holds the highest election id for its device and role. */
  get isPrimary(): boolean {
    return this.primary;
  }

  /**
   * Connects and arbitrates. Resolves once the device has answered the
   * arbitration (primary or backup); rejects if it cannot be reached.
   */
  static async connect(opts: ConnectOptions): Promise<P4RuntimeClient> {
    const full: P4RuntimeClient['opts'] = { ...opts, name: opts.name ?? opts.address, role: opts.role ?? '', timeoutMs: opts.timeoutMs ?? 10_000 };
    const client = new grpc.Client(channelTarget(opts.address), grpc.credentials.createInsecure(), {
      ...SWITCH_CHANNEL_OPTIONS,
      'grpc.max_send_message_length': MAX_MESSAGE,
      'grpc.max_receive_message_length': MAX_MESSAGE,
    });
    await new Promise<void>((resolve, reject) => {
      client.waitForReady(Date.now() + full.timeoutMs, (err) => (err ? reject(new P4RpcError(full.name, 'connect', grpc.status.UNAVAILABLE, `${opts.address}: ${err.message}`)) : resolve()));
    }).catch((e) => {
      client.close();
      throw e;
    });
    const m = P4RUNTIME_SERVICE.StreamChannel;
    const stream = client.makeBidiStreamRequest(m.path, m.requestSerialize, m.responseDeserialize as (b: Buffer) => StreamResponse);
    const c = new P4RuntimeClient(client, stream, full);
    const first = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new P4RpcError(full.name, 'arbitration', grpc.status.DEADLINE_EXCEEDED, 'no arbitration answer')), full.timeoutMs);
      c.primaryWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      stream.on('error', (e: grpc.ServiceError) => {
        clearTimeout(timer);
        c.primary = false;
        if (!c.closed) log.warn({ device: full.name, err: e.message }, 'stream channel closed');
        reject(new P4RpcError(full.name, 'StreamChannel', e.code ?? grpc.status.UNKNOWN, e.details ?? e.message));
      });
    });
    stream.on('data', (msg: StreamResponse) => c.onStream(msg));
    stream.on('end', () => {
      c.primary = false;
    });
    stream.write({
      arbitration: {
        deviceId: String(opts.deviceId),
        role: full.role ? { name: full.role } : undefined,
        electionId: bigintToUint128(opts.electionId),
      },
    });
    try {
      await first;
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  private onStream(msg: StreamResponse): void {
    if (msg.arbitration) {
      const code = msg.arbitration.status?.code ?? 0;
      this.primary = code === 0;
      const primaryId = uint128ToBigint(msg.arbitration.electionId);
      log.debug({ device: this.name, primary: this.primary, primaryElectionId: primaryId?.toString() }, 'arbitration');
      const w = this.primaryWaiters;
      this.primaryWaiters = [];
      for (const f of w) f(this.primary);
    } else if (msg.error) {
      log.warn({ device: this.name, code: msg.error.canonicalCode, message: msg.error.message }, 'stream error');
    }
  }

  private base(): { deviceId: string; electionId: { high: string; low: string }; role?: string } {
    return { deviceId: String(this.opts.deviceId), electionId: bigintToUint128(this.opts.electionId), role: this.opts.role || undefined };
  }

  private unary<Res>(name: 'Write' | 'SetForwardingPipelineConfig' | 'GetForwardingPipelineConfig' | 'Capabilities', req: object, timeoutMs = this.opts.timeoutMs): Promise<Res> {
    const m = P4RUNTIME_SERVICE[name];
    return new Promise((resolve, reject) => {
      const call = this.client.makeUnaryRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize as (b: Buffer) => Res,
        req,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, res) => {
          this.inflight.delete(call);
          if (err) reject(err);
          else resolve(res as Res);
        },
      );
      this.inflight.add(call);
    });
  }

  async capabilities(): Promise<string> {
    try {
      const r = await this.unary<{ p4runtimeApiVersion?: string }>('Capabilities', { deviceId: String(this.opts.deviceId) });
      return r.p4runtimeApiVersion ?? '';
    } catch (e) {
      throw this.rpcError('Capabilities', e);
    }
  }

  /** Sets the pipeline; `deviceConfig` is the target's compiled program (p4_device_config), `cookie` an opaque 64-bit tag for it. */
  async setPipeline(p4info: P4InfoObject, action: PipelineAction, deviceConfig?: Uint8Array, cookie?: bigint): Promise<void> {
    try {
      await this.unary('SetForwardingPipelineConfig', {
        ...this.base(),
        action,
        config: { p4info, p4DeviceConfig: deviceConfig ? Buffer.from(deviceConfig) : undefined, cookie: cookie === undefined ? undefined : { cookie: cookie.toString() } },
      });
    } catch (e) {
      throw this.rpcError('SetForwardingPipelineConfig', e);
    }
  }

  /** The device's current pipeline as asked for (`responseType`), or undefined when it has none yet. */
  async getPipelineConfig(responseType: PipelineResponseType = 'ALL'): Promise<PipelineConfig | undefined> {
    try {
      const r = await this.unary<{ config?: { p4info?: P4InfoObject; p4DeviceConfig?: Uint8Array; cookie?: { cookie?: string } } }>('GetForwardingPipelineConfig', {
        deviceId: String(this.opts.deviceId),
        responseType,
      });
      const c = r.config ?? {};
      return {
        p4info: c.p4info,
        deviceConfig: c.p4DeviceConfig && c.p4DeviceConfig.length > 0 ? new Uint8Array(c.p4DeviceConfig) : undefined,
        cookie: c.cookie?.cookie === undefined ? undefined : BigInt(c.cookie.cookie),
      };
    } catch (e) {
      const err = e as grpc.ServiceError;
      if (err.code === grpc.status.FAILED_PRECONDITION || err.code === grpc.status.NOT_FOUND) return undefined;
      throw this.rpcError('GetForwardingPipelineConfig', e);
    }
  }

  /** The device's current P4Info, or undefined when it has no pipeline yet. */
  async getPipeline(): Promise<P4InfoObject | undefined> {
    return (await this.getPipelineConfig('P4INFO_AND_COOKIE'))?.p4info;
  }

  /**
   * Writes one batch. On refusal throws P4WriteError carrying each update's
   * outcome as the device reported it (grpc-status-details-bin).
   */
  async write(updates: object[], atomicity: Atomicity = 'CONTINUE_ON_ERROR'): Promise<void> {
    try {
      await this.unary('Write', { ...this.base(), updates, atomicity }, this.opts.timeoutMs + WRITE_MS_PER_UPDATE * updates.length);
    } catch (e) {
      const err = e as grpc.ServiceError;
      const bin = err.metadata?.get(STATUS_DETAILS_KEY)?.[0];
      if (bin instanceof Buffer) throw new P4WriteError(this.name, err.code, decodeWriteErrors(bin), err.details ?? err.message);
      throw this.rpcError('Write', e);
    }
  }

  /**
   * Writes one CONTINUE_ON_ERROR batch and returns each update's outcome
   * (google.rpc code, 0 = applied). Throws only when the device refused the
   * batch as a whole (not primary, no pipeline, unreachable) or did not say
   * which updates failed.
   */
  async writeEach(updates: object[]): Promise<UpdateStatus[]> {
    try {
      await this.write(updates, 'CONTINUE_ON_ERROR');
      return updates.map((_, index) => ({ index, code: grpc.status.OK, message: '' }));
    } catch (e) {
      if (e instanceof P4WriteError && e.updates.length === updates.length) return e.updates;
      throw e;
    }
  }

  private readRaw(entities: object[]): Promise<{ tableEntry?: TableEntryLike; directCounterEntry?: { tableEntry?: TableEntryLike; data?: { packetCount?: string; byteCount?: string } } }[]> {
    const m = P4RUNTIME_SERVICE.Read;
    return new Promise((resolve, reject) => {
      const out: object[] = [];
      const call = this.client.makeServerStreamRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize as (b: Buffer) => { entities?: object[] },
        { deviceId: String(this.opts.deviceId), role: this.opts.role || undefined, entities },
        new grpc.Metadata(),
        { deadline: Date.now() + this.opts.timeoutMs },
      );
      this.inflight.add(call);
      call.on('data', (r: { entities?: object[] }) => out.push(...(r.entities ?? [])));
      call.on('error', (e) => {
        this.inflight.delete(call);
        reject(this.rpcError('Read', e));
      });
      call.on('end', () => {
        this.inflight.delete(call);
        resolve(out as never);
      });
    });
  }

  /** Every entry of one table (default: of every table), in canonical form. */
  async readTableEntries(tableId = 0): Promise<WireEntry[]> {
    const ents = await this.readRaw([{ tableEntry: { tableId } }]);
    return ents.filter((e) => e.tableEntry).map((e) => wireEntry(e.tableEntry!));
  }

  /** The default entry of one table (what a miss does), as the switch holds it now. */
  async readDefaultEntry(tableId: number): Promise<WireEntry | undefined> {
    const ents = await this.readRaw([{ tableEntry: { tableId, isDefaultAction: true } }]);
    const te = ents.find((e) => e.tableEntry)?.tableEntry;
    return te && wireEntry(te);
  }

  /**
   * Every entry of every table, and the default entry of `defaultOf`, in one
   * Read: a wildcard read leaves default entries out, so the second entity
   * asks for that one (one round trip instead of two).
   */
  async readTablesWithDefault(defaultOf: number): Promise<{ entries: WireEntry[]; defaultEntry: WireEntry | undefined }> {
    const ents = await this.readRaw([{ tableEntry: { tableId: 0 } }, { tableEntry: { tableId: defaultOf, isDefaultAction: true } }]);
    const entries: WireEntry[] = [];
    let defaultEntry: WireEntry | undefined;
    for (const { tableEntry } of ents) {
      if (!tableEntry) continue;
      const e = wireEntry(tableEntry);
      if (!e.isDefaultAction) entries.push(e);
      else if (e.tableId === defaultOf) defaultEntry = e;
    }
    return { entries, defaultEntry };
  }

  /** Every entry of Weft's ACL table. */
  async readEntries(): Promise<AclEntry[]> {
    const ents = await this.readRaw([{ tableEntry: { tableId: PIPELINE.tableId } }]);
    return ents.filter((e) => e.tableEntry).map((e) => entryFromProto(e.tableEntry!));
  }

  /**
   * Direct counters of every ACL entry, with the entry they belong to. A
   * counter names its entry by key only (PI sends no action), so the entries
   * are read too and joined on the key.
   */
  async readCounters(): Promise<{ entry: AclEntry; packets: bigint; bytes: bigint }[]> {
    const entries = new Map((await this.readRaw([{ tableEntry: { tableId: PIPELINE.tableId } }])).filter((e) => e.tableEntry).map((e) => [keyString(wireEntry(e.tableEntry!)), e.tableEntry!]));
    const counters = await this.readRaw([{ directCounterEntry: { tableEntry: { tableId: PIPELINE.tableId } } }]);
    const out: { entry: AclEntry; packets: bigint; bytes: bigint }[] = [];
    for (const c of counters) {
      const te = c.directCounterEntry?.tableEntry;
      const entry = te && entries.get(keyString(wireEntry(te)));
      // An entry deleted between the two reads has no counter left to report.
      if (!entry) continue;
      out.push({ entry: entryFromProto(entry), packets: BigInt(c.directCounterEntry!.data?.packetCount ?? 0), bytes: BigInt(c.directCounterEntry!.data?.byteCount ?? 0) });
    }
    return out;
  }

  private rpcError(rpc: string, e: unknown): Error {
    if (e instanceof P4RpcError || e instanceof P4WriteError) return e;
    const err = e as grpc.ServiceError;
    return new P4RpcError(this.name, rpc, err.code ?? grpc.status.UNKNOWN, err.details ?? err.message ?? String(e));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.primary = false;
    for (const call of this.inflight) call.cancel();
    this.inflight.clear();
    this.stream.end();
    this.stream.cancel();
    this.client.close();
  }
}
