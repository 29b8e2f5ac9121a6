// The p4.v1.P4Runtime gRPC service definition over the project's protobufjs
// types, shared by the client (targets/p4/client.ts) and the emulated switch
// agent (lab/agents/p4runtime/).

import type { ServiceDefinition } from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { T, TO_OBJECT } from './proto.ts';

function method(name: string, req: protobuf.Type, res: protobuf.Type, requestStream: boolean, responseStream: boolean) {
  return {
    path: `/p4.v1.P4Runtime/${name}`,
    requestStream,
    responseStream,
    originalName: name,
    requestSerialize: (v: object) => Buffer.from(req.encode(req.fromObject(v as Record<string, unknown>)).finish()),
    requestDeserialize: (b: Buffer) => req.toObject(req.decode(b), TO_OBJECT),
    responseSerialize: (v: object) => Buffer.from(res.encode(res.fromObject(v as Record<string, unknown>)).finish()),
    responseDeserialize: (b: Buffer) => res.toObject(res.decode(b), TO_OBJECT),
  };
}

export const P4RUNTIME_SERVICE = {
  Write: method('Write', T.WriteRequest, T.WriteResponse, false, false),
  Read: method('Read', T.ReadRequest, T.ReadResponse, false, true),
  SetForwardingPipelineConfig: method('SetForwardingPipelineConfig', T.SetPipelineRequest, T.SetPipelineResponse, false, false),
  GetForwardingPipelineConfig: method('GetForwardingPipelineConfig', T.GetPipelineRequest, T.GetPipelineResponse, false, false),
  StreamChannel: method('StreamChannel', T.StreamRequest, T.StreamResponse, true, true),
  Capabilities: method('Capabilities', T.CapabilitiesRequest, T.CapabilitiesResponse, false, false),
} satisfies ServiceDefinition;

export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';
export const P4_ERROR_TYPE_URL = 'type.googleapis.com/p4.v1.Error';

/** Election ids travel as Uint128 {high, low}; Weft compares them as one bigint. */
export interface Uint128Object {
  high?: string | number;
  low?: string | number;
}

export function uint128ToBigint(u: Uint128Object | undefined): bigint | undefined {
  if (!u) return undefined;
  return (BigInt(u.high ?? 0) << 64n) | BigInt(u.low ?? 0);
}

export function bigintToUint128(v: bigint): { high: string; low: string } {
  return { high: (v >> 64n).toString(), low: (v & 0xffffffffffffffffn).toString() };
}

/** One update's outcome in a failed batch (google.rpc.Code numbering). */
export interface UpdateStatus {
  index: number;
  code: number;
  message: string;
}

/** Encodes per-update outcomes the way P4Runtime servers report a failed batch. */
export function encodeWriteErrors(message: string, statuses: { code: number; message: string }[]): Buffer {
  // protobufjs keeps google.protobuf.Any's own field names (type_url).
  const details = statuses.map((s) => ({
    type_url: P4_ERROR_TYPE_URL,
    value: Buffer.from(T.P4Error.encode(T.P4Error.fromObject({ canonicalCode: s.code, message: s.message })).finish()),
  }));
  return Buffer.from(T.Status.encode(T.Status.fromObject({ code: 2, message, details })).finish());
}

export function decodeWriteErrors(bin: Buffer): UpdateStatus[] {
  const st = T.Status.toObject(T.Status.decode(bin), TO_OBJECT) as { details?: { type_url?: string; value?: Buffer }[] };
  return (st.details ?? [])
    .map((d, index) => {
      if (d.type_url !== P4_ERROR_TYPE_URL) return { index, code: 2, message: `unexpected detail ${d.type_url ?? ''}` };
      // An update that succeeded is an Error with every field at its default (OK), which encodes to no bytes at all.
      const e = T.P4Error.toObject(T.P4Error.decode(d.value ?? Buffer.alloc(0)), TO_OBJECT) as { canonicalCode?: number; message?: string };
      return { index, code: e.canonicalCode ?? 0, message: e.message ?? '' };
    });
}

export const CODE_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

export function codeName(code: number): string {
  return CODE_NAMES[code] ?? `CODE_${code}`;
}
