// Bad DPU input through `weft compile` (in process): each case is an error
// naming file:line:col and what would be valid, the CLI's exit code 2, and
// no bundle written.

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../orchestrator/cli/main.ts';
import { compileBundle } from '../../orchestrator/compile/driver.ts';
import { InputError } from '../../orchestrator/diagnostics.ts';
import { SMALL_POLICY_YAML } from './testing.ts';

const work = mkdtempSync(join(tmpdir(), 'weft-dpu-bad-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const POLICY = SMALL_POLICY_YAML;

function fabric(dpus: string[]): string {
  return `apiVersion: weft.dev/v1
kind: Fabric
metadata: {name: f}
spec:
  devices:
    - {name: host1, kind: host}
${dpus.map((d) => `    - ${d}`).join('\n')}
  links: []
  endpoints:
    - {name: web-1, host: host1, addresses: [10.0.1.11], labels: {app: web}}
`;
}

async function compileError(name: string, dpus: string[]): Promise<{ message: string; out: string; code: number }> {
  const dir = join(work, name);
  const policy = join(work, `${name}-policy.yaml`);
  const inventory = join(work, `${name}-fabric.yaml`);
  writeFileSync(policy, POLICY);
  writeFileSync(inventory, fabric(dpus));
  let message = '';
  try {
    await compileBundle({ policyPath: policy, inventoryPath: inventory, outDir: dir });
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    message = (e as Error).message;
  }
  const code = await main(['compile', '--policy', policy, '--inventory', inventory, '--out', dir, '--log-level', 'silent']);
  return { message, out: dir, code };
}

describe('bad DPU input', () => {
  it('a DPU without attachedTo', async () => {
    const r = await compileError('no-attach', ['{name: dpu1, kind: dpu, profile: nfp}']);
    expect(r.message).toMatch(/-fabric\.yaml:7:\d+: error: dpu dpu1 does not say which host it sits in front of \(valid: attachedTo: <a host device>\)/);
    expect(r.code).toBe(2);
    expect(existsSync(r.out)).toBe(false);
  });

  it('an unknown profile', async () => {
    const r = await compileError('bad-profile', ['{name: dpu1, kind: dpu, profile: connectx, attachedTo: host1}']);
    expect(r.message).toMatch(/-fabric\.yaml:7:\d+: error: .*profile.*connectx.*nfp/);
    expect(r.code).toBe(2);
    expect(existsSync(r.out)).toBe(false);
  });

  it('a profile whose capacity cannot hold even the deny set', async () => {
    const r = await compileError('capacity', ['{name: nic1, kind: smartnic, profile: nfp, attachedTo: host1, capacity: {aclEntries: 2}}']);
    expect(r.message).toMatch(/-fabric\.yaml:7:7: error: nic1: its nfp NIC holds 2 entries, but even the deny set of its share needs \d+ .*\[capacity-exceeded\]/);
    expect(r.code).toBe(2);
    expect(existsSync(r.out)).toBe(false);
  });

  it('two offloaded programs on one port', async () => {
    const r = await compileError('two-programs', ['{name: nic1, kind: smartnic, profile: nfp, attachedTo: host1}', '{name: nic2, kind: smartnic, profile: nfp, attachedTo: host1}']);
    expect(r.message).toMatch(/-fabric\.yaml:8:7: error: nic1 and nic2 each offload a prefilter in front of host1: nfp takes 1 offloaded program per port \(valid: one prefilter NIC per host/);
    expect(r.code).toBe(2);
    expect(existsSync(r.out)).toBe(false);
  });

  it('a stateless profile in front of a host without an agent (it would have to enforce exactly)', async () => {
    const dir = join(work, 'no-agent');
    const inventory = join(work, 'no-agent-fabric.yaml');
    const policy = join(work, 'no-agent-policy.yaml');
    writeFileSync(policy, POLICY);
    writeFileSync(inventory, fabric(['{name: nic1, kind: smartnic, profile: generic, attachedTo: host1}']).replace('{name: host1, kind: host}', '{name: host1, kind: host, agent: false}'));
    await expect(compileBundle({ policyPath: policy, inventoryPath: inventory, outDir: dir })).rejects.toThrow(
      /-fabric\.yaml:7:7: error: nic1: profile generic can only prefilter, but its host host1 runs no agent.*\[dpu-mode\]/,
    );
    expect(await main(['compile', '--policy', policy, '--inventory', inventory, '--out', dir, '--log-level', 'silent'])).toBe(2);
    expect(existsSync(dir)).toBe(false);
  });
});
