// The netns/veth emulator: builds a resolved lab topology with one network
// namespace per node, one veth pair per link and a management bridge in a
// namespace of its own, starts each node's daemons, and tears all of it down
// again. Every name is generated from the lab name and recorded in the lab
// state before it is created, so destroy works after a crash. P4 leaves run
// bmv2 or the emulated agent, as lab/p4-leaves.ts decides.

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../orchestrator/diagnostics.ts';
import { logger } from '../orchestrator/log.ts';
import { formatIp } from '../orchestrator/net/ip.ts';
import { ipBatch, inNetns, run, sleep } from './exec.ts';
import { blockedPorts, endpointMac } from './forwarding.ts';
import { renderLabInventory } from './inventory.ts';
import { bmv2Ports, isP4Leaf, leafForwarding, planP4Leaves, programBmv2Leaves, startBmv2Leaf, writeDeviceConfig, type P4Choice, type P4LeafPlan } from './p4-leaves.ts';
import { NODE_STAGING_DIR, lldpcli, makeClientKey, makeHostKey, snmpSecrets, startLldpd, startSnmpd, startSshd, startSwitchAgent, systemDescription } from './services.ts';
import {
  STATE_VERSION,
  labDir,
  mgmtNetnsName,
  netnsName,
  netnsTag,
  readState,
  writeState,
  type LabNodeState,
  type LabProcess,
  type LabState,
  type P4SwitchKind,
} from './state.ts';
import { linksOf, type LabNode, type LabTopology } from './topology.ts';
import { processAlive as alive } from '../orchestrator/process-alive.ts';

const log = logger('lab');

export const BRIDGE = 'br0';
const MGMT_BRIDGE = 'mgmt-br';

/** Namespace names carry the lab name: it must stay short and shell-safe. */
export function checkLabName(lab: string): string {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9-._]{0,39}$/.test(lab)) {
    throw new InputError([{ code: 'bad-lab-name', severity: 'error', message: `lab name "${lab}" cannot name namespaces`, hint: 'valid: 1-40 letters, digits, - . _ (the topology name, or --name)' }]);
  }
  return lab;
}

export function labNameOf(topo: LabTopology, override?: string): string {
  return checkLabName(override ?? topo.name);
}

export async function netnsList(): Promise<string[]> {
  const r = await run(['ip', 'netns', 'list']);
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((l) => l !== '');
}

/** Namespaces of this lab found by their tag, whether or not a state file lists them. */
async function taggedNamespaces(lab: string): Promise<string[]> {
  const prefix = `weft-${lab}-`;
  const out: string[] = [];
  for (const ns of await netnsList()) {
    if (!ns.startsWith(prefix)) continue;
    const r = await run(['ip', '-n', ns, '-o', 'link', 'show', 'lo'], { allowFail: true });
    if (r.code === 0 && r.stdout.includes(`alias ${netnsTag(lab)}`)) out.push(ns);
  }
  return out;
}

export interface DeployOptions {
  name?: string;
  /** Seconds to wait for every daemon to listen. */
  readyTimeoutS?: number;
  /** What runs the P4 leaves (default auto: bmv2 when its tools are here). */
  p4?: P4Choice;
}

export async function deploy(topo: LabTopology, opts: DeployOptions = {}): Promise<LabState> {
  const lab = labNameOf(topo, opts.name);
  // Decided (and a forced bmv2 without its tools refused) before anything is made.
  const p4 = await planP4Leaves(opts.p4 ?? 'auto', topo);
  const previous = readState(lab);
  if (previous) {
    const live = new Set(await netnsList());
    if (previous.phase === 'ready' && previous.namespaces.every((n) => live.has(n))) {
      throw new Error(`lab ${lab} is already deployed (${join(labDir(lab), 'state.json')}); run weft lab destroy first`);
    }
    log.warn({ lab }, 'stale lab state found: destroying the remains first');
  }
  // Remains of a crashed deploy (state or tagged namespaces) go first.
  await destroy(lab);

  const dir = labDir(lab);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mgmtNs = mgmtNetnsName(lab);
  const state: LabState = {
    version: STATE_VERSION,
    lab,
    topologyFile: topo.file,
    phase: 'deploying',
    createdAt: new Date().toISOString(),
    mgmtNetns: mgmtNs,
    mgmtSubnet: `${formatIp(4, topo.mgmtSubnet.addr)}/${topo.mgmtSubnet.len}`,
    mgmtGateway: topo.mgmtGateway,
    namespaces: [],
    processes: [],
    nodes: [],
    applied: {},
  };
  if (topo.nodes.some(isP4Leaf)) state.p4 = { kind: p4.kind, reason: p4.reason };
  writeState(state);
  try {
    await build(topo, lab, dir, state, p4, opts.readyTimeoutS ?? 60);
  } catch (e) {
    log.error({ lab, err: e instanceof Error ? e.message : String(e) }, 'deploy failed: removing what was built');
    await destroy(lab);
    throw e;
  }
  return state;
}

