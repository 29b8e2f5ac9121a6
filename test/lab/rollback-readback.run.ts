// Run inside a lab's management namespace by rollback.test.ts: reads back what
// every device of a bundle runs (P4Runtime table, gNMI /acl, the shipped
// agent's `status` over SSH) and prints, per device, how it differs from that bundle's
// artefacts, as JSON.

import { readFileSync } from 'node:fs';
import { readBundle } from '../../orchestrator/compile/bundle.ts';
import { SshSession } from '../../orchestrator/rollout/ssh.ts';
import { NODE_AGENT_DIR } from '../../lab/services.ts';
import { agentCommandLine } from '../../targets/host/agent-ship.ts';
import { readHostRules } from '../../targets/host/share.ts';
import { OpenconfigDriver } from '../../targets/openconfig/driver.ts';
import { driftP4 } from '../../targets/p4/driver.ts';

const [bundleDir, identity] = process.argv.slice(2);
const bundle = await readBundle(bundleDir);
const out: Record<string, string[]> = {};
for (const md of bundle.manifest.devices) {
  const device = bundle.fabric.devices.find((d) => d.name === md.name);
  if (!device) throw new Error(`${md.name} is not in the bundle's inventory`);
  switch (md.target) {
    case 'p4': {
      out[md.name] = await driftP4({ device, deviceDir: bundle.deviceDir(md.name) });
      break;
    }
    case 'openconfig': {
      const a = device.mgmt.address as string;
      const driver = new OpenconfigDriver(`${a.includes(':') ? `[${a}]` : a}:${device.mgmt.gnmi?.port}`);
      try {
        out[md.name] = await driver.drift(bundle.deviceDir(md.name));
      } finally {
        driver.close();
      }
      break;
    }
    case 'host':
    case 'dpu': {
      const ssh = device.mgmt.ssh;
      const session = await SshSession.connect({ name: md.name, host: device.mgmt.address as string, port: ssh?.port ?? 22, user: ssh?.user ?? 'root', privateKey: readFileSync(identity), hostKey: ssh?.hostKey });
      try {
        const r = await session.exec(agentCommandLine(NODE_AGENT_DIR, ['status', '--device', md.name, '--json']));
        if (r.code !== 0) throw new Error(`${md.name}: weft agent status exited ${r.code}: ${r.stderr}`);
        const status = JSON.parse(r.stdout) as { bundle: string; rules: { name: string; action: string }[] };
        const wanted = readHostRules(bundle.deviceDir(md.name));
        const diffs: string[] = [];
        if (!status.bundle.endsWith(`${md.name}-${md.generation.slice(0, 16)}`)) diffs.push(`runs bundle ${status.bundle}, not generation ${md.generation.slice(0, 16)}`);
        const show = (rs: { name: string; action: string }[]): string => rs.map((x) => `${x.name}:${x.action}`).join(',');
        if (show(status.rules) !== show(wanted)) diffs.push(`rules ${show(status.rules)}, wanted ${show(wanted)}`);
        out[md.name] = diffs;
      } finally {
        session.close();
      }
      break;
    }
  }
}
console.log(JSON.stringify(out));
