// Loads the project's P4Runtime proto definitions (targets/p4/proto/) into one
// protobufjs root, shared by the client, the emulated switch agent and the
// P4Info reader.

import protobuf from 'protobufjs';
import { join } from 'node:path';
import { packagePath } from '../../orchestrator/package-root.ts';

const PROTO_DIR = packagePath('targets', 'p4', 'proto');

function load(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
  root.loadSync(['p4/v1/p4runtime.proto', 'google/rpc/status.proto', 'google/rpc/code.proto']);
  root.resolveAll();
  return root;
}

export const protoRoot: protobuf.Root = load();

export function protoType(name: string): protobuf.Type {
  return protoRoot.lookupType(name);
}

/** Plain-object view used everywhere: enums as names, 64-bit ints as strings, bytes as Buffers. */
export const TO_OBJECT: protobuf.IConversionOptions = { enums: String, longs: String, bytes: Buffer, defaults: false, oneofs: true };

export const T = {
  P4Info: protoType('p4.config.v1.P4Info'),
  WriteRequest: protoType('p4.v1.WriteRequest'),
  WriteResponse: protoType('p4.v1.WriteResponse'),
  ReadRequest: protoType('p4.v1.ReadRequest'),
  ReadResponse: protoType('p4.v1.ReadResponse'),
  Update: protoType('p4.v1.Update'),
  SetPipelineRequest: protoType('p4.v1.SetForwardingPipelineConfigRequest'),
  SetPipelineResponse: protoType('p4.v1.SetForwardingPipelineConfigResponse'),
  GetPipelineRequest: protoType('p4.v1.GetForwardingPipelineConfigRequest'),
  GetPipelineResponse: protoType('p4.v1.GetForwardingPipelineConfigResponse'),
  StreamRequest: protoType('p4.v1.StreamMessageRequest'),
  StreamResponse: protoType('p4.v1.StreamMessageResponse'),
  CapabilitiesRequest: protoType('p4.v1.CapabilitiesRequest'),
  CapabilitiesResponse: protoType('p4.v1.CapabilitiesResponse'),
  P4Error: protoType('p4.v1.Error'),
  Status: protoType('google.rpc.Status'),
} as const;
