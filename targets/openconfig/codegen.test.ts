// OpenConfig codegen: the RFC 7951 document's shape (acl-sets with
// sequence-ids, ipv4/ipv6/transport/actions containers, bindings), the
// SetRequest, the golden fixture, capacity and unexpressible matches.

import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError, UnsupportedError, type Diagnostic } from '../../orchestrator/diagnostics.ts';
import { parseFabric } from '../../inventory/load.ts';
import { buildIr } from '../../orchestrator/ir/build.ts';
import { place } from '../../orchestrator/placement/place.ts';
import { parsePolicy } from '../../orchestrator/policy/load.ts';
import { generateFlows, makeRng } from '../../orchestrator/testing/generate.ts';
import { CAPACITY_EXCEEDED, type CodegenInput } from '../contract.ts';
import { planAcl } from './codegen.ts';
import { jsonIetfValue } from './gnmi.ts';
import { openconfigTarget } from './index.ts';
import { AclConfigError, aclContentJson, aclDocumentJson, parseAclConfig, parseAclDocument, type AclConfig } from './model.ts';
import { buildSetRequest } from './set-request.ts';
import { smallInput } from './testing.ts';
import { checkAcl } from './verify.ts';
import { AclInterpreter, permits, TCP_ACK, TCP_SYN } from './semantics.ts';
import { parseIp } from '../../orchestrator/net/ip.ts';

const FIXTURE = 'test/fixtures/openconfig';

function fixtureInput(): CodegenInput {
  const policy = parsePolicy(readFileSync(`${FIXTURE}/policy.yaml`, 'utf8'), `${FIXTURE}/policy.yaml`);
  const fabric = parseFabric(readFileSync(`${FIXTURE}/fabric.yaml`, 'utf8'), `${FIXTURE}/fabric.yaml`);
  const ir = buildIr(policy, fabric);
  const placement = place(policy, fabric, ir);
  const device = fabric.devices.find((d) => d.name === 'leaf1')!;
  return { policy, fabric, ir, placement, device, devicePlacement: placement.devices.find((d) => d.device === 'leaf1')! };
}

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const doc0 = (text: string): J => JSON.parse(text) as J;

