// A fleet of simulated switches on loopback for rollout tests and the
// rollout bench: Weft's own P4Runtime and gNMI agents (lab/agents/) over an
// in-memory datapath, each on its own 127.0.0.1 port, with a fabric.yaml
// naming them and a policy whose variants change every switch's artefacts.
// A switch can be rebooted empty (same port, nothing configured), stopped
// (unreachable), or made to hang or refuse its next write. Optionally hosts
// too, as simulated SSH endpoints (ssh-host.ts).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startGnmiAgent, type GnmiAgent } from '../../lab/agents/gnmi/index.ts';
import { MemoryDatapath } from '../../lab/agents/memory-datapath.ts';
import { startP4RuntimeAgent, type P4RuntimeAgent } from '../../lab/agents/p4runtime/index.ts';
import { readBundle, type Bundle } from '../../orchestrator/compile/bundle.ts';
import { compileBundle } from '../../orchestrator/compile/driver.ts';
import { newKeyPair, SimHost } from './ssh-host.ts';

const PORTS = ['eth1', 'eth2'];

export interface SimSwitch {
  name: string;
  pipeline: 'p4' | 'openconfig';
  port: number;
  datapath: MemoryDatapath;
  /** Labels in the inventory, for --limit tests. */
  labels: Record<string, string>;
  /** P4 only: entries the switch's table really holds (default: what the P4Info declares). */
  tableSize?: number;
  /** gNMI only: whether the switch implements the commit-confirmed extension (default true). */
  commitConfirmed?: boolean;
}

interface Running {
  sw: SimSwitch;
  agent?: P4RuntimeAgent | GnmiAgent;
  /** gNMI only: what the next Set does before it commits. */
  beforeCommit?: () => Promise<void>;
  /** P4 only: what a Write that flips the policy generation does before it is applied. */
  beforeFlip?: () => Promise<void>;
}

export class Fleet {
  private readonly running = new Map<string, Running>();
  readonly hosts: SimHost[] = [];

  private constructor(
    readonly dir: string,
    readonly inventoryPath: string,
  ) {}

  /** Starts `count` switches (p4 and openconfig alternately) and writes their inventory into `dir`. */
  static async start(dir: string, count: number, hosts = 0): Promise<Fleet> {
    mkdirSync(dir, { recursive: true });
    const fleet = new Fleet(dir, join(dir, 'fabric.yaml'));
    if (hosts > 0) {
      const client = newKeyPair();
      writeFileSync(join(dir, 'client_ed25519'), client.private, { mode: 0o600 });
      for (let i = 0; i < hosts; i++) fleet.hosts.push(await SimHost.start(`h${String(i).padStart(4, '0')}`, client.public));
    }
    for (let i = 0; i < count; i++) {
      const sw: SimSwitch = { name: `sw${String(i).padStart(4, '0')}`, pipeline: i % 2 === 0 ? 'p4' : 'openconfig', port: 0, datapath: new MemoryDatapath(), labels: { rack: `r${i % 4}` } };
      const r: Running = { sw };
      fleet.running.set(sw.name, r);
      await fleet.boot(r);
    }
    fleet.writeInventory();
    return fleet;
  }

  get switches(): SimSwitch[] {
    return [...this.running.values()].map((r) => r.sw);
  }

  private async boot(r: Running): Promise<void> {
    const { sw } = r;
    const address = `127.0.0.1:${sw.port}`;
    if (sw.pipeline === 'p4') {
      r.agent = await startP4RuntimeAgent({ address, deviceId: 1, datapath: sw.datapath, tableSize: sw.tableSize, beforeFlip: async () => r.beforeFlip?.() });
      sw.port = r.agent.port;
    } else {
      r.agent = await startGnmiAgent({ address, datapath: sw.datapath, interfaces: PORTS, beforeCommit: async () => r.beforeCommit?.(), commitConfirmed: sw.commitConfirmed });
      sw.port = Number(r.agent.address.split(':').pop());
    }
  }

