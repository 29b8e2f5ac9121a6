// The reference evaluator on the literal cases of the README's Semantics.

import { describe, expect, it } from 'vitest';
import { ReferenceEvaluator } from './evaluator.ts';
import { flow, ip, makeFabric, makePolicy } from '../testing/build.ts';

describe('ReferenceEvaluator', () => {
  const fabric = makeFabric([
    { name: 'web-1', addresses: ['10.0.1.11', 'fd00:1::11'], labels: { app: 'web', env: 'prod' } },
    { name: 'web-2', addresses: ['10.0.1.12'], labels: { app: 'web', env: 'dev' } },
    { name: 'db-1', addresses: ['10.9.0.5'], labels: { app: 'db', env: 'prod' } },
  ]);
  const policy = makePolicy({
    groups: {
      web: { selector: { app: 'web' } },
      prodweb: { selector: { app: 'web', env: 'prod' } },
      db: { selector: { app: 'db' }, cidrs: ['10.20.0.0/16'], except: ['10.20.5.0/24'] },
      ops: { cidrs: ['10.250.0.0/16'], except: ['10.250.9.0/24', '10.9.0.5/32'] },
      none: { selector: {} },
    },
    rules: [
      { from: ['ops'], to: ['any'], ports: [{ protocol: 'tcp', port: 22 }], action: 'allow' },
      { from: ['prodweb'], to: ['db'], ports: [{ protocol: 'tcp', port: 5432 }], action: 'allow' },
      { from: ['web'], to: ['db'], action: 'deny' },
    ],
  });
  const ref = new ReferenceEvaluator(policy, fabric);

  it('resolves groups from selectors, cidrs and excepts', () => {
    expect(ref.groupsOf(ip('10.0.1.11'))).toEqual(['none', 'prodweb', 'web']);
    expect(ref.groupsOf(ip('fd00:1::11'))).toEqual(['none', 'prodweb', 'web']);
    expect(ref.groupsOf(ip('10.0.1.12'))).toEqual(['none', 'web']);
    expect(ref.groupsOf(ip('10.9.0.5'))).toEqual(['db', 'none']); // an except of ops does not remove a selected endpoint of db
    expect(ref.groupsOf(ip('10.20.5.1'))).toEqual([]);
    expect(ref.groupsOf(ip('10.20.4.255'))).toEqual(['db']);
    expect(ref.groupsOf(ip('10.250.9.1'))).toEqual([]);
    expect(ref.groupsOf(ip('10.250.8.1'))).toEqual(['ops']);
    expect(ref.groupsOf(ip('::'))).toEqual([]);
  });

  it('returns the first matching rule, else the default', () => {
    expect(ref.verdict(flow('10.250.0.1', '10.0.1.11', 'tcp', 22))).toEqual({ verdict: 'allow', rule: 0 });
    expect(ref.verdict(flow('10.0.1.11', '10.9.0.5', 'tcp', 5432))).toEqual({ verdict: 'allow', rule: 1 });
    expect(ref.verdict(flow('10.0.1.12', '10.9.0.5', 'tcp', 5432))).toEqual({ verdict: 'deny', rule: 2 });
    expect(ref.verdict(flow('10.0.1.12', '10.20.0.1', 'icmp', 8, 0))).toEqual({ verdict: 'deny', rule: 2 });
    expect(ref.verdict(flow('10.0.1.12', '10.20.5.1', 'icmp', 8, 0))).toEqual({ verdict: 'deny', rule: -1 });
    expect(ref.verdict(flow('10.250.9.1', '10.0.1.11', 'tcp', 22))).toEqual({ verdict: 'deny', rule: -1 });
  });

  it('refuses a rule over an unknown group', () => {
    const bad = makePolicy({ rules: [{ from: ['nope'], to: ['any'], action: 'allow' }] });
    expect(() => new ReferenceEvaluator(bad, fabric).verdict(flow('1.1.1.1', '2.2.2.2', 'tcp', 1))).toThrow(/unknown group "nope"/);
  });
});
