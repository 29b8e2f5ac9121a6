// The daemons a lab node runs, each started inside the node's namespace:
// sshd (per-lab host keys, one per-lab client key) on hosts and DPUs, the
// emulated switch agents on switches, and on every one of them snmpd (an
// AgentX master) with lldpd as its LLDP-MIB sub-agent, so the lab can be
// discovered the way a real fabric is. Configs are generated into the lab's
// state directory; nothing under /etc is read or written.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { nodeEntry } from '../orchestrator/package-root.ts';
import { remoteAgentDir } from '../targets/host/agent-ship.ts';
import { run } from './exec.ts';
import { labsRoot, type LabProcess } from './state.ts';

/** The host agent's run directory (and the parent of the labs' state by default). */
export const WEFT_RUN = '/run/weft';

/** Where a rollout stages bundles inside a lab node (the node's private /run/weft). */
export const NODE_STAGING_DIR = `${WEFT_RUN}/bundles`;

/** Where the rollout ships the host agent inside a lab node: beside the staging directory, so in the node's own /run/weft, never the checkout. */
export const NODE_AGENT_DIR = remoteAgentDir(NODE_STAGING_DIR);

export interface SshKeys {
  /** Private key of the per-lab client; referenced from the inventory, never copied into it. */
  clientKey: string;
  clientPub: string;
}

/** The per-lab client key (ed25519), made once per deploy. */
export async function makeClientKey(dir: string): Promise<SshKeys> {
  const keys = join(dir, 'keys');
  mkdirSync(keys, { recursive: true, mode: 0o700 });
  const clientKey = join(keys, 'client_ed25519');
  if (!existsSync(clientKey)) await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'weft-lab-client', '-f', clientKey]);
  return { clientKey, clientPub: `${clientKey}.pub` };
}

/** A node's host key; returns the public key line (the inventory pins it). */
export async function makeHostKey(nodeDir: string, node: string): Promise<string> {
  const key = join(nodeDir, 'ssh_host_ed25519_key');
  if (!existsSync(key)) await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `weft-lab-${node}`, '-f', key]);
  const [type, blob] = readFileSync(`${key}.pub`, 'utf8').trim().split(/\s+/);
  return `${type} ${blob}`;
}

/** A per-lab secret in a file of its own (not in the inventory), made on first use. */
function labSecret(dir: string, file: string, prefix: string): string {
  const f = join(dir, file);
  if (!existsSync(f)) writeFileSync(f, `${prefix}${randomBytes(8).toString('hex')}\n`, { mode: 0o600 });
  return readFileSync(f, 'utf8').trim();
}

/** The lab's SNMP credentials: a v2c community and an SNMPv3 user (SHA-256 / AES), each key in its own file. */
export interface SnmpSecrets {
  community: string;
  v3User: string;
  v3AuthKey: string;
  v3PrivKey: string;
}

export const LAB_SNMP_USER = 'weftlab';
export const SNMP_SECRET_FILES = { community: 'snmp-community', v3AuthKey: 'snmpv3-auth-key', v3PrivKey: 'snmpv3-priv-key' } as const;

export function snmpSecrets(dir: string): SnmpSecrets {
  return {
    community: labSecret(dir, SNMP_SECRET_FILES.community, 'weft'),
    v3User: LAB_SNMP_USER,
    v3AuthKey: labSecret(dir, SNMP_SECRET_FILES.v3AuthKey, 'auth'),
    v3PrivKey: labSecret(dir, SNMP_SECRET_FILES.v3PrivKey, 'priv'),
  };
}

