// What `lab apply` prints per DPU: profile, mode, generation and attach
// points as the agent reports them, or why the agent could not report.

import { describe, expect, it } from 'vitest';
import { formatLabApply, type LabApplyResult } from './apply.ts';

describe('formatLabApply', () => {
  it('prints each DPU with what its agent loaded, and an agent that could not report', () => {
    const r: LabApplyResult = {
      lab: 'x',
      bundle: '/b',
      seconds: 1,
      code: 0,
      results: [],
      dpus: [
        {
          device: 'dpu3',
          kind: 'dpu',
          profile: 'bluefield',
          target: 'dpu',
          mode: 'exact',
          generation: 2,
          attach: [
            { iface: 'eth1', hook: 'tc-ingress', attached: true },
            { iface: 'eth1', hook: 'tc-egress', attached: true },
            { iface: 'eth2', hook: 'xdp', mode: 'native', attached: false },
          ],
        },
        { device: 'nic5', kind: 'smartnic', profile: 'nfp', target: 'dpu', mode: 'prefilter', attach: [], statusError: 'weft agent status on nic5 exited 1: nothing applied' },
      ],
    };
    const lines = formatLabApply(r).split('\n');
    expect(lines.slice(-3)).toEqual([
      'DPUs and SmartNICs (weft agent status in the node):',
      '  dpu3         dpu bluefield, exact (dpu target), generation 2: eth1 tc-ingress+tc-egress, eth2 xdp(native)(MISSING)',
      '  nic5         smartnic nfp, prefilter (dpu target), agent status unavailable: weft agent status on nic5 exited 1: nothing applied',
    ]);
  });
});
