// Attribution of denied probes on the example fabric: along the flow's path,
// the first device whose counter for the deciding rule moved takes the drop,
// one probe per hit; a switch takes it only by placement, and says so.

import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../inventory/load.ts';
import { Explainer } from '../orchestrator/explain/explain.ts';
import type { Flow } from '../orchestrator/flow.ts';
import { buildIr } from '../orchestrator/ir/build.ts';
import { parseIp } from '../orchestrator/net/ip.ts';
import { place } from '../orchestrator/placement/place.ts';
import { loadPolicy } from '../orchestrator/policy/load.ts';
import { ReferenceEvaluator } from '../orchestrator/reference/evaluator.ts';
import type { RuleHits } from './agent-status.ts';
import { attributeDrops, counterDeltas, formatDrops, summarizeDrops } from './drops.ts';

const repo = resolve(import.meta.dirname, '..');
const policy = loadPolicy(join(repo, 'examples/policy.yaml'));
const fabric = loadInventory(join(repo, 'examples/fabric.yaml'));
const ir = buildIr(policy, fabric);
const explainer = new Explainer(policy, fabric, ir, place(policy, fabric, ir));
const ref = new ReferenceEvaluator(policy, fabric);

function tcp(src: string, dst: string, dport: number): { flow: Flow; rule: number } {
  const flow: Flow = { src: parseIp(src)!, dst: parseIp(dst)!, proto: 6, sport: 40000, dport };
  const v = ref.verdict(flow);
  expect(v.verdict).toBe('deny');
  return { flow, rule: v.rule };
}

const hits = (entries: [number, number][]): RuleHits => new Map(entries.map(([r, n]) => [r, BigInt(n)]));

describe('attributeDrops', () => {
  const webToApi = tcp('10.0.1.11', '10.0.2.21', 9999); // web-1 on host1 -> api-1 on host3 behind dpu3
  const apiToDb = tcp('10.0.2.21', '10.0.3.31', 9999); // api-1 behind dpu3 -> db-1 on host5 behind smartnic5
  const monitorToApi = tcp('10.0.5.51', '10.0.2.21', 9999); // monitor-1, unmanaged behind leaf2:eth5

  it('takes the first device on the path whose counter moved, one probe per hit', () => {
    expect(webToApi.rule).toBe(-1);
    const moved = new Map([
      ['host1', hits([[-1, 1]])],
      ['dpu3', hits([[-1, 1]])],
      ['host3', hits([[-1, 0]])],
    ]);
    const got = attributeDrops(explainer, fabric, [webToApi, webToApi, webToApi], moved);
    expect(got).toEqual([{ device: 'host1', kind: 'host', by: 'counters' }, { device: 'dpu3', kind: 'dpu', by: 'counters' }, undefined]);
  });

  it('names the SmartNIC in front of the destination when only its counter moved', () => {
    const moved = new Map([
      ['host3', hits([[-1, 0]])],
      ['dpu3', hits([[-1, 0]])],
      ['smartnic5', hits([[-1, 1]])],
      ['host5', hits([[-1, 0]])],
    ]);
    expect(attributeDrops(explainer, fabric, [apiToDb], moved)).toEqual([{ device: 'smartnic5', kind: 'smartnic', by: 'counters' }]);
  });

  it('gives a switch a drop only by placement, where no counter on the path moved first', () => {
    const moved = new Map([['dpu3', hits([[-1, 1]])]]);
    expect(attributeDrops(explainer, fabric, [monitorToApi], moved)).toEqual([{ device: 'leaf2', kind: 'switch', by: 'placement' }]);
  });

  it('summarizes per device in fabric order with the counters that moved', () => {
    const moved = new Map([
      ['host1', hits([[-1, 1]])],
      ['dpu3', hits([[-1, 3]])],
    ]);
    const probes = [monitorToApi, webToApi, webToApi];
    const points = attributeDrops(explainer, fabric, probes, moved);
    const drops = summarizeDrops(fabric, points, probes.map((p) => p.rule), moved, (r) => (r < 0 ? 'default' : policy.rules[r].name));
    expect(drops).toEqual([
      { device: 'leaf2', kind: 'switch', by: 'placement', probes: 1, hits: {} },
      { device: 'host1', kind: 'host', by: 'counters', probes: 1, hits: { default: 1 } },
      { device: 'dpu3', kind: 'dpu', by: 'counters', probes: 1, hits: { default: 3 } },
    ]);
    expect(formatDrops(drops, 0)).toEqual([
      'dropped at leaf2 (switch): 1 probes; placed there (its counters are not read)',
      'dropped at host1 (host): 1 probes; its rule counters moved: default +1',
      'dropped at dpu3 (dpu): 1 probes; its rule counters moved: default +3',
    ]);
  });
});

describe('counterDeltas', () => {
  it('subtracts per rule, reads a reset counter as what moved, and leaves out devices read once', () => {
    const before = new Map([
      ['dpu3', hits([[-1, 10], [4, 7]])],
      ['host1', hits([[-1, 1]])],
    ]);
    const after = new Map([
      ['dpu3', hits([[-1, 12], [4, 2]])],
      ['host9', hits([[-1, 5]])],
    ]);
    expect(counterDeltas(before, after)).toEqual(new Map([['dpu3', hits([[-1, 2], [4, 2]])]]));
  });
});
