// Host and NIC prefilter agent status replies read as per-rule counters.

import { describe, expect, it } from 'vitest';
import { hitsOfAgentStatus } from './counters.ts';

describe('agent status counters', () => {
  it('reads the host agent: packets and bytes per rule and for the default', () => {
    const rules = [
      { index: 0, name: 'a', action: 'allow' as const, section: 's', log: false, hits: '3', packets: '3', bytes: '180' },
      { index: 1, name: 'b', action: 'deny' as const, section: 's', log: false, hits: '0', packets: '0', bytes: '0' },
    ];
    expect(hitsOfAgentStatus({ rules, defaultHits: '9', ruleCounters: { default: { packets: '9', bytes: '540' } } })).toEqual([
      { kind: 'rule', label: 'a', packets: 3n, bytes: 180n },
      { kind: 'rule', label: 'b', packets: 0n, bytes: 0n },
      { kind: 'default', label: 'default', packets: 9n, bytes: 540n },
    ]);
  });

  it('reads the NIC prefilter agent: drops per deny rule, index -1 the default', () => {
    expect(hitsOfAgentStatus({ drops: [{ index: -1, name: '(default action)', drops: '4' }, { index: 2, name: 'no-telnet', drops: '7' }] })).toEqual([
      { kind: 'default', label: 'default', packets: 4n },
      { kind: 'rule', label: 'no-telnet', packets: 7n },
    ]);
  });

  it('refuses a reply with neither', () => {
    expect(() => hitsOfAgentStatus({})).toThrow('agent status reports neither rules nor drops');
  });
});
