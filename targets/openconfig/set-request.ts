// The gNMI SetRequest that installs an acl configuration: one transaction
// replacing /acl/acl-sets and /acl/interfaces (and /defined-sets when the
// entries reference prefix-sets or port-sets), so entries, bindings and sets
// Weft no longer wants are removed by the same Set that installs the new
// ones, and a set reference never points at a set of another generation.
// Written in the protobuf JSON mapping of gnmi.SetRequest (bytes as base64).

import { aclInterfaceJson, aclSetJson, definedSetsContentJson, type AclConfig } from './model.ts';

export interface PathElemJson {
  name: string;
  key?: Record<string, string>;
}

export interface SetRequestJson {
  replace: { path: { elem: PathElemJson[] }; val: { jsonIetfVal: string } }[];
}

function jsonIetf(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64');
}

export function buildSetRequest(config: AclConfig): SetRequestJson {
  return {
    replace: [
      {
        path: { elem: [{ name: 'acl' }, { name: 'acl-sets' }] },
        val: { jsonIetfVal: jsonIetf({ 'acl-set': config.sets.map(aclSetJson) }) },
      },
      {
        path: { elem: [{ name: 'acl' }, { name: 'interfaces' }] },
        val: { jsonIetfVal: jsonIetf({ interface: config.interfaces.map(aclInterfaceJson) }) },
      },
      ...(config.definedSets
        ? [{ path: { elem: [{ name: 'defined-sets' }] }, val: { jsonIetfVal: jsonIetf(definedSetsContentJson(config.definedSets)) } }]
        : []),
    ],
  };
}
