// The list of CLI verbs, in the order `weft --help` shows them.
// Each verb lives in its own module; add a verb here and nowhere else.

import type { CliCommand } from './command.ts';
import { validateCommand } from './validate.ts';
import { compileCommand } from './compile.ts';
import { explainCommand } from './explain.ts';
import { verifyCommand } from './verify.ts';
import { labCommand } from './lab.ts';
import { agentCommand } from './agent.ts';
import { planCommand, applyCommand, statusCommand } from './rollout.ts';
import { rollbackCommand } from './rollback.ts';
import { diffCommand } from './diff.ts';
import { importCommand } from './import.ts';

export const COMMANDS: CliCommand[] = [
  validateCommand,
  compileCommand,
  explainCommand,
  verifyCommand,
  labCommand,
  agentCommand,
  planCommand, applyCommand, statusCommand,
  rollbackCommand,
  diffCommand,
  importCommand,
];