async function addNetns(state: LabState, ns: string, sysctls: string[]): Promise<void> {
  // Recorded first: a crash between the two leaves a name destroy will try.
  state.namespaces.push(ns);
  writeState(state);
  await run(['ip', 'netns', 'add', ns]);
  await ipBatch(['link set lo up', `link set lo alias ${netnsTag(state.lab)}`], ns);
  if (sysctls.length > 0) await inNetns(ns, `sysctl -qw ${sysctls.join(' ')}`);
}

async function build(topo: LabTopology, lab: string, dir: string, state: LabState, p4: P4LeafPlan, readyTimeoutS: number): Promise<void> {
  const tag = netnsTag(lab);
  const mgmtNs = state.mgmtNetns;
  const mgmtLen = topo.mgmtSubnet.len;
  const blocked = blockedPorts(topo);

  await addNetns(state, mgmtNs, ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  await ipBatch(
    [`link add ${MGMT_BRIDGE} type bridge stp_state 0 forward_delay 0`, `link set ${MGMT_BRIDGE} alias ${tag}`, `addr add ${topo.mgmtGateway}/${mgmtLen} dev ${MGMT_BRIDGE}`, `link set ${MGMT_BRIDGE} up`],
    mgmtNs,
  );

  for (const n of topo.nodes) {
    const ns = netnsName(lab, n.name);
    const sysctls =
      n.role === 'endpoint'
        ? ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']
        : // Forwarding nodes only bridge: no IPv6 stack of their own chattering on the data ports.
          ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'];
    await addNetns(state, ns, sysctls);
    const ports = linksOf(topo, n.name).map((l) => l.local.port);
    const ns_: LabNodeState = { name: n.name, role: n.role, netns: ns, ports, blockedPorts: blocked.get(n.name) ?? [] };
    if (n.role !== 'endpoint' && n.role !== 'bridge') ns_.mgmtIpv4 = n.mgmtIpv4;
    if (n.pipeline) {
      ns_.pipeline = n.pipeline;
      ns_.agentPort = n.p4runtime?.port ?? n.gnmi?.port;
    }
    if (isP4Leaf(n)) ns_.p4Switch = p4.kind;
    if (n.role === 'endpoint') ns_.addresses = n.addresses.map((a) => formatIp(a.family, a.value));
    state.nodes.push(ns_);
  }
  writeState(state);

  // Management veths (created straight into their namespaces: nothing appears in the root namespace).
  const mgmtNodes = topo.nodes.filter((n) => n.role !== 'endpoint' && n.role !== 'bridge');
  await ipBatch(mgmtNodes.map((n, i) => `link add name mgmt0 netns ${netnsName(lab, n.name)} type veth peer name m${i} netns ${mgmtNs}`));
  await ipBatch(mgmtNodes.flatMap((_, i) => [`link set m${i} alias ${tag}`, `link set m${i} master ${MGMT_BRIDGE}`, `link set m${i} up`]), mgmtNs);
  for (const n of mgmtNodes) {
    await ipBatch([`link set mgmt0 alias ${tag}`, `addr add ${n.mgmtIpv4}/${mgmtLen} dev mgmt0`, 'link set mgmt0 up'], netnsName(lab, n.name));
  }

  // Data links.
  await ipBatch(topo.links.map((l) => `link add name ${l.a.port} netns ${netnsName(lab, l.a.node)} type veth peer name ${l.b.port} netns ${netnsName(lab, l.b.node)}`));

  for (const n of topo.nodes) {
    const ns = netnsName(lab, n.name);
    const ports = linksOf(topo, n.name).map((l) => l.local.port);
    const lines = ports.map((p) => `link set ${p} alias ${tag}`);
    if (n.role === 'endpoint') {
      const [p] = ports;
      // A known MAC: a bmv2 leaf does not learn, the lab fills its L2 table.
      lines.push(`link set ${p} address ${endpointMac(topo, n.name)}`);
      for (const a of n.addresses) lines.push(`addr add ${formatIp(a.family, a.value)}/${a.family === 4 ? 32 : 128} dev ${p}${a.family === 6 ? ' nodad' : ''}`);
      lines.push(`link set ${p} up`, `route add 0.0.0.0/0 dev ${p}`, `route add ::/0 dev ${p}`);
    } else if (isP4Leaf(n) && p4.kind === 'bmv2') {
      // bmv2 takes the forwarding ports itself; a blocked one stays the kernel's, up (LLDP still crosses it) and bridged nowhere.
      for (const p of ports) lines.push(`link set ${p} up`);
    } else {
      const off = new Set(blocked.get(n.name) ?? []);
      lines.push(`link add ${BRIDGE} type bridge stp_state 0 forward_delay 0 mcast_snooping 0`, `link set ${BRIDGE} alias ${tag}`);
      for (const p of ports) {
        if (!off.has(p)) lines.push(`link set ${p} master ${BRIDGE}`);
        lines.push(`link set ${p} up`);
      }
      lines.push(`link set ${BRIDGE} up`);
    }
    await ipBatch(lines, ns);
    // bmv2 re-sends frames through a packet socket, which never completes a
    // checksum the sender left to offload: endpoints compute their own.
    if (n.role === 'endpoint' && p4.kind === 'bmv2') await inNetns(ns, ports.map((p) => `ethtool -K ${p} tx off >/dev/null`).join('\n'));
  }

  // Daemons.
  const keys = await makeClientKey(dir);
  const secrets = snmpSecrets(dir);
  const hostKeys = new Map<string, string>();
  const managed = topo.nodes.filter((n) => n.role !== 'endpoint' && n.role !== 'bridge');
  const describe = (n: LabNode): Parameters<typeof systemDescription>[0] => ({ ...n, p4Switch: isP4Leaf(n) ? p4.kind : undefined });
  for (const n of managed) {
    const ns = netnsName(lab, n.name);
    const nodeDir = join(dir, 'nodes', n.name);
    mkdirSync(nodeDir, { recursive: true, mode: 0o700 });
    switch (n.role) {
      case 'host':
      case 'dpu':
      case 'smartnic':
        hostKeys.set(n.name, await makeHostKey(nodeDir, n.name));
        addProcess(state, startSshd({ netns: ns, node: n.name, nodeDir, address: n.mgmtIpv4, keys }));
        break;
      case 'switch': {
        const pipeline = n.pipeline ?? 'openconfig';
        if (isP4Leaf(n) && p4.kind === 'bmv2') {
          addProcess(
            state,
            startBmv2Leaf({
              netns: ns,
              node: n.name,
              nodeDir,
              address: n.mgmtIpv4,
              port: n.p4runtime?.port ?? 9559,
              deviceId: n.p4runtime?.deviceId ?? 1,
              ports: bmv2Ports(linksOf(topo, n.name).map((l) => l.local.port), blocked.get(n.name) ?? []),
            }),
          );
          break;
        }
        addProcess(
          state,
          startSwitchAgent({
            netns: ns,
            node: n.name,
            nodeDir,
            pipeline,
            address: n.mgmtIpv4,
            port: n.p4runtime?.port ?? n.gnmi?.port ?? 0,
            deviceId: n.p4runtime?.deviceId ?? 0,
            ports: linksOf(topo, n.name).map((l) => l.local.port),
            bridge: BRIDGE,
          }),
        );
        break;
      }
      case 'endpoint':
      case 'bridge':
        break;
    }
    addProcess(state, startSnmpd({ netns: ns, node: n.name, nodeDir, address: n.mgmtIpv4, secrets, lab, description: systemDescription(describe(n)) }));
  }
  await waitReady(state, topo, readyTimeoutS);
  // Before lldpd starts: an unprogrammed leaf forwards nothing, a programmed one keeps LLDP on its link.
  const deviceConfigs = new Map<string, string>();
  if (p4.kind === 'bmv2') {
    const leaves = topo.nodes.filter(isP4Leaf);
    const config = writeDeviceConfig(dir, p4);
    for (const n of leaves) deviceConfigs.set(n.name, config);
    await programBmv2Leaves(
      mgmtNs,
      join(dir, config),
      leaves.map((n) => ({ device: n.name, address: `${n.mgmtIpv4}:${n.p4runtime?.port ?? 9559}`, deviceId: n.p4runtime?.deviceId ?? 1, updates: leafForwarding(topo, n, blocked) })),
    );
  }
  // lldpd registers with snmpd as soon as it starts, so it starts once every snmpd listens.
  for (const n of managed) {
    const nodeDir = join(dir, 'nodes', n.name);
    const ports = linksOf(topo, n.name).map((l) => l.local.port);
    addProcess(state, startLldpd({ netns: netnsName(lab, n.name), node: n.name, nodeDir, address: n.mgmtIpv4, role: n.role, ports, description: systemDescription(describe(n)) }));
  }
  await waitLldpNeighbours(state, topo, readyTimeoutS);

  const inventory = join(dir, 'fabric.yaml');
  writeFileSync(inventory, renderLabInventory({ topo, lab, hostKeys, identityFile: 'keys/client_ed25519', stagingDir: () => NODE_STAGING_DIR, deviceConfigs }), { mode: 0o600 });
  state.inventory = inventory;
  state.phase = 'ready';
  writeState(state);
}

function addProcess(state: LabState, p: LabProcess): void {
  state.processes.push(p);
  writeState(state);
}


function tail(file: string): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ');
}

