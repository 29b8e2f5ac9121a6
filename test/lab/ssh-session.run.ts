// Run inside a lab's management namespace by ssh.test.ts: exercises the
// rollout's SSH transport against a lab sshd and prints what happened as JSON.

import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostKeyMismatchError, SshSession } from '../../orchestrator/rollout/ssh.ts';

const [host, keyFile, pinned, wrongPin] = process.argv.slice(2);
const privateKey = readFileSync(keyFile);
const out: Record<string, unknown> = {};

const local = mkdtempSync(join(tmpdir(), 'weft-ssh-test-'));
mkdirSync(join(local, 'devices/host1'), { recursive: true });
writeFileSync(join(local, 'manifest.json'), '{"test":true}\n');
writeFileSync(join(local, 'devices/host1/maps.json'), '[1,2,3]\n');

const s = await SshSession.connect({ name: 'host1', host, port: 22, user: 'root', privateKey, hostKey: pinned });
const remote = `/tmp/weft-ssh-test-${process.pid}`;
out.uploaded = await s.upload(local, remote);
const r = await s.exec(`cat ${remote}/devices/host1/maps.json && ip -o link show mgmt0 | cut -d' ' -f2 && rm -rf ${remote}`);
out.exec = { code: r.code, stdout: r.stdout };
const f = await s.exec('exit 3');
out.exitCode = f.code;
s.close();

for (const [label, pin] of [['wrong', wrongPin], ['missing', undefined]] as const) {
  try {
    const bad = await SshSession.connect({ name: 'host1', host, port: 22, user: 'root', privateKey, hostKey: pin });
    bad.close();
    out[label] = 'connected';
  } catch (e) {
    out[label] = e instanceof HostKeyMismatchError ? 'refused' : `error: ${(e as Error).message}`;
  }
}
console.log(JSON.stringify(out));
