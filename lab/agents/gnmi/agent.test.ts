// The emulated gNMI switch over real gRPC on loopback: capabilities, the
// driver pushing a compiled artefact, Set transactions that apply all or
// nothing, refused and interrupted writes, Subscribe ONCE/POLL/STREAM for
// config and counters, and the datapath table enforcing what the acl says.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateFlows, makeRng } from '../../../orchestrator/testing/generate.ts';
import { GnmiClient, GnmiError } from '../../../targets/openconfig/client.ts';
import { planAcl } from '../../../targets/openconfig/codegen.ts';
import { OpenconfigDriver } from '../../../targets/openconfig/driver.ts';
import { parsePath, type SetRequest } from '../../../targets/openconfig/gnmi.ts';
import { openconfigTarget } from '../../../targets/openconfig/index.ts';
import { aclContentJson, aclSetJson, type AclConfig } from '../../../targets/openconfig/model.ts';
import { AclInterpreter, permits, TCP_ACK, TCP_SYN } from '../../../targets/openconfig/semantics.ts';
import { smallInput } from '../../../targets/openconfig/testing.ts';
import type { CodegenInput } from '../../../targets/contract.ts';
import type { SwitchAclTable } from '../datapath.ts';
import { startGnmiAgent, type GnmiAgent } from './agent.ts';
import { MemoryDatapath } from '../memory-datapath.ts';

const PORTS = ['eth1', 'eth5', 'eth6'];

function input(): CodegenInput {
  return smallInput([
    { name: 'web-to-db', from: ['web'], to: ['db'], ports: [{ protocol: 'tcp', port: 5432 }, { protocol: 'udp', port: '8000-8099' }], action: 'allow' },
    { name: 'no-ping-db', from: ['any'], to: ['db'], ports: [{ protocol: 'icmp', type: 8 }], action: 'deny' },
    { name: 'ops-ssh', from: ['ops'], to: ['any'], ports: [{ protocol: 'tcp', port: 22 }], action: 'allow' },
    { name: 'db-to-web', from: ['db'], to: ['web'], ports: [{ protocol: 'tcp', port: '8080-8090' }], action: 'allow' },
  ]);
}

async function compileTo(dir: string, inp: CodegenInput): Promise<void> {
  const out = await openconfigTarget.codegen(inp);
  for (const f of out.files) await writeFile(join(dir, f.path), f.content);
}

function jsonVal(v: unknown): { jsonIetfVal: Buffer } {
  return { jsonIetfVal: Buffer.from(JSON.stringify(v)) };
}