/** Waits until every daemon listens on its management address. */
async function waitReady(state: LabState, topo: LabTopology, timeoutS: number): Promise<void> {
  const want = new Map<string, { proto: 'tcp' | 'udp'; addr: string; p: LabProcess }[]>();
  const byName = new Map(topo.nodes.map((n) => [n.name, n]));
  for (const p of state.processes) {
    const n = byName.get(p.node);
    if (!n) continue;
    const entry = (() => {
      switch (p.service) {
        case 'sshd':
          return { proto: 'tcp' as const, addr: `${n.mgmtIpv4}:22` };
        case 'snmpd':
          return { proto: 'udp' as const, addr: `${n.mgmtIpv4}:161` };
        case 'p4runtime-agent':
        case 'gnmi-agent':
        case 'bmv2':
          return { proto: 'tcp' as const, addr: `${n.mgmtIpv4}:${n.p4runtime?.port ?? n.gnmi?.port}` };
        case 'lldpd':
          // Listens on no port; waitLldpNeighbours watches it.
          return undefined;
      }
    })();
    if (!entry) continue;
    want.set(p.netns, [...(want.get(p.netns) ?? []), { ...entry, p }]);
  }
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const pending: string[] = [];
    for (const [ns, items] of want) {
      const r = await run(['ss', '-N', ns, '-H', '-ltnu'], { allowFail: true });
      const listening = r.stdout;
      for (const it of items) {
        if (!alive(it.p.pid)) throw new Error(`${it.p.service} on ${it.p.node} exited: ${tail(it.p.log)}`);
        if (!listening.split('\n').some((l) => l.startsWith(it.proto) && l.includes(` ${it.addr} `))) pending.push(`${it.p.node}/${it.p.service}`);
      }
    }
    if (pending.length === 0) return;
    if (Date.now() > deadline) throw new Error(`not listening after ${timeoutS}s: ${pending.join(', ')}`);
    await sleep(150);
  }
}

