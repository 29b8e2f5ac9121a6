// `weft` entry point: dispatches to one module per verb, imported only when
// that verb runs (see commands.ts).

import { formatDiagnostic, InputError, UnsupportedError } from '../diagnostics.ts';
import { setLogLevel } from '../log.ts';
import { packageVersion } from '../package-root.ts';
import { formatHelp, parseArgs, UsageError, type CliIo } from './command.ts';
import { COMMANDS, type VerbEntry } from './commands.ts';

const stdio: CliIo = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

function topHelp(commands: VerbEntry[]): string {
  const lines = ['weft: one segmentation policy for every enforcement point of a fabric', '', 'usage: weft <command> [options]', '', 'commands:'];
  for (const c of commands) lines.push(`  ${c.name.padEnd(10)} ${c.summary}`);
  lines.push('', "run 'weft <command> --help' for a command's options, 'weft --version' for the version");
  return lines.join('\n');
}

export async function main(argv: string[], io: CliIo = stdio): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
    io.out(topHelp(COMMANDS));
    return verb ? 0 : 2;
  }
  if (verb === '--version' || verb === '-V') {
    io.out(`weft ${packageVersion()}`);
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === verb);
  if (!entry) {
    io.err(`weft: unknown command "${verb}" (valid: ${COMMANDS.map((c) => c.name).join(', ')})`);
    return 2;
  }
  const cmd = await entry.load();
  try {
    const args = parseArgs(rest, cmd.options);
    if (args.options.help) {
      io.out(formatHelp(cmd));
      return 0;
    }
    setLogLevel(String(args.options['log-level'] ?? 'warn'));
    return await cmd.run(args, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`weft ${cmd.name}: ${e.message}\n\n${formatHelp(cmd)}`);
      return 2;
    }
    if (e instanceof InputError) {
      for (const d of e.diagnostics) io.err(formatDiagnostic(d));
      return 2;
    }
    if (e instanceof UnsupportedError) {
      io.err(`weft ${cmd.name}: ${e.message}`);
      return 2;
    }
    io.err(`weft ${cmd.name}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
