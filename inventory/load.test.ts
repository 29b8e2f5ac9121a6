// Inventory loading: fabric.yaml normalisation, containerlab topologies
// (label conventions, kinds, bridges, inheritance), format detection, the
// fabric -> containerlab -> fabric round trip validated against the
// containerlab JSON schema, and oversized input.

import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { renderLabInventory } from '../lab/inventory.ts';
import { loadTopology } from '../lab/topology.ts';
import { InputError } from '../orchestrator/diagnostics.ts';
import { formatIp } from '../orchestrator/net/ip.ts';
import { generateScenario, makeRng } from '../orchestrator/testing/generate.ts';
import { MAX_INPUT_BYTES } from '../orchestrator/yaml/source.ts';
import { fabricToContainerlab, loadInventory, parseContainerlab, parseFabric, parseInventory } from './load.ts';
import type { Fabric } from './model.ts';

const REPO = join(import.meta.dirname, '..');
const FIX = join(REPO, 'test/fixtures');
const SCHEMA = join(REPO, '../shared/containerlab/clab.schema.json');
const FHEAD = 'apiVersion: weft.dev/v1\nkind: Fabric\nmetadata: {name: f}\nspec:\n';

function diagnosticsOf(run: () => unknown): InputError {
  try {
    run();
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('expected an InputError');
}

/** A fabric as plain comparable data: no spans, file or digest; endpoints by name. */
function comparable(f: Fabric, dropHostAttach = new Set<string>()): unknown {
  const strip = <T extends object>(o: T): unknown => JSON.parse(JSON.stringify(o, (k, v: unknown) => (k === 'span' ? undefined : typeof v === 'bigint' ? v.toString() : v)));
  return {
    name: f.name,
    devices: strip(f.devices),
    links: strip(f.links),
    bridges: strip(f.bridges ?? []),
    endpoints: strip(
      [...f.endpoints]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((e) => {
          const { attach, ...rest } = e;
          return dropHostAttach.has(e.name) ? rest : { ...rest, attach };
        }),
    ),
  };
}

/** Endpoints whose containerlab form gains the host port they plug into. */
function hostOnly(f: Fabric): Set<string> {
  return new Set(f.endpoints.filter((e) => e.host !== undefined && e.attach === undefined).map((e) => e.name));
}

describe('parseFabric', () => {
  it('normalises the DESIGN example, filling transport defaults', () => {
    const text = readFileSync(join(FIX, 'valid/design/fabric.yaml'), 'utf8');
    const f = parseFabric(text, 'fabric.yaml');
    expect(f.name).toBe('dc1');
    expect(f.digest).toMatch(/^[0-9a-f]{64}$/);
    const by = new Map(f.devices.map((d) => [d.name, d]));
    expect(by.get('leaf1')).toMatchObject({ kind: 'switch', pipeline: 'p4', mgmt: { address: '172.20.20.11', p4runtime: { port: 9559, deviceId: 1 } }, capacity: { aclEntries: 1024 } });
    expect(by.get('leaf2')?.mgmt).toEqual({ address: '172.20.20.12', gnmi: { port: 57400 } });
    expect(by.get('host2')?.mgmt).toEqual({ address: '172.20.20.22', ssh: { user: 'root', port: 22 } });
    expect(by.get('dpu2')).toMatchObject({ kind: 'dpu', profile: 'bluefield', attachedTo: 'host2', mgmt: { ssh: { user: 'root', port: 22 } } });
    expect(by.get('host1')?.labels).toEqual({});
    expect(f.links.map((l) => `${l.a.device}:${l.a.port}-${l.b.device}:${l.b.port}`)).toEqual(['host1:eth1-leaf1:eth1', 'dpu2:eth1-leaf1:eth2', 'leaf1:eth10-leaf2:eth10']);
    const web = f.endpoints[0];
    expect(web).toMatchObject({ name: 'web-1', host: 'host1', labels: { app: 'web', env: 'prod' } });
    expect(web.addresses.map((a) => formatIp(a.family, a.value))).toEqual(['10.0.1.11', 'fd00:1::11']);
    expect(f.endpoints[2]).toMatchObject({ name: 'printer', attach: { device: 'leaf2', port: 'eth5' } });
    expect(f.endpoints[2].host).toBeUndefined();
    expect(f.bridges).toBeUndefined();
  });

  it('defaults a DPU profile to generic and accepts a managed endpoint naming its host port', () => {
    const f = parseFabric(
      `${FHEAD}  devices:\n    - {name: h, kind: host}\n    - {name: d, kind: smartnic, attachedTo: h}\n  endpoints:\n    - {name: e, host: h, attach: "h:eth2", addresses: ["fd00::1"]}\n`,
      'f.yaml',
    );
    expect(f.devices[1]).toMatchObject({ kind: 'smartnic', profile: 'generic', attachedTo: 'h' });
    expect(f.endpoints[0]).toMatchObject({ host: 'h', attach: { device: 'h', port: 'eth2' } });
  });

  it('allows key names that point at secrets kept elsewhere', () => {
    const f = parseFabric(`${FHEAD}  devices:\n    - {name: h, kind: host, mgmt: {ssh: {user: ops, hostKey: "ssh-ed25519 AAAA", identityFile: k, passwordFile: p}}}\n`, 'f.yaml');
    expect(f.devices[0].mgmt.ssh).toEqual({ user: 'ops', port: 22, hostKey: 'ssh-ed25519 AAAA' });
    const e = diagnosticsOf(() => parseFabric(`${FHEAD}  devices:\n    - {name: h, kind: host, mgmt: {ssh: {privateKey: x}}, token: y}\n`, 'f.yaml'));
    const errors = e.diagnostics.filter((d) => d.severity === 'error');
    expect(errors.map((d) => [d.code, d.span?.col])).toEqual([
      ['secret-in-inventory', 42],
      ['secret-in-inventory', 59],
    ]);
    expect(errors[0].hint).toMatch(/environment variables or files/);
  });

  it('reads capacity per table and refuses a bad one at its key', () => {
    const dev = (cap: string) => `${FHEAD}  devices:\n    - name: leaf1\n      kind: switch\n      pipeline: p4\n      capacity: ${cap}\n`;
    expect(parseFabric(dev('{aclEntries: 1024, lpmEntries: 16384}'), 'f.yaml').devices[0].capacity).toEqual({ aclEntries: 1024, lpmEntries: 16384 });
    expect(parseFabric(dev('{lpmEntries: 512}'), 'f.yaml').devices[0].capacity).toEqual({ lpmEntries: 512 });
    const e = diagnosticsOf(() => parseFabric(dev('{aclEntries: 1024, lpmEntries: 0}'), 'f.yaml'));
    expect(e.diagnostics.map((d) => [d.code, d.message, d.span?.line, d.span?.col])).toEqual([
      ['bad-capacity', 'device leaf1: capacity.lpmEntries 0 is out of range', 9, 48],
    ]);
    expect(e.message).toContain('valid: 1-2147483647');
  });

  it('collects errors from every part of the file', () => {
    const e = diagnosticsOf(() =>
      parseFabric(`apiVersion: weft.dev/v1\nkind: Fabric\nspec:\n  devices:\n    - {name: s, kind: switch}\n    - {name: d, kind: dpu}\n  links:\n    - endpoints: ["s:e1", "x:e1"]\n`, 'f.yaml'),
    );
    expect(e.diagnostics.map((d) => d.code).sort()).toEqual(['missing-attached-to', 'missing-pipeline', 'unknown-device']);
  });
});

describe('device capabilities', () => {
  const dev = (extra: string, pipeline = 'openconfig'): string => `${FHEAD}  devices:\n    - {name: s, kind: switch, pipeline: ${pipeline}${extra}}\n`;

  it('reads definedSets on an openconfig switch; absent means the device default (undefined here, true in codegen)', () => {
    expect(parseFabric(dev(', capabilities: {definedSets: false}'), 'f.yaml').devices[0].capabilities).toEqual({ definedSets: false });
    expect(parseFabric(dev(', capabilities: {definedSets: true}'), 'f.yaml').devices[0].capabilities).toEqual({ definedSets: true });
    expect(parseFabric(dev(''), 'f.yaml').devices[0].capabilities).toBeUndefined();
  });

  it('refuses a non-boolean value and a misplaced key, at their line and column', () => {
    const bad = diagnosticsOf(() => parseFabric(dev(', capabilities: {definedSets: sometimes}'), 'f.yaml')).diagnostics[0];
    expect([bad.span?.file, bad.span?.line, bad.span?.col]).toEqual(['f.yaml', 6, 81]);
    expect(`${bad.message} ${bad.hint ?? ''}`).toMatch(/capabilities\.definedSets.*true or false/);
    const p4 = diagnosticsOf(() => parseFabric(dev(', capabilities: {definedSets: false}', 'p4'), 'f.yaml')).diagnostics[0];
    expect([p4.code, p4.span?.line, p4.span?.col]).toEqual(['misplaced-key', 6, 73]);
    expect(p4.hint).toMatch(/pipeline: openconfig/);
  });
});

describe('parseContainerlab', () => {
  it('reads the lab example topology', () => {
    const file = join(REPO, 'lab/topologies/example.clab.yml');
    const text = readFileSync(file, 'utf8');
    const f = loadInventory(file);
    expect(f.name).toBe((parseYaml(text) as { name: string }).name);
    expect(f.devices.length).toBeGreaterThan(0);
    expect(f.endpoints.length).toBeGreaterThan(0);
    const kinds = new Map(f.devices.map((d) => [d.name, d.kind]));
    for (const d of f.devices) {
      expect(Object.keys(d.labels).some((k) => k.startsWith('weft.'))).toBe(false);
      if (d.kind === 'switch') expect(d.pipeline).toBeDefined();
    }
    for (const e of f.endpoints) {
      // Behind a host: managed, and attach names the host port; behind a switch: that switch port.
      if (e.attach && kinds.get(e.attach.device) === 'host') expect(e.host).toBe(e.attach.device);
      else if (e.attach) expect(kinds.get(e.attach.device)).toBe('switch');
      else expect(kinds.get(e.host ?? '')).toBe('host');
    }
  });

  it('reads roles, transports, a DPU-fronted endpoint and a bridge from labels', () => {
    const f = loadInventory(join(FIX, 'valid/clab-mixed/topology.clab.yml'));
    const by = new Map(f.devices.map((d) => [d.name, d]));
    expect(by.get('spine')).toMatchObject({ kind: 'switch', pipeline: 'openconfig', labels: { site: 'lab' } });
    expect(by.get('leaf')).toMatchObject({ pipeline: 'p4', mgmt: { address: '172.20.20.3', p4runtime: { port: 9559, deviceId: 7 } }, capacity: { aclEntries: 512 } });
    expect(by.get('h1')?.mgmt.ssh).toEqual({ user: 'root', port: 22, hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH' });
    expect(by.get('d2')).toMatchObject({ kind: 'dpu', profile: 'nfp', attachedTo: 'h2' });
    const ep = new Map(f.endpoints.map((e) => [e.name, e]));
    expect(ep.get('db')).toMatchObject({ host: 'h2' });
    expect(ep.get('db')?.attach).toBeUndefined();
    expect(ep.get('cam')).toMatchObject({ attach: { device: 'leaf', port: 'eth5' } });
    expect(f.bridges?.[0].links).toHaveLength(2);
    expect(f.links).toHaveLength(3);
  });

  it('reads the DPU and SmartNIC of the example with their profiles and hosts (weft.attached-to)', () => {
    const file = join(REPO, 'lab/topologies/example.clab.yml');
    expect(readFileSync(file, 'utf8')).toContain('weft.attached-to: host5');
    const by = new Map(loadInventory(file).devices.map((d) => [d.name, d]));
    expect(by.get('dpu3')).toMatchObject({ kind: 'dpu', profile: 'bluefield', attachedTo: 'host3' });
    expect(by.get('smartnic5')).toMatchObject({ kind: 'smartnic', profile: 'nfp', attachedTo: 'host5' });
  });

  it('reads the older weft.attachedTo, and refuses both spellings on one node', () => {
    const topo = (labels: string): string =>
      `name: t\ntopology:\n  nodes:\n    h: {kind: linux}\n    n: {kind: linux, labels: {weft.role: smartnic, weft.profile: generic, ${labels}}}\n  links:\n    - endpoints: ["h:eth1", "n:eth1"]\n`;
    expect(parseContainerlab(topo('weft.attachedTo: h'), 't.clab.yml').devices[1]).toMatchObject({ kind: 'smartnic', attachedTo: 'h' });
    const e = (() => {
      try {
        parseContainerlab(topo('weft.attached-to: h, weft.attachedTo: h'), 't.clab.yml');
      } catch (x) {
        return x as InputError;
      }
      throw new Error('both spellings were accepted');
    })();
    expect(e.diagnostics.map((d) => [d.code, d.span?.line])).toEqual([['duplicate-key', 5]]);
  });

  it('maps kinds to roles without weft labels, bridges apart', () => {
    const f = loadInventory(join(REPO, 'lab/topologies/plain.clab.yml'));
    expect(f.devices.map((d) => [d.name, d.kind, d.pipeline])).toEqual([
      ['srl1', 'switch', 'openconfig'],
      ['srv1', 'host', undefined],
      ['srv2', 'host', undefined],
    ]);
    expect(f.links).toHaveLength(1);
    expect(f.bridges?.map((b) => [b.name, b.links.map((l) => `${l.a.device}:${l.a.port}-${l.b.device}:${l.b.port}`)])).toEqual([['br1', ['srv2:eth1-br1:eth1', 'br1:eth2-srl1:e1-2']]]);
  });

  it('applies defaults, kinds and groups, and reads extended and special links', () => {
    const f = parseContainerlab(
      `name: t
topology:
  defaults: {kind: linux, labels: {site: a}}
  kinds:
    nokia_srlinux: {labels: {weft.gnmi.port: 6030}}
  groups:
    spines: {kind: nokia_srlinux, labels: {tier: spine}}
  nodes:
    h1: {labels: {weft.ssh.user: admin, weft.ssh.port: 2222}}
    s1: {group: spines, mgmt-ipv6: "2001:db8::5"}
    e1: {labels: {weft.role: endpoint, weft.addresses: "10.0.0.1 10.0.0.2", weft.host: h1, app: x}}
  links:
    - type: veth
      endpoints: [{node: h1, interface: eth1}, {node: s1, interface: e1-1}]
    - endpoints: ["e1:eth1", "s1:e1-2"]
    - endpoints: ["h1:eth9", "host:h1-eth9"]
    - type: dummy
      endpoints: [{node: h1, interface: dummy0}]
`,
      'x.yaml',
    );
    expect(f.devices.map((d) => [d.name, d.kind, d.labels])).toEqual([
      ['h1', 'host', { site: 'a' }],
      ['s1', 'switch', { site: 'a', tier: 'spine' }],
    ]);
    expect(f.devices[0].mgmt.ssh).toEqual({ user: 'admin', port: 2222 });
    expect(f.devices[1].mgmt).toEqual({ address: '2001:db8::5', gnmi: { port: 6030 } });
    expect(f.links.map((l) => `${l.a.device}:${l.a.port}-${l.b.device}:${l.b.port}`)).toEqual(['h1:eth1-s1:e1-1']);
    expect(f.endpoints[0]).toMatchObject({ name: 'e1', host: 'h1', attach: { device: 's1', port: 'e1-2' }, labels: { site: 'a', app: 'x' } });
    expect(f.endpoints[0].addresses).toHaveLength(2);
  });
});

describe('unknown keys in fabric.yaml', () => {
  const text = `${FHEAD.replace('metadata: {name: f}', 'metadata: {name: f, site: ams}')}  devices:
    - name: leaf1
      kind: switch
      pipeline: p4
      Mgmt: {address: 10.0.0.1}
      mgmt: {address: 172.20.20.11, p4runtime: {port: 9559, deviceid: 1}, gnmi: {prot: 1}, snmp: {community: x}}
      capacity: {aclEntrys: 10}
    - name: host1
      kind: host
      mgmt: {ssh: {user: root, identityFile: keys/k, stagingDir: /var/tmp, usr: ops}}
  links:
    - {endpoints: ["host1:eth1", "leaf1:eth1"], mtu: 9000}
  endpoints:
    - {name: web-1, host: host1, address: [10.0.1.11], addresses: [10.0.1.11]}
  bridges: []
`;

  it('are legal, but each one is a warning at the key with the valid keys and a suggestion', () => {
    const f = parseFabric(text, 'f.yaml');
    expect(f.devices.map((d) => d.name)).toEqual(['leaf1', 'host1']);
    const w = f.warnings ?? [];
    expect(w.every((d) => d.severity === 'warning' && d.code === 'unknown-key')).toBe(true);
    expect(w.map((d) => [d.message, d.span?.line, d.span?.col, /did you mean "([^"]+)"/.exec(d.hint ?? '')?.[1]])).toEqual([
      ['metadata: unknown key "site"', 3, 21, undefined],
      ['spec: unknown key "bridges"', 19, 3, undefined],
      ['device leaf1: unknown key "Mgmt"', 9, 7, 'mgmt'],
      ['device leaf1: mgmt.p4runtime: unknown key "deviceid"', 10, 61, 'deviceId'],
      ['device leaf1: mgmt.gnmi: unknown key "prot"', 10, 82, 'port'],
      ['device leaf1: mgmt.snmp: unknown key "community"', 10, 99, undefined],
      ['device leaf1: capacity: unknown key "aclEntrys"', 11, 18, 'aclEntries'],
      ['device host1: mgmt.ssh: unknown key "usr"', 14, 76, 'user'],
      ['link: unknown key "mtu"', 16, 49, undefined],
      ['endpoint web-1: unknown key "address"', 18, 34, 'addresses'],
    ]);
    expect(w.find((d) => d.message.includes('"usr"'))?.hint).toBe('valid keys here: user, port, hostKey, identityFile or stagingDir; did you mean "user"?');
  });

  it('reach the caller of parseInventory and loadInventory too', () => {
    expect(parseInventory(text, 'f.yaml').warnings).toHaveLength(10);
  });

  it('are absent from the examples, the valid fixtures and the lab topologies', () => {
    for (const f of ['examples/fabric.yaml', 'test/fixtures/valid/design/fabric.yaml', 'test/fixtures/valid/clab-mixed/topology.clab.yml', 'lab/topologies/example.clab.yml', 'lab/topologies/plain.clab.yml', 'lab/topologies/two-leaf.clab.yml']) {
      expect(loadInventory(join(REPO, f)).warnings, f).toBeUndefined();
    }
  });

  it('knows the keys the lab writes into its inventory (mgmt.ssh.identityFile, stagingDir)', () => {
    const topo = loadTopology(join(REPO, 'lab/topologies/example.clab.yml'));
    const text = renderLabInventory({ topo, lab: 'dc1', hostKeys: new Map([['host1', 'ssh-ed25519 AAAA']]), identityFile: 'keys/k', stagingDir: (n) => `/s/${n}` });
    expect(text).toContain('stagingDir');
    expect(parseFabric(text, 'inventory.yaml').warnings).toBeUndefined();
  });
});

describe('loadInventory format detection', () => {
  it('picks containerlab by the topology key or the file name, fabric.yaml otherwise', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-inv-'));
    try {
      copyFileSync(join(REPO, 'lab/topologies/plain.clab.yml'), join(dir, 'lab.yaml'));
      expect(loadInventory(join(dir, 'lab.yaml')).devices).toHaveLength(3);
      expect(loadInventory(join(FIX, 'valid/design/fabric.yaml')).name).toBe('dc1');
      // By name: a .clab.yml without a topology key is read (and rejected) as containerlab.
      writeFileSync(join(dir, 'x.clab.yml'), 'name: x\n');
      expect(diagnosticsOf(() => loadInventory(join(dir, 'x.clab.yml'))).diagnostics[0].message).toMatch(/"topology" is missing/);
      expect(diagnosticsOf(() => loadInventory(join(dir, 'none.yaml'))).diagnostics[0].code).toBe('unreadable-file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('fabric -> containerlab -> fabric', () => {
  const schemaPresent = existsSync(SCHEMA);
  if (!schemaPresent && process.env.CI === 'true') {
    it('finds the containerlab schema', () => {
      expect.fail(`containerlab schema missing at ${SCHEMA}`);
    });
  }
  const validate = schemaPresent ? new Ajv({ strict: false, allErrors: true }).compile(JSON.parse(readFileSync(SCHEMA, 'utf8')) as object) : undefined;
  const checkSchema = (text: string, what: string): void => {
    if (!validate) return;
    const ok = validate(parseYaml(text));
    expect(ok, `${what}: ${JSON.stringify(validate.errors?.slice(0, 5))}`).toBe(true);
  };
  if (!schemaPresent) console.log(`containerlab schema not found at ${SCHEMA}: schema checks skipped`);

  const sources: [string, () => Fabric][] = [
    ['examples/fabric.yaml', () => loadInventory(join(REPO, 'examples/fabric.yaml'))],
    ['design fabric', () => loadInventory(join(FIX, 'valid/design/fabric.yaml'))],
    ['lab example', () => loadInventory(join(REPO, 'lab/topologies/example.clab.yml'))],
    ['plain lab with a bridge', () => loadInventory(join(REPO, 'lab/topologies/plain.clab.yml'))],
    ['hosts lab', () => loadInventory(join(FIX, 'lab-hosts/hosts.clab.yml'))],
    ['mixed topology', () => loadInventory(join(FIX, 'valid/clab-mixed/topology.clab.yml'))],
  ];
  for (const [what, make] of sources) {
    it(`round-trips ${what}`, () => {
      const f = make();
      const text = fabricToContainerlab(f);
      checkSchema(text, what);
      const back = parseContainerlab(text, 'back.clab.yml');
      expect(comparable(back, hostOnly(f))).toEqual(comparable(f, hostOnly(f)));
    });
  }

  it('round-trips generated fabrics', () => {
    let n = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const { fabric } = generateScenario(makeRng(seed));
      const text = fabricToContainerlab(fabric);
      checkSchema(text, `seed ${seed}`);
      const back = parseContainerlab(text, 'gen.clab.yml');
      expect(comparable(back, hostOnly(fabric)), `seed ${seed}`).toEqual(comparable(fabric, hostOnly(fabric)));
      n++;
    }
    console.log(`containerlab round trip: ${n} generated fabrics, 0 mismatches`);
  });

  it.skipIf(!schemaPresent)('validates the lab topologies against the schema', () => {
    for (const f of ['lab/topologies/example.clab.yml', 'lab/topologies/plain.clab.yml', 'test/fixtures/lab-hosts/hosts.clab.yml']) {
      checkSchema(readFileSync(join(REPO, f), 'utf8'), f);
    }
  });
});

describe('big inventories', () => {
  function bigFabric(targetBytes: number): string {
    const parts = [`${FHEAD}  devices:\n    - {name: h, kind: host}\n  endpoints:\n`];
    let size = parts[0].length;
    for (let i = 0; size < targetBytes; i++) {
      const line = `    - {name: e${i}, host: h, addresses: [10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}], labels: {app: a${i % 7}}}\n`;
      parts.push(line);
      size += line.length;
    }
    return parts.join('');
  }

  it('refuses a fabric over the input limit cleanly and parses a 1 MiB one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-bigfab-'));
    try {
      const file = join(dir, 'fabric.yaml');
      writeFileSync(file, bigFabric(MAX_INPUT_BYTES + 1024 * 1024));
      const e = diagnosticsOf(() => loadInventory(file));
      expect(e.diagnostics.map((d) => d.code)).toEqual(['input-too-large']);
      expect(e.message).toContain(`${file}:1:1`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const text = bigFabric(1024 * 1024);
    const t0 = Date.now();
    const f = parseInventory(text, 'fabric.yaml');
    console.log(`fabric ${(text.length / 1048576).toFixed(1)} MiB, ${f.endpoints.length} endpoints: parsed in ${Date.now() - t0} ms`);
    expect(f.endpoints.length).toBeGreaterThan(10_000);
  });
});