/** What `f` throws (undefined when it returns). */
function thrownBy(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** The diagnostic of a plan refused for capacity; fails when the plan is not refused that way. */
function capacityRefusal(input: CodegenInput): Diagnostic {
  const err = thrownBy(() => planAcl(input));
  expect(err).toBeInstanceOf(InputError);
  const d = (err as InputError).diagnostics[0];
  expect(d.code).toBe(CAPACITY_EXCEEDED);
  return d;
}

describe('openconfig codegen', () => {
  it('writes the fixture acl.json (golden) and set-request.json', async () => {
    const out = await openconfigTarget.codegen(fixtureInput());
    const acl = out.files.find((f) => f.path === 'acl.json')!.content as string;
    // Regenerate with WEFT_UPDATE_FIXTURES=1 after an intended change, and review the diff.
    if (process.env.WEFT_UPDATE_FIXTURES === '1') writeFileSync(`${FIXTURE}/acl.json`, acl);
    expect(acl).toBe(readFileSync(`${FIXTURE}/acl.json`, 'utf8'));
    expect(out.stats.entries).toBeLessThanOrEqual(128);
    const req = JSON.parse(out.files.find((f) => f.path === 'set-request.json')!.content as string) as J;
    // Every match of this small fixture is one prefix or range: no defined sets (defined-sets.test.ts covers them).
    expect(doc0(acl)['openconfig-defined-sets:defined-sets']).toBeUndefined();
    expect(req.replace.map((u: J) => u.path.elem.map((e: J) => e.name).join('/'))).toEqual(['acl/acl-sets', 'acl/interfaces']);
    expect(req.update).toBeUndefined();
    const doc = JSON.parse(acl) as J;
    expect(jsonIetfValue(req.replace[0].val)).toEqual(doc['openconfig-acl:acl']['acl-sets']);
    expect(jsonIetfValue(req.replace[1].val)).toEqual(doc['openconfig-acl:acl'].interfaces);
  });

  it('emits the openconfig-acl containers and leaves', () => {
    const plan = planAcl(fixtureInput());
    const doc = aclDocumentJson(plan.config) as J;
    const sets = doc['openconfig-acl:acl']['acl-sets']['acl-set'] as J[];
    expect(sets.map((s) => `${s.name} ${s.type}`)).toEqual([
      'weft-exact-ipv4 openconfig-acl:ACL_IPV4',
      'weft-exact-ipv6 openconfig-acl:ACL_IPV6',
      'weft-prefilter-ipv4 openconfig-acl:ACL_IPV4',
      'weft-prefilter-ipv6 openconfig-acl:ACL_IPV6',
    ]);
    for (const s of sets) {
      const seqs = (s['acl-entries']['acl-entry'] as J[]).map((e) => e['sequence-id']);
      expect(seqs).toEqual(seqs.map((_, i) => (i + 1) * 10));
      for (const e of s['acl-entries']['acl-entry'] as J[]) {
        expect(e.config['sequence-id']).toBe(e['sequence-id']);
        expect(['openconfig-acl:ACCEPT', 'openconfig-acl:DROP']).toContain(e.actions.config['forwarding-action']);
        if (s.type.endsWith('ACL_IPV4')) expect(e.ipv6).toBeUndefined();
        else expect(e.ipv4).toBeUndefined();
      }
    }
    const exact4 = sets[0]['acl-entries']['acl-entry'] as J[];
    const reply = exact4.find((e) => e.transport?.config?.['source-port'] === 5432)!;
    expect(reply.transport.config).toEqual({
      'source-port': 5432,
      'detail-mode': 'EXPLICIT',
      'explicit-detail-match-mode': 'ALL',
      'explicit-tcp-flags': ['openconfig-packet-match-types:TCP_ACK'],
    });
    expect(reply.ipv4.config['source-address']).toBe('10.0.2.21/32');
    const range = exact4.find((e) => e.transport?.config?.['destination-port'] === '8000..8099');
    expect(range).toBeUndefined(); // web is not behind an exact port: no forward entry from it there
    const pre4 = sets[2]['acl-entries']['acl-entry'] as J[];
    expect(pre4.some((e) => e.ipv4?.icmpv4?.config?.type === 'openconfig-icmpv4-types:ECHO' && e.actions.config['forwarding-action'] === 'openconfig-acl:DROP')).toBe(true);
    const exact6 = sets[1]['acl-entries']['acl-entry'] as J[];
    expect(exact6.some((e) => e.ipv6?.icmpv6?.config?.type === 'openconfig-icmpv6-types:ECHO_REQUEST')).toBe(true);
    const bindings = doc['openconfig-acl:acl'].interfaces.interface as J[];
    expect(bindings.map((b) => `${b.id}:${(b['ingress-acl-sets']['ingress-acl-set'] as J[]).map((r) => r['set-name']).join(',')}`)).toEqual([
      'eth1:weft-prefilter-ipv4,weft-prefilter-ipv6',
      'eth5:weft-exact-ipv4,weft-exact-ipv6',
    ]);
    expect(plan.notes.join('\n')).toMatch(/replies pass by reverse entries/);
  });

  it('reads back what it writes', () => {
    const plan = planAcl(fixtureInput());
    const again: AclConfig = parseAclDocument(JSON.parse(JSON.stringify(aclDocumentJson(plan.config))));
    expect(aclContentJson(again)).toEqual(aclContentJson(plan.config));
    expect(again.definedSets).toEqual(plan.config.definedSets);
    expect(buildSetRequest(again)).toEqual(buildSetRequest(plan.config));
  });

  it('keeps port ranges as ranges', () => {
    const input = smallInput([{ name: 'db-out', from: ['db'], to: ['web'], ports: [{ protocol: 'udp', port: '8000-8099' }], action: 'allow' }]);
    const doc = aclDocumentJson(planAcl(input).config) as J;
    const entries = (doc['openconfig-acl:acl']['acl-sets']['acl-set'] as J[]).flatMap((s) => s['acl-entries']['acl-entry'] as J[]);
    expect(entries.some((e) => e.transport?.config?.['destination-port'] === '8000..8099')).toBe(true);
  });

  it('refuses a switch over capacity, naming the count', () => {
    const input = smallInput([{ name: 'web-to-db', from: ['web'], to: ['db'], ports: [{ protocol: 'tcp', port: 5432 }], action: 'allow' }], { capacity: 3 });
    const d = capacityRefusal(input);
    expect(d.message).toMatch(/leaf1: \d+ openconfig acl entries exceed capacity.aclEntries 3/);
    expect(d.span?.file).toBe('test/fabric.yaml');
  });

  it('counts the expansion of a switch without defined sets and refuses it over capacity before expanding, naming the rules that fill it', () => {
    // 3,000 scattered host prefixes x the 2 source prefixes of the exact port's endpoints x 40 destination ports.
    const big = Array.from({ length: 3000 }, (_, i) => `10.9.${i >> 7}.${(i & 127) * 2 + 1}/32`);
    const ports = Array.from({ length: 40 }, (_, i) => ({ protocol: 'tcp' as const, port: 1000 + 2 * i }));
    const input = smallInput(
      [
        { name: 'web-to-db', from: ['web'], to: ['db'], ports: [{ protocol: 'tcp', port: 5432 }], action: 'allow' },
        { name: 'db-to-big', from: ['db'], to: ['big'], ports, action: 'deny' },
      ],
      { capacity: 1000, groups: { big: { cidrs: big } } },
    );
    const expanded = { ...input, device: { ...input.device, capabilities: { definedSets: false } } };
    const d = capacityRefusal(expanded);
    expect(d.message).toMatch(/^compile leaf1: (\d+) openconfig acl entries exceed capacity\.aclEntries 1000 \(exact acl-sets alone; largest: rule db-to-big: 240000, /);
    // The same plan with room to spare: the count is the product, in both forms.
    const roomy = (definedSets: boolean) => planAcl({ ...input, device: { ...input.device, capacity: { aclEntries: 300_000 }, capabilities: { definedSets } } });
    const withSets = roomy(true);
    expect(withSets.stats.entries).toBeGreaterThan(240_000);
    expect(withSets.stats.configEntries).toBeLessThan(100);
    expect(roomy(false).stats.configEntries).toBe(withSets.stats.entries);
  });

  it('refuses an exact deny it cannot name, and fails closed or widens where it may', () => {
    const rules = (type: number, code: number, action: 'allow' | 'deny') => [{ name: 'odd', from: ['db'], to: ['any'], ports: [{ protocol: 'icmp' as const, type, code }], action }];
    expect(() => planAcl(smallInput(rules(3, 200, 'deny')))).toThrow(UnsupportedError);
    expect(() => planAcl(smallInput(rules(3, 200, 'deny')))).toThrow(/openconfig: unsupported: icmp match: rule odd: icmp type 3 code 200 in IPv4: no openconfig-icmpv4-types identity for code 200/);
    const allow = planAcl(smallInput(rules(3, 200, 'allow')));
    expect(allow.notes.join('\n')).toMatch(/exact: rule odd: .*dropped \(fail closed\)/);
    const dbDeny = planAcl(smallInput([{ name: 'odd', from: ['web'], to: ['any'], ports: [{ protocol: 'icmp', type: 3, code: 200 }], action: 'deny' }]));
    expect(dbDeny.notes.join('\n')).toMatch(/prefilter: rule odd: .*left to the hosts/);
  });

  it('the checker catches a wrong artefact', () => {
    const input = fixtureInput();
    const flows = generateFlows(makeRng(3), input.policy, input.fabric, 20_000);
    const good = planAcl(input).config;
    expect(checkAcl(good, input, flows).mismatches).toBe(0);
    // The exact set's default deny turned into an accept.
    const open = structuredClone(good);
    const exact4 = open.sets.find((s) => s.name === 'weft-exact-ipv4')!;
    exact4.entries[exact4.entries.length - 1].action = 'ACCEPT';
    // The prefilter dropping what an allow protected.
    const closed = structuredClone(good);
    const pre4 = closed.sets.find((s) => s.name === 'weft-prefilter-ipv4')!;
    pre4.entries.unshift({ seq: 1, action: 'DROP', log: false, protocol: 6 });
    // Reply entries gone.
    const noReplies = structuredClone(good);
    for (const s of noReplies.sets) s.entries = s.entries.filter((e) => !(e.description ?? '').startsWith('reply of'));
    for (const [what, bad] of [['open default', open], ['prefilter drop', closed], ['no replies', noReplies]] as const) {
      const r = checkAcl(bad, input, flows);
      console.log(`openconfig checker, ${what}: ${r.flows} flow checks, ${r.mismatches} mismatches caught`);
      expect(r.mismatches).toBeGreaterThan(0);
    }
  });

  it('the reader names the path of each problem', () => {
    const bad = {
      'openconfig-acl:acl': {
        'acl-sets': {
          'acl-set': [
            {
              name: 'a',
              type: 'ACL_IPV4',
              'acl-entries': {
                'acl-entry': [
                  { 'sequence-id': 1, ipv6: { config: {} }, actions: { config: { 'forwarding-action': 'ACCEPT' } } },
                  { 'sequence-id': 2, ipv4: { config: { protocol: 6 } }, transport: { config: { 'destination-port': '90..3' } }, actions: { config: { 'forwarding-action': 'ACCEPT' } } },
                  { 'sequence-id': 3, colour: 'red', actions: { config: {} } },
                ],
              },
            },
          ],
        },
      },
    };
    const err = thrownBy(() => parseAclConfig(bad));
    expect(err).toBeInstanceOf(AclConfigError);
    const text = (err as AclConfigError).problems.map((p) => `${p.path}: ${p.message}`).join('\n');
    expect(text).toMatch(/acl-entry\[sequence-id=1\]\/ipv6: ipv6 match in an ACL_IPV4 acl-set/);
    expect(text).toMatch(/acl-entry\[sequence-id=2\]\/transport\/config\/destination-port: expected a port/);
    expect(text).toMatch(/acl-entry\[sequence-id=3\]\/colour: unknown member/);
    expect(text).toMatch(/acl-entry\[sequence-id=3\]\/actions\/config\/forwarding-action: missing/);
  });

  it('passes replies of allowed connections through a prefilter deny, and neighbour discovery everywhere', () => {
    const input = smallInput([
      { name: 'ops-in', from: ['ops'], to: ['web'], ports: [{ protocol: 'tcp', port: 22 }, { protocol: 'udp', port: 161 }, { protocol: 'icmp', type: 8 }, { protocol: 'icmpv6', type: 128 }], action: 'allow' },
      { name: 'web-not-ops', from: ['web'], to: ['ops'], action: 'deny' },
    ]);
    const acl = new AclInterpreter(planAcl(input).config);
    const ip = (a: string) => parseIp(a)!;
    const web = ip('10.0.1.11');
    const ops = ip('10.250.1.10');
    const at = (iface: string, f: Parameters<AclInterpreter['decide']>[1], flags = 0) => permits(acl.decide(iface, f, flags));
    // eth1 faces the host of web-1: a prefilter holding the deny.
    expect(at('eth1', { src: web, dst: ops, proto: 6, sport: 22, dport: 40000 }, TCP_ACK | TCP_SYN)).toBe(true);
    expect(at('eth1', { src: web, dst: ops, proto: 6, sport: 40000, dport: 22 }, TCP_SYN)).toBe(false);
    expect(at('eth1', { src: web, dst: ops, proto: 17, sport: 161, dport: 40000 })).toBe(true);
    expect(at('eth1', { src: web, dst: ops, proto: 17, sport: 162, dport: 40000 })).toBe(false);
    expect(at('eth1', { src: web, dst: ops, proto: 1, sport: 0, dport: 0, icmpType: 0, icmpCode: 0 })).toBe(true);
    expect(at('eth1', { src: ip('fd00:1::11'), dst: ip('fd00:250::10'), proto: 58, sport: 0, dport: 0, icmpType: 129, icmpCode: 0 })).toBe(true);
    expect(at('eth1', { src: web, dst: ops, proto: 1, sport: 0, dport: 0, icmpType: 8, icmpCode: 0 })).toBe(false);
    // eth5 faces db-1 (exact, default deny): its neighbour discovery passes, to any address.
    const db = ip('fd00:2::21');
    for (const icmpType of [133, 135, 136]) {
      expect(at('eth5', { src: db, dst: ip('ff02::1:ff00:10'), proto: 58, sport: 0, dport: 0, icmpType, icmpCode: 0 })).toBe(true);
      expect(at('eth1', { src: ip('fd00:1::11'), dst: ip('ff02::1:ff00:10'), proto: 58, sport: 0, dport: 0, icmpType, icmpCode: 0 })).toBe(true);
    }
    expect(at('eth5', { src: db, dst: ip('fd00:250::10'), proto: 58, sport: 0, dport: 0, icmpType: 128, icmpCode: 0 })).toBe(false);
  });
});
