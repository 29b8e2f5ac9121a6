// What the P4 tests need from the machine: p4c and simple_switch_grpc (found
// as targets/p4/p4c.ts finds them), root for namespaces. A test file asks
// once; when something is missing it skips with the reason, except under
// CI=true, where a missing tool fails the run.

import { findP4Tool, p4ToolMissing, type P4Tool } from '../../targets/p4/p4c.ts';

/** Why the tools cannot run here, or undefined when they can. Throws under CI=true. */
export function p4ToolsUnavailable(tools: P4Tool[], opts: { root?: boolean } = {}): string | undefined {
  const why: string[] = [];
  for (const t of tools) if (!findP4Tool(t)) why.push(p4ToolMissing(t));
  if (opts.root && process.getuid?.() !== 0) why.push('needs root (network namespaces)');
  if (why.length === 0) return undefined;
  const text = why.join('; ');
  if (process.env.CI === 'true') throw new Error(`P4 tool tests cannot run: ${text}`);
  console.log(`skipped: ${text}`);
  return text;
}
