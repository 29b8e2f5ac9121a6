// The gNMI SetRequest that installs an acl configuration: one transaction
// replacing /acl/acl-sets and /acl/interfaces, so entries and bindings Weft
// no longer wants are removed by the same Set that installs the new ones.
// Written in the protobuf JSON mapping of gnmi.SetRequest (bytes as base64).

import { aclInterfaceJson, aclSetJson, type AclConfig } from './model.ts';

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
    ],
  };
}