/** Starts argv inside netns, detached, its output to `log`; returns its pid. */
export function startInNetns(netns: string, argv: string[], log: string, env: Record<string, string> = {}): number {
  const fd = openSync(log, 'a', 0o600);
  try {
    const child = spawn('ip', ['netns', 'exec', netns, ...argv], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...env },
    });
    if (child.pid === undefined) throw new Error(`cannot start ${argv[0]} in ${netns}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export function startSshd(opts: { netns: string; node: string; nodeDir: string; address: string; keys: SshKeys }): LabProcess {
  const conf = join(opts.nodeDir, 'sshd_config');
  writeFileSync(
    conf,
    [
      `ListenAddress ${opts.address}`,
      'Port 22',
      `HostKey ${join(opts.nodeDir, 'ssh_host_ed25519_key')}`,
      `PidFile ${join(opts.nodeDir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${opts.keys.clientPub}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      // The state directory lives under /run with root ownership; the key files are 0600.
      'StrictModes no',
      'PrintMotd no',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  mkdirSync(WEFT_RUN, { recursive: true, mode: 0o755 });
  const nodeRun = join(opts.nodeDir, 'run');
  mkdirSync(nodeRun, { recursive: true, mode: 0o700 });
  const log = join(opts.nodeDir, 'sshd.log');
  // Everything a session runs sees the node as its own machine: `ip netns exec`
  // gives sshd a private mount namespace, where bpffs is mounted for the
  // agent's pins and /run/weft is the node's own directory (agent state of
  // two nodes must not meet in one /run/weft). The lab directories stay
  // visible at their usual path inside it, for sshd's own config and keys.
  const labsRel = relative(WEFT_RUN, labsRoot());
  const keepLabs = !labsRel.startsWith('..') && labsRel !== '';
  const script = [
    'set -e',
    keepLabs ? `mkdir -p "$2/${labsRel}" && mount --bind "$3" "$2/${labsRel}"` : '',
    `mount --rbind "$2" ${WEFT_RUN}`,
    'mount -t bpf bpf /sys/fs/bpf',
    // Its own UTS namespace (unshare below), so `hostname` in a session names the node.
    'hostname "$4"',
    'exec /usr/sbin/sshd -D -e -f "$1"',
  ]
    .filter((l) => l !== '')
    .join('\n');
  const pid = startInNetns(opts.netns, ['unshare', '--uts', 'sh', '-c', script, 'sshd-start', conf, nodeRun, labsRoot(), opts.node], log);
  return { node: opts.node, netns: opts.netns, service: 'sshd', pid, log };
}

/** What a node says it is (SNMP sysDescr, LLDP system description): the words a discovery tells kinds by. */
export function systemDescription(n: { role: string; pipeline?: string; profile?: string; p4Switch?: string }): string {
  switch (n.role) {
    case 'switch':
      if (n.pipeline !== 'p4') return 'Weft lab switch: emulated OpenConfig agent (gNMI)';
      return n.p4Switch === 'bmv2' ? 'Weft lab switch: bmv2 simple_switch_grpc running Weft P4 pipeline (P4Runtime)' : 'Weft lab switch: emulated P4Runtime pipeline (bmv2-compatible)';
    case 'dpu':
    case 'smartnic':
      return `Weft lab ${n.role === 'dpu' ? 'DPU' : 'SmartNIC'} (${n.profile ?? 'generic'} profile) on Linux`;
    default:
      return `Weft lab ${n.role} on Linux`;
  }
}

/** The AgentX socket of a node's snmpd, where its lldpd registers the LLDP-MIB. */
function agentxSocket(nodeDir: string): string {
  return join(nodeDir, 'agentx.sock');
}

export function startSnmpd(opts: { netns: string; node: string; nodeDir: string; address: string; secrets: SnmpSecrets; lab: string; description: string }): LabProcess {
  const conf = join(opts.nodeDir, 'snmpd.conf');
  const persist = join(opts.nodeDir, 'snmp');
  mkdirSync(persist, { recursive: true, mode: 0o700 });
  writeFileSync(
    conf,
    [
      `rocommunity ${opts.secrets.community} default`,
      `createUser ${opts.secrets.v3User} SHA-256 ${opts.secrets.v3AuthKey} AES ${opts.secrets.v3PrivKey}`,
      `rouser ${opts.secrets.v3User} priv`,
      `sysName ${opts.node}`,
      `sysDescr ${opts.description}`,
      `sysLocation weft lab ${opts.lab}`,
      `sysContact weft`,
      'master agentx',
      `agentXSocket ${agentxSocket(opts.nodeDir)}`,
      `[snmp] persistentDir ${persist}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const log = join(opts.nodeDir, 'snmpd.log');
  const argv = ['/usr/sbin/snmpd', '-f', '-Lo', '-C', '-c', conf, '-p', join(opts.nodeDir, 'snmpd.pid'), `udp:${opts.address}:161`];
  const pid = startInNetns(opts.netns, argv, log, { MIBS: '', MIBDIRS: '/nonexistent' });
  return { node: opts.node, netns: opts.netns, service: 'snmpd', pid, log };
}

/**
 * lldpd's run directory as the daemon sees it. lldpcli is setuid to lldpd's
 * user, which cannot search the lab's root-only state directory, so each
 * lldpd runs in a mount namespace of its own where its node's directory is
 * bound here (chroot, control socket and all); lldpcli reaches it from
 * inside that namespace (see lldpcli()).
 */
const LLDPD_RUN = '/run/lldpd';

/** argv running lldpcli against the lldpd started as pid (in that lldpd's mount namespace). */
export function lldpcli(pid: number, args: string[]): string[] {
  return ['nsenter', '-t', String(pid), '-m', 'lldpcli', '-u', `${LLDPD_RUN}/lldpd.sock`, ...args];
}

/**
 * lldpd on the node's data ports, registered into the node's snmpd over
 * AgentX. Port ids are interface names (what links are named by), the
 * management address is the node's, and capabilities follow the role, since
 * every lab node forwards through a Linux bridge and lldpd would otherwise
 * call every one of them a bridge. A one-second transmit interval lets a
 * freshly deployed lab converge within a few seconds.
 */
export function startLldpd(opts: { netns: string; node: string; nodeDir: string; address: string; role: string; ports: string[]; description: string }): LabProcess {
  const runDir = join(opts.nodeDir, 'lldpd');
  mkdirSync(runDir, { recursive: true, mode: 0o755 });
  // The mount point in the machine's /run, like sshd's /run/sshd: lldpd itself would create it.
  mkdirSync(LLDPD_RUN, { recursive: true, mode: 0o755 });
  const conf = join(runDir, 'lldpd.conf');
  const quote = (s: string): string => `"${s.replace(/["\\]/g, '')}"`;
  writeFileSync(
    conf,
    [
      `configure system hostname ${quote(opts.node)}`,
      `configure system description ${quote(opts.description)}`,
      // No data port: a pattern nothing matches, so the management port never speaks LLDP.
      `configure system interface pattern ${opts.ports.length > 0 ? opts.ports.join(',') : '!*'}`,
      `configure system ip management pattern ${opts.address}`,
      `configure system capabilities enabled ${opts.role === 'switch' ? 'bridge' : 'station'}`,
      'configure lldp portidsubtype ifname',
      'configure lldp tx-interval 1',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const log = join(opts.nodeDir, 'lldpd.log');
  const script = [
    'set -e',
    `mount --bind "$1" ${LLDPD_RUN}`,
    `exec /usr/sbin/lldpd -d -x -X "$2" -u ${LLDPD_RUN}/lldpd.sock -O ${LLDPD_RUN}/lldpd.conf`,
  ].join('\n');
  const pid = startInNetns(opts.netns, ['sh', '-c', script, 'lldpd-start', runDir, agentxSocket(opts.nodeDir)], log);
  return { node: opts.node, netns: opts.netns, service: 'lldpd', pid, log };
}

export function startSwitchAgent(opts: {
  netns: string;
  node: string;
  nodeDir: string;
  pipeline: 'p4' | 'openconfig';
  address: string;
  port: number;
  deviceId: number;
  ports: string[];
  bridge: string;
}): LabProcess {
  const log = join(opts.nodeDir, 'agent.log');
  const argv = [
    process.execPath,
    ...nodeEntry('lab/agents/start-switch-agent.ts'),
    '--pipeline', opts.pipeline,
    '--device', opts.node,
    '--listen', `${opts.address}:${opts.port}`,
    '--device-id', String(opts.deviceId),
    '--bridge', opts.bridge,
    '--ports', opts.ports.join(','),
  ];
  const pid = startInNetns(opts.netns, argv, log, { WEFT_LOG_LEVEL: 'info' });
  return { node: opts.node, netns: opts.netns, service: opts.pipeline === 'p4' ? 'p4runtime-agent' : 'gnmi-agent', pid, log };
}
