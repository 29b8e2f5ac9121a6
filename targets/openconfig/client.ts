// A gNMI client over @grpc/grpc-js: Capabilities, Get, Set and Subscribe
// (ONCE, POLL, STREAM), with every RPC under a deadline so a switch that
// stops answering turns into an error rather than a hang.

import * as grpc from '@grpc/grpc-js';
import {
  GNMI_SERVICE,
  jsonIetfValue,
  parsePath,
  type CapabilityResponse,
  type GetRequest,
  type GetResponse,
  type Notification,
  type SetRequest,
  type SetResponse,
  type SubscribeRequest,
  type SubscribeResponse,
  type SubscriptionList,
} from './gnmi.ts';
import { channelTarget, SWITCH_CHANNEL_OPTIONS } from '../switch-common/grpc-channel.ts';

const GnmiStub = grpc.makeGenericClientConstructor(GNMI_SERVICE, 'gNMI');

type Unary<Req, Res> = (req: Req, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Res) => void) => grpc.ClientUnaryCall;

export interface GnmiClientOptions {
  /** Per-RPC deadline (ms); default 10 s. */
  timeoutMs?: number;
}

/** An RPC failure with its gRPC status, e.g. INVALID_ARGUMENT for a refused Set. */
export class GnmiError extends Error {
  constructor(
    readonly rpc: string,
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`gnmi ${rpc}: ${grpc.status[code] ?? code}: ${details}`);
    this.name = 'GnmiError';
  }
}

export class GnmiClient {
  private readonly stub: grpc.Client & Record<string, unknown>;
  private readonly timeoutMs: number;

  constructor(
    readonly address: string,
    opts: GnmiClientOptions = {},
  ) {
    this.stub = new GnmiStub(channelTarget(address), grpc.credentials.createInsecure(), SWITCH_CHANNEL_OPTIONS) as grpc.Client & Record<string, unknown>;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  private unary<Req, Res>(name: string, req: Req): Promise<Res> {
    const fn = this.stub[name] as Unary<Req, Res>;
    return new Promise((resolve, reject) => {
      fn.call(this.stub, req, new grpc.Metadata(), { deadline: Date.now() + this.timeoutMs }, (e, r) => {
        if (e) reject(new GnmiError(name, e.code, e.details || e.message));
        else resolve(r as Res);
      });
    });
  }

  capabilities(): Promise<CapabilityResponse> {
    return this.unary('Capabilities', {});
  }

  get(req: GetRequest): Promise<GetResponse> {
    return this.unary('Get', req);
  }

  /** The JSON_IETF value at one path ("/acl", "/acl/acl-sets", ...). */
  async getJson(path: string): Promise<unknown> {
    return (await this.getJsonOf([path]))[0];
  }

  /** The JSON_IETF values at several paths, in one Get: the switch answers with one notification per path, in the request's order. */
  async getJsonOf(paths: string[]): Promise<unknown[]> {
    const res = await this.get({ path: paths.map(parsePath), encoding: 'JSON_IETF', type: 'CONFIG' });
    return paths.map((path, i) => {
      const u = res.notification?.[i]?.update?.[0];
      if (!u) throw new Error(`gnmi get ${path}: no update in the response`);
      return jsonIetfValue(u.val);
    });
  }

  set(req: SetRequest): Promise<SetResponse> {
    return this.unary('Set', req);
  }

  /** Opens a Subscribe stream; the caller writes polls (POLL mode) and ends it. */
  subscribe(list: SubscriptionList): GnmiSubscription {
    const fn = this.stub.Subscribe as (md: grpc.Metadata, opts: grpc.CallOptions) => grpc.ClientDuplexStream<SubscribeRequest, SubscribeResponse>;
    const call = fn.call(this.stub, new grpc.Metadata(), {});
    call.write({ subscribe: list });
    return new GnmiSubscription(call);
  }

  /** Subscribe ONCE: every notification up to the sync response. */
  async once(paths: string[], timeoutMs = this.timeoutMs): Promise<Notification[]> {
    const sub = this.subscribe({ mode: 'ONCE', encoding: 'JSON_IETF', subscription: paths.map((p) => ({ path: parsePath(p) })) });
    try {
      return await sub.untilSync(timeoutMs);
    } finally {
      sub.close();
    }
  }

  /** False once the channel failed to reach the switch or was closed: a call on it would fail without trying again. */
  get usable(): boolean {
    const s = this.stub.getChannel().getConnectivityState(false);
    return s !== grpc.connectivityState.TRANSIENT_FAILURE && s !== grpc.connectivityState.SHUTDOWN;
  }

  close(): void {
    this.stub.close();
  }
}

/** One Subscribe stream, read as notifications up to each sync response. */
export class GnmiSubscription {
  private readonly queue: SubscribeResponse[] = [];
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;
  private ended = false;

  constructor(private readonly call: grpc.ClientDuplexStream<SubscribeRequest, SubscribeResponse>) {
    call.on('data', (r: SubscribeResponse) => {
      this.queue.push(r);
      this.wake();
    });
    call.on('error', (e: grpc.ServiceError) => {
      if (e.code !== grpc.status.CANCELLED) this.failure = new GnmiError('Subscribe', e.code, e.details || e.message);
      this.ended = true;
      this.wake();
    });
    call.on('end', () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The next response, or undefined when the stream ended. */
  async next(timeoutMs: number): Promise<SubscribeResponse | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (this.failure) throw this.failure;
      if (this.ended) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`gnmi subscribe: nothing received within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.queue.shift();
  }

  /** Notifications up to (not including) the next sync response. */
  async untilSync(timeoutMs: number): Promise<Notification[]> {
    const out: Notification[] = [];
    for (;;) {
      const r = await this.next(timeoutMs);
      if (!r) throw this.failure ?? new Error('gnmi subscribe: stream ended before the sync response');
      if (r.syncResponse) return out;
      if (r.update) out.push(r.update);
    }
  }

  poll(): void {
    this.call.write({ poll: {} });
  }

  close(): void {
    this.call.cancel();
  }
}
