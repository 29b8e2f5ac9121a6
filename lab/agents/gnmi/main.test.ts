// The agent's command line as the lab runs it: a separate process listening
// on loopback, taking a compiled artefact over gNMI, stopping on SIGTERM.

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { OpenconfigDriver } from '../../../targets/openconfig/driver.ts';
import { openconfigTarget } from '../../../targets/openconfig/index.ts';
import { smallInput } from '../../../targets/openconfig/testing.ts';

it('runs as a process: listens, applies a Set, stops on SIGTERM', async () => {
  const child = spawn(process.execPath, ['bin/run-ts.js', 'lab/agents/gnmi/main.ts', '--listen', '127.0.0.1:0', '--interfaces', 'eth1,eth5,eth6', '--datapath', 'memory'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const dir = await mkdtemp(join(tmpdir(), 'weft-oc-main-'));
  try {
    const address = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`agent did not start: ${out}`)), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.on('exit', (code) => reject(new Error(`agent exited with ${code}: ${out}`)));
    });
    const out = await openconfigTarget.codegen(
      smallInput([{ name: 'web-to-db', from: ['web'], to: ['db'], ports: [{ protocol: 'tcp', port: 5432 }], action: 'allow' }]),
    );
    for (const f of out.files) await writeFile(join(dir, f.path), f.content);
    const driver = new OpenconfigDriver(address);
    try {
      const r = await driver.apply(dir);
      expect(r.entries).toBe(out.stats.entries);
      expect(await driver.drift(dir)).toEqual([]);
    } finally {
      driver.close();
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
