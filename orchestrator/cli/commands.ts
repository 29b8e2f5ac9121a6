// The list of CLI verbs, in the order `weft --help` shows them.
// Each verb lives in its own module; add a verb here and nowhere else.

import type { CliCommand } from './command.ts';

export const COMMANDS: CliCommand[] = [];