/**
 * Waits until every lldpd has heard a neighbour on each of its ports that
 * faces another lldpd (endpoints send no LLDP), so a discovery right after
 * deploy sees every link.
 */
async function waitLldpNeighbours(state: LabState, topo: LabTopology, timeoutS: number): Promise<void> {
  const speaks = new Set(state.processes.filter((p) => p.service === 'lldpd').map((p) => p.node));
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const pending: string[] = [];
    for (const p of state.processes.filter((x) => x.service === 'lldpd')) {
      if (!alive(p.pid)) throw new Error(`lldpd on ${p.node} exited: ${tail(p.log)}`);
      const want = linksOf(topo, p.node).filter((l) => speaks.has(l.peer.node)).map((l) => l.local.port);
      if (want.length === 0) continue;
      const r = await run(lldpcli(p.pid, ['-f', 'keyvalue', 'show', 'neighbors']), { allowFail: true });
      const heard = new Set(r.stdout.split('\n').map((l) => /^lldp\.([^.=]+)\.chassis\./.exec(l)?.[1]).filter((x) => x !== undefined));
      for (const port of want) if (!heard.has(port)) pending.push(`${p.node}:${port}`);
    }
    if (pending.length === 0) return;
    if (Date.now() > deadline) throw new Error(`no LLDP neighbour after ${timeoutS}s on ${pending.join(', ')}`);
    await sleep(200);
  }
}

