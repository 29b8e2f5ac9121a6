// Hand-made policies for each tricky case of DESIGN §2: the IR (through
// IrLookup) and the reference must both give the verdict and deciding rule
// written down here.

import { describe, expect, it } from 'vitest';
import { buildIr } from './build.ts';
import { IrLookup } from './lookup.ts';
import { ReferenceEvaluator } from '../reference/evaluator.ts';
import { flow, makeFabric, makePolicy, type EndpointSpec, type PolicySpec } from '../testing/build.ts';
import type { Flow, Verdict } from '../flow.ts';

type Expect = [Flow, Verdict, number];

function check(spec: PolicySpec, endpoints: EndpointSpec[], cases: Expect[]): void {
  const policy = makePolicy(spec);
  const fabric = makeFabric(endpoints);
  const ir = buildIr(policy, fabric);
  const lookup = new IrLookup(ir);
  const ref = new ReferenceEvaluator(policy, fabric);
  for (const [f, verdict, rule] of cases) {
    const want = { verdict, rule };
    expect({ flow: f, ...ref.verdict(f) }).toEqual({ flow: f, ...want });
    const got = lookup.lookup(f);
    expect({ flow: f, verdict: got.verdict, rule: got.rule }).toEqual({ flow: f, ...want });
  }
}

