// `weft` entry point: dispatches to one module per verb, imported only when
// that verb runs (see commands.ts).

import { packageVersion } from '../package-root.ts';
import { runCommand, type CliIo } from './command.ts';
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
  return runCommand(await entry.load(), rest, io);
}
