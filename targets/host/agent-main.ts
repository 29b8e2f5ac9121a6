// weft-agent: the host agent as a program of its own, the entry point of the
// one file Weft ships to hosts (agent-bundle.ts). It takes the verbs and
// options of `weft agent` (apply, status, logs, confirm, remove) and needs
// only Node and the system's libbpf.so.1 on the host.

import { pino } from 'pino';
import { providePino } from '../../orchestrator/log.ts';
import { runCommand, type CliIo } from '../../orchestrator/cli/command.ts';
import { agentCommandFor } from '../../orchestrator/cli/agent.ts';
import { AGENT_VERSION } from './agent-version.ts';

providePino({ pino });

const io: CliIo = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

const argv = process.argv.slice(2);
if (argv[0] === '--version' || argv[0] === '-V') {
  io.out(`weft-agent ${AGENT_VERSION}`);
} else {
  // The confirm timer reruns this very file, detached.
  process.exitCode = await runCommand(agentCommandFor({ title: 'weft-agent', self: [process.argv[1]] }), argv, io, 'weft-agent');
}
