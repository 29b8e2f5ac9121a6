// The commit-confirmed extension of Weft's gNMI switch, over real gRPC on
// loopback with Weft's own client and driver: a commit that is never
// confirmed comes back to the earlier configuration on its own, a confirm
// keeps it, cancel restores at once, set_rollback_duration moves the
// deadline, and the specification's refusals (a second commit, a plain Set,
// another id, nothing pending) carry their status codes. A switch without the
// extension does not list it and refuses it.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GnmiClient, GnmiError } from '../../../targets/openconfig/client.ts';
import { diffAcl, openconfigDriver, OpenconfigDriver, readDeviceDir } from '../../../targets/openconfig/driver.ts';
import { msDuration } from '../../../targets/openconfig/gnmi.ts';
import { openconfigTarget } from '../../../targets/openconfig/index.ts';
import type { AclConfig } from '../../../targets/openconfig/model.ts';
import { smallInput } from '../../../targets/openconfig/testing.ts';
import type { DriverContext } from '../../../targets/contract.ts';
import { MemoryDatapath } from '../memory-datapath.ts';
import { startGnmiAgent, type GnmiAgent } from './agent.ts';

const PORTS = ['eth1', 'eth5', 'eth6'];

/** Two generations that differ: A allows web->db on 5432, B also ssh from ops. */
async function compile(dir: string, withSsh: boolean): Promise<string> {
  const rules = [
    { name: 'web-to-db', from: ['web'], to: ['db'], ports: [{ protocol: 'tcp' as const, port: 5432 }], action: 'allow' as const },
    ...(withSsh ? [{ name: 'ops-ssh', from: ['ops'], to: ['any'], ports: [{ protocol: 'tcp' as const, port: 22 }], action: 'allow' as const }] : []),
  ];
  const out = await openconfigTarget.codegen(smallInput(rules));
  for (const f of out.files) await writeFile(join(dir, f.path), f.content);
  return dir;
}

const same = (a: AclConfig, b: AclConfig): boolean => diffAcl(a, b).length === 0;

async function code(p: Promise<unknown>): Promise<grpc.status> {
  try {
    await p;
  } catch (e) {
    if (e instanceof GnmiError) return e.code;
    throw e;
  }
  throw new Error('the Set was accepted');
}

