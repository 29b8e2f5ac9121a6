// The discovery walk: starts from seed addresses, asks each device over SNMP
// and SSH, and follows the management addresses its LLDP neighbours
// advertise, with a device limit, per-request timeouts (in the SNMP and SSH
// options) and a bound on devices asked at once.

import { logger } from '../../orchestrator/log.ts';
import { combineFacts, type DeviceFacts } from './facts.ts';
import { snmpFacts, type SnmpOptions } from './snmp.ts';
import { sshFacts, type SshOptions } from './ssh.ts';

const log = logger('discover');

export interface WalkOptions {
  seeds: string[];
  snmp?: SnmpOptions;
  ssh?: SshOptions;
  /** Devices asked at most (answering or not); further addresses are reported as skipped. */
  maxDevices: number;
  /** Devices asked at once. */
  concurrency: number;
}

export interface WalkFailure {
  address: string;
  /** Per transport, why it gave nothing. */
  errors: string[];
}

export interface WalkResult {
  facts: DeviceFacts[];
  failures: WalkFailure[];
  /** Addresses learnt but not asked because of the device limit. */
  skipped: string[];
}

/** One device's facts: SNMP and SSH both tried; SSH completes what SNMP reported. */
export async function askDevice(address: string, o: Pick<WalkOptions, 'snmp' | 'ssh'>): Promise<DeviceFacts | WalkFailure> {
  const errors: string[] = [];
  const attempt = async <T>(what: string, f: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await f();
    } catch (e) {
      errors.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  };
  const [bySnmp, bySsh] = await Promise.all([o.snmp ? attempt('snmp', () => snmpFacts(address, o.snmp as SnmpOptions)) : undefined, o.ssh ? attempt('ssh', () => sshFacts(address, o.ssh as SshOptions)) : undefined]);
  if (!bySnmp && !bySsh) return { address, errors: errors.length > 0 ? errors : ['no transport configured (SNMP credentials or an SSH key)'] };
  for (const e of errors) log.info({ address, error: e }, 'transport gave nothing');
  return combineFacts(bySnmp, bySsh);
}

export async function walkFabric(o: WalkOptions): Promise<WalkResult> {
  const queue: string[] = [];
  const seen = new Set<string>();
  const facts: DeviceFacts[] = [];
  const failures: WalkFailure[] = [];
  const skipped: string[] = [];
  let asked = 0;
  const enqueue = (addr: string): void => {
    if (seen.has(addr)) return;
    seen.add(addr);
    if (asked + queue.length >= o.maxDevices) skipped.push(addr);
    else queue.push(addr);
  };
  for (const s of o.seeds) enqueue(s);

  const worker = async (): Promise<void> => {
    for (let addr = queue.shift(); addr !== undefined; addr = queue.shift()) {
      asked++;
      log.debug({ address: addr }, 'asking device');
      const r = await askDevice(addr, o);
      if (!('via' in r)) {
        failures.push(r);
        continue;
      }
      const f = r;
      facts.push(f);
      // The device's own addresses are not other devices to ask.
      for (const a of f.addresses) seen.add(a);
      for (const n of f.neighbours) for (const a of n.mgmtAddresses) enqueue(a);
    }
  };
  // Workers end when the queue is empty; a device still being asked may add more, so loop until idle.
  while (queue.length > 0) {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, queue.length)) }, worker));
  }
  return { facts, failures, skipped };
}
