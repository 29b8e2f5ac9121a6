// Runs the `weft agent` verb on its own, exactly as `weft agent ...` does,
// so the host kernel tests do not depend on every other verb loading.

import { formatHelp, parseArgs, UsageError } from '../../orchestrator/cli/command.ts';
import { agentCommand } from '../../orchestrator/cli/agent.ts';
import { setLogLevel } from '../../orchestrator/log.ts';

const io = {
  out: (t: string) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t: string) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};
try {
  const args = parseArgs(process.argv.slice(2), agentCommand.options);
  setLogLevel(String(args.options['log-level'] ?? 'warn'));
  process.exitCode = await agentCommand.run(args, io);
} catch (e) {
  if (e instanceof UsageError) {
    io.err(`weft agent: ${e.message}\n\n${formatHelp(agentCommand)}`);
    process.exitCode = 2;
  } else {
    io.err(`weft agent: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
}