async function netnsPids(ns: string): Promise<number[]> {
  const r = await run(['ip', 'netns', 'pids', ns], { allowFail: true });
  return r.stdout
    .split('\n')
    .filter((l) => /^\d+$/.test(l.trim()))
    .map(Number);
}

/** Stops every process inside the namespaces: TERM, a second to finish, then KILL. Returns how many there were. */
async function killNetnsProcesses(namespaces: string[]): Promise<number> {
  const all = async (): Promise<number[]> => (await Promise.all(namespaces.map(netnsPids))).flat();
  const first = await all();
  for (const pid of first) signal(pid, 'SIGTERM');
  let left = first;
  for (let i = 0; i < 20 && left.length > 0; i++) {
    await sleep(50);
    left = (await all()).filter(alive);
  }
  for (const pid of left) signal(pid, 'SIGKILL');
  return first.length;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Removes everything a lab made: its processes, namespaces (which takes their
 * veths, bridges, nftables tables, TC/XDP programs and bpffs mounts with them)
 * and its state directory. Safe to run twice, and after a crash.
 */
export async function destroy(lab: string): Promise<{ namespaces: string[]; processes: number }> {
  const state = readState(lab);
  if (state && state.phase !== 'destroying') {
    state.phase = 'destroying';
    writeState(state);
  }
  const live = new Set(await netnsList());
  const namespaces = [...new Set([...(state?.namespaces ?? []), ...(await taggedNamespaces(lab))])].filter((ns) => live.has(ns));
  let processes = 0;
  // Recorded processes whose namespace is already gone still get stopped,
  // provided the pid still runs one of ours (its command names this lab's directory).
  for (const p of state?.processes ?? []) {
    if (!alive(p.pid)) continue;
    const cmdline = existsSync(`/proc/${p.pid}/cmdline`) ? readFileSync(`/proc/${p.pid}/cmdline`, 'utf8') : '';
    if (cmdline.includes(labDir(lab)) || cmdline.includes(p.netns)) {
      signal(p.pid, 'SIGKILL');
      processes++;
    }
  }
  processes += await killNetnsProcesses(namespaces);
  await Promise.all(namespaces.map((ns) => run(['ip', 'netns', 'del', ns], { allowFail: true })));
  rmSync(labDir(lab), { recursive: true, force: true });
  return { namespaces, processes };
}

export interface InspectNode {
  name: string;
  role: string;
  netns: string;
  present: boolean;
  mgmt?: string;
  ports: string[];
  blockedPorts: string[];
  services: { service: string; pid: number; running: boolean }[];
  addresses?: string[];
  applied?: string;
  /** P4 leaves: bmv2 or the emulation. */
  p4Switch?: P4SwitchKind;
}

export interface InspectResult {
  lab: string;
  phase: string;
  topology: string;
  inventory?: string;
  mgmtNetns: string;
  mgmtSubnet: string;
  /** What runs the P4 leaves, and why. */
  p4?: LabState['p4'];
  nodes: InspectNode[];
}

export async function inspect(lab: string): Promise<InspectResult | undefined> {
  const state = readState(lab);
  if (!state) return undefined;
  const live = new Set(await netnsList());
  return {
    lab,
    phase: state.phase,
    topology: state.topologyFile,
    inventory: state.inventory,
    mgmtNetns: state.mgmtNetns,
    mgmtSubnet: state.mgmtSubnet,
    p4: state.p4,
    nodes: state.nodes.map((n) => ({
      name: n.name,
      role: n.pipeline ? `${n.role}/${n.pipeline}` : n.role,
      netns: n.netns,
      present: live.has(n.netns),
      mgmt: n.mgmtIpv4,
      ports: n.ports,
      blockedPorts: n.blockedPorts,
      services: state.processes.filter((p) => p.node === n.name).map((p) => ({ service: p.service, pid: p.pid, running: alive(p.pid) })),
      addresses: n.addresses,
      applied: state.applied[n.name]?.generation,
      p4Switch: n.p4Switch,
    })),
  };
}

/** Records the generation a rollout applied to a device of the lab. */
export function recordApplied(lab: string, device: string, generation: string): void {
  const state = readState(lab);
  if (!state) return;
  state.applied[device] = { generation, at: new Date().toISOString() };
  writeState(state);
}
