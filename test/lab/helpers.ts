// Shared by the lab tests: root check (a failure under CI, a skip elsewhere),
// generated lab names, and a scan for anything a lab could leave behind.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { labDir } from '../../lab/state.ts';

export const ci = process.env.CI === 'true';

/** Why lab tests cannot run here, or undefined when they can. */
export function labUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'lab tests need root (network namespaces, veths, nftables)';
  // ethtool: endpoints turn checksum offload off when the P4 leaves run bmv2.
  for (const tool of ['ip', 'nft', 'ss', 'ping', 'ethtool']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `lab tests need ${tool}`;
    }
  }
  for (const bin of ['/usr/sbin/sshd', '/usr/sbin/snmpd', '/usr/sbin/lldpd', '/usr/sbin/lldpcli']) if (!existsSync(bin)) return `lab tests need ${bin}`;
  return undefined;
}

/** Skips (with the reason) outside CI; under CI a missing capability fails the suite. */
export function requireLab(): boolean {
  const why = labUnavailable();
  if (why === undefined) return true;
  if (ci) throw new Error(`CI=true and ${why}`);
  console.log(`skipping lab tests: ${why}`);
  return false;
}

let counter = 0;
/** A lab name unique to this test run. */
export function labName(tag: string): string {
  return `wt${process.pid % 10000}${tag}${counter++}`;
}

/** Everything of a lab still present: namespaces, processes naming it, its state directory. */
export function leftovers(lab: string): string[] {
  const out: string[] = [];
  const ns = execFileSync('ip', ['netns', 'list']).toString();
  for (const l of ns.split('\n')) if (l.startsWith(`weft-${lab}-`)) out.push(`netns ${l.split(' ')[0]}`);
  const dir = labDir(lab);
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd = '';
    try {
      cmd = readFileSync(join('/proc', pid, 'cmdline'), 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (cmd.includes(`${dir}/`) || cmd.includes(`weft-${lab}-`)) out.push(`process ${pid}: ${cmd.slice(0, 120)}`);
  }
  if (existsSync(dir)) out.push(`state dir ${dir}`);
  if (existsSync('/sys/fs/bpf')) for (const p of readdirSync('/sys/fs/bpf')) if (p.includes(lab)) out.push(`bpffs pin /sys/fs/bpf/${p}`);
  return out;
}

/** Runs argv inside a namespace; `out` is stdout, `err` stderr. */
export function netnsExec(ns: string, argv: string[], timeoutMs = 60_000): { code: number; out: string; err: string } {
  try {
    return { code: 0, out: execFileSync('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs }).toString(), err: '' };
  } catch (e) {
    const x = e as { status?: number; stdout?: Buffer; stderr?: Buffer };
    return { code: x.status ?? 1, out: x.stdout?.toString() ?? '', err: x.stderr?.toString() ?? '' };
  }
}