  private writeInventory(): void {
    const devices: Record<string, unknown>[] = this.switches.map((s) => ({
      name: s.name,
      kind: 'switch',
      pipeline: s.pipeline,
      labels: s.labels,
      mgmt: s.pipeline === 'p4' ? { address: '127.0.0.1', p4runtime: { port: s.port, deviceId: 1 } } : { address: '127.0.0.1', gnmi: { port: s.port } },
    }));
    for (const h of this.hosts) {
      devices.push({ name: h.name, kind: 'host', labels: { rack: 'hosts' }, mgmt: { address: '127.0.0.1', ssh: { user: 'root', port: h.port, hostKey: h.hostKey.public, identityFile: 'client_ed25519' } } });
    }
    const endpoints = [
      ...this.switches.flatMap((s, i) => [
        { name: `web-${s.name}`, attach: `${s.name}:eth1`, addresses: [`10.${1 + (i >> 8)}.${i & 255}.11`], labels: { app: 'web' } },
        { name: `db-${s.name}`, attach: `${s.name}:eth2`, addresses: [`10.${101 + (i >> 8)}.${i & 255}.21`], labels: { app: 'db' } },
      ]),
      ...this.hosts.map((h, i) => ({ name: `app-${h.name}`, host: h.name, addresses: [`10.${i % 2 ? 5 : 65}.${i & 255}.${31 + (i >> 8)}`], labels: { app: i % 2 ? 'web' : 'db' } })),
    ];
    // One line per value, as an inventory is written by hand: the yaml package folds long host keys otherwise.
    writeFileSync(this.inventoryPath, stringify({ apiVersion: 'weft.dev/v1', kind: 'Fabric', metadata: { name: 'sim' }, spec: { devices, endpoints } }, { lineWidth: 0 }));
  }

  /**
   * Writes policy variant `n` (web reaches db on tcp port 5000+n and n udp
   * ports; n denied ports) and returns its path. The groups are the address
   * blocks the endpoints are numbered from, so a switch's ACL stays a few
   * entries however large the fleet.
   */
  policy(n: number): string {
    const ports = [{ protocol: 'tcp', port: 5000 + n }, ...Array.from({ length: n }, (_, k) => ({ protocol: 'udp', port: 7000 + k }))];
    const rules: unknown[] = [{ name: 'web-to-db', from: ['web'], to: ['db'], ports, action: 'allow' }];
    for (let k = 0; k < n; k++) rules.push({ name: `deny-${k}`, from: ['any'], to: ['db'], ports: [{ protocol: 'tcp', port: 6000 + k }], action: 'deny' });
    const path = join(this.dir, `policy-${n}.yaml`);
    writeFileSync(path, stringify({ apiVersion: 'weft.dev/v1', kind: 'Policy', metadata: { name: `sim-${n}` }, spec: { defaultAction: 'deny', groups: { web: { cidrs: ['10.0.0.0/10'] }, db: { cidrs: ['10.64.0.0/10'] } }, rules } }));
    return path;
  }

  /** Compiles policy variant `n` into `out-<n>`. */
  async compile(n: number): Promise<Bundle> {
    const outDir = join(this.dir, `out-${n}`);
    await compileBundle({ policyPath: this.policy(n), inventoryPath: this.inventoryPath, outDir });
    return readBundle(outDir);
  }

  private get(name: string): Running {
    const r = this.running.get(name);
    if (!r) throw new Error(`no switch ${name}`);
    return r;
  }

  /** The switch loses its configuration: it comes back on the same port with an empty table. */
  async reboot(name: string): Promise<void> {
    const r = this.get(name);
    await this.stop(name);
    r.sw.datapath = new MemoryDatapath();
    await this.boot(r);
  }

  /** P4 switches: from the next boot on, the table holds only `size` entries. */
  setTableSize(name: string, size: number | undefined): void {
    this.get(name).sw.tableSize = size;
  }

  /** gNMI switches: from the next boot on, whether the switch implements the commit-confirmed extension. */
  setCommitConfirmed(name: string, on: boolean): void {
    this.get(name).sw.commitConfirmed = on;
  }

  /** The switch stops answering (its port refuses connections). */
  async stop(name: string): Promise<void> {
    const r = this.get(name);
    await r.agent?.close();
    r.agent = undefined;
  }

  async restart(name: string): Promise<void> {
    await this.boot(this.get(name));
  }

  /** gNMI switches: runs `f` inside each Set before it commits (a throw refuses the Set). */
  onSet(name: string, f: (() => Promise<void>) | undefined): void {
    this.get(name).beforeCommit = f;
  }

  /** P4 switches: runs `f` before a Write that flips the policy generation is applied (a throw refuses the Write). */
  onFlip(name: string, f: (() => Promise<void>) | undefined): void {
    this.get(name).beforeFlip = f;
  }

  async close(): Promise<void> {
    for (const r of this.running.values()) await r.agent?.close();
    this.running.clear();
    for (const h of this.hosts) await h.close();
  }
}