describe('gnmi agent', () => {
  let dir: string;
  let datapath: MemoryDatapath;
  let agent: GnmiAgent;
  let client: GnmiClient;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-oc-'));
    datapath = new MemoryDatapath();
    agent = await startGnmiAgent({ address: '127.0.0.1:0', datapath, interfaces: PORTS, counterPollMs: 20 });
    client = new GnmiClient(agent.address, { timeoutMs: 5000 });
  });
  afterEach(async () => {
    client.close();
    await agent.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists openconfig-acl and JSON_IETF', async () => {
    const caps = await client.capabilities();
    expect(caps.supportedModels?.map((m) => m.name)).toContain('openconfig-acl');
    expect(caps.supportedEncodings).toContain('JSON_IETF');
    expect(caps.gNMIVersion).toBe('0.10.0');
  });

  it('applies a compiled artefact in one Set, reads it back, and reports no drift', async () => {
    const inp = input();
    await compileTo(dir, inp);
    const driver = new OpenconfigDriver(agent.address);
    try {
      const r = await driver.apply(dir);
      expect(r.entries).toBe(planAcl(inp).stats.entries);
      expect(await driver.drift(dir)).toEqual([]);
      expect(agent.config().interfaces.map((i) => i.id).sort()).toEqual(PORTS);
      expect(datapath.programs).toBe(1);
      const sets = (await client.getJson('/acl/acl-sets')) as { 'acl-set': unknown[] };
      expect(sets['acl-set']).toHaveLength(4);
      const defined = (await client.getJson('/defined-sets')) as { 'ipv4-prefix-sets': { 'ipv4-prefix-set': unknown[] } };
      expect(defined['ipv4-prefix-sets']['ipv4-prefix-set'].length).toBeGreaterThan(0);
    } finally {
      driver.close();
    }
  });

  it('defined sets: a changed member reprograms the datapath and shows as drift; removing a referenced set is refused', async () => {
    const inp = input();
    await compileTo(dir, inp);
    const driver = new OpenconfigDriver(agent.address);
    try {
      await driver.apply(dir);
      const set = agent.config().definedSets!.prefixSets.find((p) => p.family === 4)!;
      const path = `/defined-sets/ipv4-prefix-sets/ipv4-prefix-set[name=${set.name}]/config`;
      await client.set({ update: [{ path: parsePath(path), val: jsonVal({ name: set.name, prefix: ['192.0.2.0/24'] }) }] });
      expect(datapath.programs).toBe(2);
      expect(agent.config().definedSets!.prefixSets.find((p) => p.name === set.name)!.prefixes).toHaveLength(1);
      expect(await driver.drift(dir)).toEqual([`ipv4-prefix-set ${set.name}: members differ`]);
      const err = await client.set({ delete: [parsePath('/defined-sets')] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GnmiError);
      expect((err as GnmiError).details).toMatch(/references unknown ipv4-prefix-set/);
      expect(datapath.programs).toBe(2);
      await driver.apply(dir);
      expect(await driver.drift(dir)).toEqual([]);
    } finally {
      driver.close();
    }
  });

  it('a switch without openconfig-defined-sets: the driver refuses set references before writing, and expanded entries apply', async () => {
    const plain = await startGnmiAgent({ address: '127.0.0.1:0', datapath: new MemoryDatapath(), interfaces: PORTS, definedSets: false });
    const driver = new OpenconfigDriver(plain.address);
    try {
      await compileTo(dir, input());
      await expect(driver.apply(dir)).rejects.toThrow(/capabilities: \{definedSets: false\}/);
      expect(plain.config().sets).toEqual([]);
      const inp = input();
      const expanded = { ...inp, device: { ...inp.device, capabilities: { definedSets: false } } };
      await compileTo(dir, expanded);
      const r = await driver.apply(dir);
      expect(r.entries).toBe(planAcl(inp).stats.entries);
      expect(plain.config().definedSets).toBeUndefined();
    } finally {
      driver.close();
      await plain.close();
    }
  });

  it('enforces in the datapath exactly what the acl says (translation check)', async () => {
    const inp = input();
    await compileTo(dir, inp);
    const driver = new OpenconfigDriver(agent.address);
    await driver.apply(dir);
    driver.close();
    const acl = new AclInterpreter(agent.config());
    const flows = generateFlows(makeRng(7), inp.policy, inp.fabric, 20_000);
    let mismatches = 0;
    let packets = 0;
    for (const f of flows) {
      for (const port of PORTS) {
        for (const flags of f.proto === 6 ? [TCP_SYN, TCP_ACK] : [0]) {
          packets++;
          const want = permits(acl.decide(port, f, flags)) ? 'permit' : 'deny';
          if (datapath.offer({ inPort: port, flow: f, tcpFlags: flags }) !== want) mismatches++;
        }
      }
    }
    console.log(`gnmi agent datapath: ${packets} packets, ${mismatches} mismatches`);
    expect(mismatches).toBe(0);
  });

  it('replace removes stale acl-sets and bindings', async () => {
    const stale: SetRequest = {
      replace: [
        {
          path: parsePath('/acl/acl-sets'),
          val: jsonVal({ 'acl-set': [aclSetJson({ name: 'old', type: 'ACL_IPV4', entries: [{ seq: 5, action: 'DROP', log: false }] })] }),
        },
      ],
    };
    await client.set(stale);
    expect(agent.config().sets.map((s) => s.name)).toEqual(['old']);
    await compileTo(dir, input());
    const driver = new OpenconfigDriver(agent.address);
    await driver.apply(dir);
    driver.close();
    expect(agent.config().sets.map((s) => s.name).sort()).toEqual(['weft-exact-ipv4', 'weft-exact-ipv6', 'weft-prefilter-ipv4', 'weft-prefilter-ipv6']);
  });

  it('update and delete address single entries by their keys', async () => {
    await compileTo(dir, input());
    const driver = new OpenconfigDriver(agent.address);
    await driver.apply(dir);
    const entry = '/acl/acl-sets/acl-set[name=weft-exact-ipv4][type=ACL_IPV4]/acl-entries/acl-entry[sequence-id=5]';
    await client.set({
      update: [{ path: parsePath(entry), val: jsonVal({ config: { 'sequence-id': 5 }, actions: { config: { 'forwarding-action': 'openconfig-acl:DROP' } } }) }],
    });
    const set = agent.config().sets.find((s) => s.name === 'weft-exact-ipv4')!;
    expect(set.entries[0]).toMatchObject({ seq: 5, action: 'DROP' });
    expect((await driver.drift(dir)).join('\n')).toMatch(/weft-exact-ipv4 ACL_IPV4: entries differ/);
    await client.set({ delete: [parsePath(entry)] });
    expect(await driver.drift(dir)).toEqual([]);
    driver.close();
  });

  describe('a Set applies all or nothing', () => {
    const bad: [string, (good: AclConfig) => SetRequest][] = [
      [
        'ipv6 fields in an ACL_IPV4 set',
        () => ({
          update: [
            {
              path: parsePath('/acl/acl-sets/acl-set[name=weft-exact-ipv4][type=ACL_IPV4]/acl-entries/acl-entry[sequence-id=1]'),
              val: jsonVal({ ipv6: { config: { 'source-address': 'fd00::/64' } }, actions: { config: { 'forwarding-action': 'ACCEPT' } } }),
            },
          ],
        }),
      ],
      [
        'a sequence-id used twice',
        (good) => {
          const s = good.sets[0];
          const json = aclSetJson(s) as { 'acl-entries': { 'acl-entry': unknown[] } };
          json['acl-entries']['acl-entry'].push(json['acl-entries']['acl-entry'][0]);
          return { replace: [{ path: parsePath(`/acl/acl-sets/acl-set[name=${s.name}][type=${s.type}]`), val: jsonVal(json) }] };
        },
      ],
      [
        'a binding to an unknown acl-set',
        () => ({
          update: [
            {
              path: parsePath('/acl/interfaces/interface[id=eth1]/ingress-acl-sets/ingress-acl-set[set-name=nope][type=ACL_IPV4]'),
              val: jsonVal({ config: { 'set-name': 'nope', type: 'openconfig-acl:ACL_IPV4' } }),
            },
          ],
        }),
      ],
      [
        'a binding to an unknown interface',
        () => ({
          update: [
            {
              path: parsePath('/acl/interfaces/interface[id=eth9]'),
              val: jsonVal({ config: { id: 'eth9' }, 'interface-ref': { config: { interface: 'eth9' } } }),
            },
          ],
        }),
      ],
    ];
    for (const [what, make] of bad) {
      it(`${what}: INVALID_ARGUMENT, nothing changes`, async () => {
        await compileTo(dir, input());
        const driver = new OpenconfigDriver(agent.address);
        await driver.apply(dir);
        const before = JSON.stringify(await client.getJson('/acl'));
        const programs = datapath.programs;
        // A valid replace in the same request must not survive the failure either.
        const req = make(agent.config());
        req.delete = [parsePath('/acl/acl-sets/acl-set[name=weft-prefilter-ipv6][type=ACL_IPV6]')];
        const err = await client.set(req).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(GnmiError);
        expect((err as GnmiError).code).toBe(3); // INVALID_ARGUMENT
        console.log(`refused (${what}): ${(err as GnmiError).details}`);
        expect(JSON.stringify(await client.getJson('/acl'))).toBe(before);
        expect(datapath.programs).toBe(programs);
        driver.close();
      });
    }
  });

  it('a datapath refusing the write fails the Set and keeps the previous configuration', async () => {
    await compileTo(dir, input());
    const driver = new OpenconfigDriver(agent.address);
    await driver.apply(dir);
    const before = JSON.stringify(aclContentJson(agent.config()));
    const refusing = datapath as MemoryDatapath & { program(t: SwitchAclTable): Promise<void> };
    refusing.program = async () => {
      throw new Error('tcam full');
    };
    const other = input();
    other.policy.rules.pop();
    const dir2 = await mkdtemp(join(tmpdir(), 'weft-oc-'));
    try {
      await compileTo(dir2, other);
      const err = await driver.apply(dir2).catch((e: unknown) => e);
      expect(String(err)).toMatch(/INTERNAL: datapath refused the configuration: tcam full; the switch still runs its previous configuration, unchanged/);
      expect(JSON.stringify(aclContentJson(agent.config()))).toBe(before);
    } finally {
      driver.close();
      await rm(dir2, { recursive: true, force: true });
    }
  });

  it('a connection lost mid-write leaves nothing half-applied', async () => {
    await compileTo(dir, input());
    const dp = new MemoryDatapath();
    let victim: GnmiAgent | undefined;
    victim = await startGnmiAgent({
      address: '127.0.0.1:0',
      datapath: dp,
      interfaces: PORTS,
      beforeCommit: async () => {
        victim!.kill();
        await new Promise((r) => setTimeout(r, 50));
      },
    });
    const driver = new OpenconfigDriver(victim.address, { timeoutMs: 3000 });
    try {
      const err = await driver.apply(dir).catch((e: unknown) => e);
      console.log(`lost connection: ${String(err)}`);
      expect(String(err)).toMatch(/UNAVAILABLE|CANCELLED|INTERNAL/);
      expect(String(err)).toMatch(/runs either the previous or the new configuration/);
      expect(victim.config()).toEqual({ sets: [], interfaces: [] });
      expect(dp.programs).toBe(0);
    } finally {
      driver.close();
      await victim.close();
    }
  });

  it('Subscribe ONCE and POLL return the config, each ending in a sync response', async () => {
    await compileTo(dir, input());
    const driver = new OpenconfigDriver(agent.address);
    await driver.apply(dir);
    driver.close();
    const once = await client.once(['/acl/acl-sets/acl-set[name=weft-exact-ipv4][type=ACL_IPV4]/config']);
    expect(once.flatMap((n) => n.update ?? [])).toHaveLength(1);
    const sub = client.subscribe({ mode: 'POLL', encoding: 'JSON_IETF', subscription: [{ path: parsePath('/acl/interfaces') }] });
    try {
      const first = await sub.untilSync(3000);
      sub.poll();
      const second = await sub.untilSync(3000);
      expect(first).toHaveLength(1);
      expect(second).toHaveLength(1);
    } finally {
      sub.close();
    }
  });

  it('Subscribe STREAM: ON_CHANGE config after a Set, ON_CHANGE and SAMPLE counters', async () => {
    await compileTo(dir, input());
    const driver = new OpenconfigDriver(agent.address);
    await driver.apply(dir);
    const cfg = client.subscribe({ mode: 'STREAM', encoding: 'JSON_IETF', subscription: [{ path: parsePath('/acl/acl-sets'), mode: 'ON_CHANGE' }] });
    const counterPath = parsePath('/acl/interfaces/interface[id=eth5]/ingress-acl-sets/ingress-acl-set/acl-entries/acl-entry/state/matched-packets');
    const onChange = client.subscribe({ mode: 'STREAM', subscription: [{ path: counterPath, mode: 'ON_CHANGE' }] });
    const sampled = client.subscribe({ mode: 'STREAM', subscription: [{ path: counterPath, mode: 'SAMPLE', sampleInterval: String(30_000_000) }] });
    try {
      expect(await cfg.untilSync(3000)).toHaveLength(1);
      const initial = (await onChange.untilSync(3000)).flatMap((n) => n.update ?? []);
      expect(initial.length).toBe(agent.config().sets.find((s) => s.name === 'weft-exact-ipv4')!.entries.length + agent.config().sets.find((s) => s.name === 'weft-exact-ipv6')!.entries.length);
      await sampled.untilSync(3000);
      // db-1 behind eth5 answers web-1 on 5432: a reply entry counts it.
      const inp = input();
      const web1 = inp.fabric.endpoints.find((e) => e.name === 'web-1')!.addresses[0];
      const db1 = inp.fabric.endpoints.find((e) => e.name === 'db-1')!.addresses[0];
      expect(datapath.offer({ inPort: 'eth5', flow: { src: db1, dst: web1, proto: 6, sport: 5432, dport: 40000 }, tcpFlags: TCP_ACK })).toBe('permit');
      const moved = await onChange.next(3000);
      const ups = moved?.update?.update ?? [];
      expect(ups).toHaveLength(1);
      expect(ups[0].val?.uintVal).toBe('1');
      const s1 = await sampled.next(3000);
      const s2 = await sampled.next(3000);
      expect(s1?.update?.update?.length).toBe(initial.length);
      expect(s2?.update?.update?.length).toBe(initial.length);
      const counters = await driver.counters();
      expect([...counters.values()].reduce((a, b) => a + b, 0n)).toBe(1n);
      // A Set reaches the ON_CHANGE config subscriber.
      await client.set({ delete: [parsePath('/acl/acl-sets/acl-set[name=weft-exact-ipv4][type=ACL_IPV4]/acl-entries/acl-entry[sequence-id=10]')] });
      const change = await cfg.next(3000);
      expect(change?.update?.update).toHaveLength(1);
    } finally {
      cfg.close();
      onChange.close();
      sampled.close();
      driver.close();
    }
  });
});