describe('gnmi commit-confirmed', () => {
  let dir: string;
  let agent: GnmiAgent;
  let driver: OpenconfigDriver;
  let client: GnmiClient;
  let dirA: string;
  let dirB: string;
  let aclA: AclConfig;
  let aclB: AclConfig;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-commit-'));
    dirA = await compile(await mkdtemp(join(dir, 'a-')), false);
    dirB = await compile(await mkdtemp(join(dir, 'b-')), true);
    [aclA, aclB] = [(await readDeviceDir(dirA)).acl, (await readDeviceDir(dirB)).acl];
    expect(same(aclA, aclB)).toBe(false);
    agent = await startGnmiAgent({ address: '127.0.0.1:0', datapath: new MemoryDatapath(), interfaces: PORTS });
    driver = new OpenconfigDriver(agent.address, { timeoutMs: 5000 });
    client = new GnmiClient(agent.address, { timeoutMs: 5000 });
    await driver.apply(dirA);
  });
  afterEach(async () => {
    driver.close();
    client.close();
    await agent.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the extension in Capabilities', async () => {
    expect(await driver.commitConfirmed()).toBe(true);
  });

  it('goes back to the earlier configuration when the commit is never confirmed', async () => {
    await driver.apply(dirB, { id: 'c1', withinMs: 400 });
    expect(same(await driver.running(true), aclB)).toBe(true);
    expect(agent.pendingCommit()?.id).toBe('c1');
    await sleep(900);
    expect(agent.pendingCommit()).toBeUndefined();
    expect(same(await driver.running(true), aclA)).toBe(true);
    expect(same(agent.config(), aclA)).toBe(true);
    // The slot is free again: a plain Set is accepted.
    await driver.apply(dirB);
    expect(same(await driver.running(true), aclB)).toBe(true);
  });

  it('keeps the configuration once confirmed with the same id', async () => {
    await driver.apply(dirB, { id: 'c2', withinMs: 400 });
    expect(await code(driver.commitAction('other', 'confirm'))).toBe(grpc.status.INVALID_ARGUMENT);
    await driver.commitAction('c2', 'confirm');
    await sleep(700);
    expect(same(await driver.running(true), aclB)).toBe(true);
    expect(await code(driver.commitAction('c2', 'confirm'))).toBe(grpc.status.FAILED_PRECONDITION);
  });

  it('refuses a second commit and a plain Set while one is pending, and restores at once on cancel', async () => {
    await driver.apply(dirB, { id: 'c3', withinMs: 30_000 });
    const { setRequest } = await readDeviceDir(dirA);
    expect(await code(client.set(setRequest))).toBe(grpc.status.FAILED_PRECONDITION);
    expect(await code(client.set({ ...setRequest, extension: [{ commit: { id: 'c4', commit: { rollbackDuration: msDuration(1000) } } }] }))).toBe(grpc.status.FAILED_PRECONDITION);
    expect(await code(client.set({ ...setRequest, extension: [{ commit: { id: 'c3', confirm: {} } }] }))).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await code(client.set({ extension: [{ commit: { confirm: {} } }] }))).toBe(grpc.status.INVALID_ARGUMENT);
    expect(same(await driver.running(true), aclB)).toBe(true);
    await driver.commitAction('c3', 'cancel');
    expect(agent.pendingCommit()).toBeUndefined();
    expect(same(await driver.running(true), aclA)).toBe(true);
  });

  it('moves the deadline with set_rollback_duration', async () => {
    await driver.apply(dirB, { id: 'c5', withinMs: 30_000 });
    const before = agent.pendingCommit()?.deadline as number;
    await client.set({ extension: [{ commit: { id: 'c5', setRollbackDuration: { rollbackDuration: msDuration(300) } } }] });
    expect((agent.pendingCommit()?.deadline as number) < before).toBe(true);
    expect(await code(client.set({ extension: [{ commit: { id: 'c5', setRollbackDuration: { rollbackDuration: msDuration(0) } } }] }))).toBe(grpc.status.INVALID_ARGUMENT);
    await sleep(800);
    expect(same(await driver.running(true), aclA)).toBe(true);
  });

  it('is driven through the target contract: push armed, confirm, and a cancel that restores', async () => {
    const ctx: DriverContext = {
      device: { name: 'leaf', kind: 'switch', pipeline: 'openconfig', mgmt: { address: '127.0.0.1', gnmi: { port: Number(agent.address.split(':').pop()) } } } as DriverContext['device'],
      inventoryDir: dir,
      ssh: { identityFile: '', stagingDir: '' },
      timeoutMs: 5000,
    };
    const art = (d: string) => ({ bundleDir: dir, deviceDir: d, generation: 'g' });
    expect(await openconfigDriver.selfRevert?.unsupported(ctx, art(dirB))).toBeUndefined();
    await openconfigDriver.push(ctx, art(dirB), { confirm: { id: 'r1', withinMs: 30_000 } });
    expect(agent.pendingCommit()?.id).toBe('r1');
    await openconfigDriver.selfRevert?.confirm(ctx, 'r1');
    expect(agent.pendingCommit()).toBeUndefined();
    await openconfigDriver.push(ctx, art(dirA), { confirm: { id: 'r2', withinMs: 30_000 } });
    await openconfigDriver.selfRevert?.cancel?.(ctx, 'r2');
    expect(same(await driver.running(true), aclB)).toBe(true);
  });
});

describe('gnmi switch without commit-confirmed', () => {
  it('does not list it, refuses a Set carrying it, and the driver says why', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-nocommit-'));
    const agent = await startGnmiAgent({ address: '127.0.0.1:0', datapath: new MemoryDatapath(), interfaces: PORTS, commitConfirmed: false });
    const driver = new OpenconfigDriver(agent.address, { timeoutMs: 5000 });
    const client = new GnmiClient(agent.address, { timeoutMs: 5000 });
    try {
      const d = await compile(dir, true);
      expect(await driver.commitConfirmed()).toBe(false);
      await expect(driver.apply(d, { id: 'x', withinMs: 1000 })).rejects.toThrow(/does not list the commit-confirmed extension/);
      const { setRequest } = await readDeviceDir(d);
      expect(await code(client.set({ ...setRequest, extension: [{ commit: { id: 'x', commit: {} } }] }))).toBe(grpc.status.UNIMPLEMENTED);
      expect(agent.config().sets).toEqual([]);
    } finally {
      driver.close();
      client.close();
      await agent.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
