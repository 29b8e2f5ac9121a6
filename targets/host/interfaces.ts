// interfaces.json of a host's artefacts: where the agent attaches, and the
// agent version the bundle is made for. Its own module because the shipped
// agent reads it and must not pull in the compiler side (codegen, clang).

export const INTERFACES_FORMAT = 'weft.host.interfaces/v1';

export interface InterfacesJson {
  format: typeof INTERFACES_FORMAT;
  device: string;
  /** The weft-agent version this bundle is made for; the agent refuses another. */
  agentVersion: string;
  interfaces: { name: string; role: string; tc: boolean; xdp: boolean }[];
}