describe('buildIr on hand-made policies', () => {
  it('resolves except holes at their edges', () => {
    check(
      {
        groups: { ops: { cidrs: ['10.250.0.0/16'], except: ['10.250.9.0/24'] } },
        rules: [{ from: ['ops'], to: ['any'], ports: [{ protocol: 'tcp', port: 22 }], action: 'allow' }],
      },
      [],
      [
        [flow('10.250.8.255', '1.2.3.4', 'tcp', 22), 'allow', 0],
        [flow('10.250.9.0', '1.2.3.4', 'tcp', 22), 'deny', -1],
        [flow('10.250.9.255', '1.2.3.4', 'tcp', 22), 'deny', -1],
        [flow('10.250.10.0', '1.2.3.4', 'tcp', 22), 'allow', 0],
        [flow('10.250.0.0', '1.2.3.4', 'tcp', 22), 'allow', 0],
        [flow('10.250.255.255', '1.2.3.4', 'tcp', 22), 'allow', 0],
        [flow('10.249.255.255', '1.2.3.4', 'tcp', 22), 'deny', -1],
        [flow('10.251.0.0', '1.2.3.4', 'tcp', 22), 'deny', -1],
        [flow('10.250.1.1', '1.2.3.4', 'tcp', 23), 'deny', -1],
      ],
    );
  });

  it('resolves nested overlaps in rule order', () => {
    check(
      {
        groups: {
          a: { cidrs: ['10.0.0.0/8'] },
          b: { cidrs: ['10.1.0.0/16'] },
          c: { cidrs: ['10.1.2.0/24'], except: ['10.1.2.128/25'] },
        },
        rules: [
          { from: ['c'], to: ['any'], ports: [{ protocol: 'tcp', port: 80 }], action: 'allow' },
          { from: ['b'], to: ['any'], ports: [{ protocol: 'tcp', port: '80-90' }], action: 'deny' },
          { from: ['a'], to: ['any'], ports: [{ protocol: 'tcp', port: '85-100' }], action: 'allow' },
        ],
      },
      [],
      [
        [flow('10.1.2.1', '9.9.9.9', 'tcp', 80), 'allow', 0],
        [flow('10.1.2.127', '9.9.9.9', 'tcp', 81), 'deny', 1],
        [flow('10.1.2.128', '9.9.9.9', 'tcp', 80), 'deny', 1],
        [flow('10.1.3.0', '9.9.9.9', 'tcp', 90), 'deny', 1],
        [flow('10.1.3.0', '9.9.9.9', 'tcp', 91), 'allow', 2],
        [flow('10.2.0.0', '9.9.9.9', 'tcp', 85), 'allow', 2],
        [flow('10.2.0.0', '9.9.9.9', 'tcp', 84), 'deny', -1],
        [flow('10.2.0.0', '9.9.9.9', 'tcp', 101), 'deny', -1],
        [flow('11.0.0.0', '9.9.9.9', 'tcp', 85), 'deny', -1],
      ],
    );
  });

  it('handles IPv6 prefixes, holes and selected endpoints inside a hole', () => {
    check(
      {
        groups: {
          lab: { cidrs: ['fd00::/64'], except: ['fd00::/120'] },
          web: { selector: { app: 'web' } },
        },
        rules: [
          { from: ['web'], to: ['lab'], ports: [{ protocol: 'tcp', port: 443 }], action: 'allow' },
          { from: ['lab'], to: ['web'], ports: [{ protocol: 'udp', port: '53' }], action: 'allow' },
        ],
      },
      [
        { name: 'web-1', addresses: ['fd00::5', '10.0.0.5'], labels: { app: 'web' } },
        { name: 'db-1', addresses: ['fd00::6'], labels: { app: 'db' } },
      ],
      [
        [flow('fd00::5', 'fd00::100', 'tcp', 443), 'allow', 0],
        [flow('fd00::5', 'fd00::ff', 'tcp', 443), 'deny', -1],
        [flow('fd00::6', 'fd00::100', 'tcp', 443), 'deny', -1],
        [flow('fd00::100', 'fd00::5', 'udp', 53), 'allow', 1],
        [flow('fd00::ffff:ffff:ffff:ffff', 'fd00::5', 'udp', 53), 'allow', 1],
        [flow('fd00:0:0:1::', 'fd00::5', 'udp', 53), 'deny', -1],
        [flow('10.0.0.5', '10.0.0.5', 'tcp', 443), 'deny', -1],
      ],
    );
  });

  it('keys ICMP by type and code', () => {
    check(
      {
        groups: {},
        rules: [
          { from: ['any'], to: ['any'], ports: [{ protocol: 'icmp', type: 3, code: 1 }], action: 'allow' },
          { from: ['any'], to: ['any'], ports: [{ protocol: 'icmp', code: 1 }], action: 'deny' },
          { from: ['any'], to: ['any'], ports: [{ protocol: 'icmp', type: 8 }], action: 'allow' },
          { from: ['any'], to: ['any'], ports: [{ protocol: 'icmpv6', type: 128, code: 0 }], action: 'allow' },
        ],
      },
      [],
      [
        [flow('1.1.1.1', '2.2.2.2', 'icmp', 3, 1), 'allow', 0],
        [flow('1.1.1.1', '2.2.2.2', 'icmp', 3, 0), 'deny', -1],
        [flow('1.1.1.1', '2.2.2.2', 'icmp', 8, 1), 'deny', 1],
        [flow('1.1.1.1', '2.2.2.2', 'icmp', 255, 1), 'deny', 1],
        [flow('1.1.1.1', '2.2.2.2', 'icmp', 8, 0), 'allow', 2],
        [flow('1.1.1.1', '2.2.2.2', 'icmp', 8, 255), 'allow', 2],
        [flow('1.1.1.1', '2.2.2.2', 'icmp', 9, 0), 'deny', -1],
        [flow('::1', '::2', 'icmpv6', 128, 0), 'allow', 3],
        [flow('::1', '::2', 'icmpv6', 128, 1), 'deny', -1],
        [flow('::1', '::2', 'icmp', 8, 0), 'allow', 2],
        [flow('1.1.1.1', '2.2.2.2', 'tcp', 8), 'deny', -1],
      ],
    );
  });

  it('matches every protocol with `any` and with empty ports', () => {
    check(
      {
        groups: { a: { cidrs: ['10.0.0.0/24'] }, b: { cidrs: ['10.0.1.0/24'] } },
        rules: [
          { from: ['a'], to: ['b'], ports: [{ protocol: 'any' }], action: 'allow' },
          { from: ['b'], to: ['a'], action: 'allow' },
          { from: ['any'], to: ['any'], ports: [{ protocol: 'tcp', port: 80 }], action: 'allow' },
        ],
      },
      [],
      [
        [flow('10.0.0.1', '10.0.1.1', 47), 'allow', 0],
        [flow('10.0.0.1', '10.0.1.1', 0), 'allow', 0],
        [flow('10.0.0.1', '10.0.1.1', 'udp', 65535), 'allow', 0],
        [flow('10.0.0.1', '10.0.1.1', 'icmp', 255, 255), 'allow', 0],
        [flow('10.0.0.1', '10.0.1.1', 'icmpv6', 1, 0), 'allow', 0],
        [flow('10.0.1.1', '10.0.0.1', 132), 'allow', 1],
        [flow('10.0.1.1', '10.0.0.1', 'tcp', 0), 'allow', 1],
        [flow('10.0.1.1', '10.0.1.2', 'tcp', 80), 'allow', 2],
        [flow('10.0.1.1', '10.0.1.2', 47), 'deny', -1],
      ],
    );
  });

  it('applies a default allow after deny rules', () => {
    check(
      {
        defaultAction: 'allow',
        groups: { db: { selector: { app: 'db', env: 'prod' } } },
        rules: [
          { from: ['any'], to: ['db'], ports: [{ protocol: 'tcp', port: '0-1023' }], action: 'deny' },
          { from: ['any'], to: ['db'], ports: [{ protocol: 'udp' }], action: 'deny' },
        ],
      },
      [
        { name: 'db-1', addresses: ['10.0.0.10'], labels: { app: 'db', env: 'prod' } },
        { name: 'db-2', addresses: ['10.0.0.11'], labels: { app: 'db', env: 'dev' } },
      ],
      [
        [flow('10.0.0.1', '10.0.0.10', 'tcp', 1023), 'deny', 0],
        [flow('10.0.0.1', '10.0.0.10', 'tcp', 1024), 'allow', -1],
        [flow('10.0.0.1', '10.0.0.10', 'udp', 5000), 'deny', 1],
        [flow('10.0.0.1', '10.0.0.11', 'tcp', 22), 'allow', -1],
        [flow('10.0.0.1', '10.0.0.10', 'icmp', 8, 0), 'allow', -1],
      ],
    );
  });

  it('splits overlapping port ranges at their edges', () => {
    check(
      {
        groups: {},
        rules: [
          { from: ['any'], to: ['any'], ports: [{ protocol: 'tcp', port: '8000-8099' }], action: 'deny' },
          { from: ['any'], to: ['any'], ports: [{ protocol: 'tcp', port: '8050-9000' }, { protocol: 'tcp', port: 7999 }], action: 'allow' },
        ],
      },
      [],
      [
        [flow('1.0.0.1', '1.0.0.2', 'tcp', 7998), 'deny', -1],
        [flow('1.0.0.1', '1.0.0.2', 'tcp', 7999), 'allow', 1],
        [flow('1.0.0.1', '1.0.0.2', 'tcp', 8000), 'deny', 0],
        [flow('1.0.0.1', '1.0.0.2', 'tcp', 8099), 'deny', 0],
        [flow('1.0.0.1', '1.0.0.2', 'tcp', 8100), 'allow', 1],
        [flow('1.0.0.1', '1.0.0.2', 'tcp', 9000), 'allow', 1],
        [flow('1.0.0.1', '1.0.0.2', 'tcp', 9001), 'deny', -1],
        [flow('1.0.0.1', '1.0.0.2', 'udp', 8000), 'deny', -1],
      ],
    );
  });
});
