// The logger in a child process of its own (its level and pino are process
// state): lines below the level are dropped without loading pino, lines at or
// above it are pino JSON on stderr, and --log-level takes effect on loggers
// created before it was set.

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const LOG = new URL('./log.ts', import.meta.url).href;

function runScript(body: string, env: Record<string, string> = {}): { stdout: string; stderr: string; code: number | null } {
  const script = `import { logger, setLogLevel } from ${JSON.stringify(LOG)};
import { createRequire } from 'node:module';
const pinoLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/pino/'));
${body}`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env, WEFT_LOG_LEVEL: env.WEFT_LOG_LEVEL ?? '' } });
  return { stdout: r.stdout, stderr: r.stderr, code: r.status };
}

describe('logger', () => {
  it('drops lines below the level without loading pino', () => {
    const r = runScript(`const log = logger('t'); log.debug('hidden'); log.info({ a: 1 }, 'hidden too'); console.log(pinoLoaded());`);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('false');
    expect(r.stderr).toBe('');
  });

  it('writes lines at or above the level as pino JSON on stderr, with the component', () => {
    const r = runScript(`const log = logger('rollout'); log.warn({ device: 'h1' }, 'slow'); console.log(pinoLoaded());`);
    expect(r.stdout.trim()).toBe('true');
    const line = JSON.parse(r.stderr.trim());
    expect(line).toMatchObject({ level: 40, component: 'rollout', device: 'h1', msg: 'slow' });
  });

  it('applies a level set after the logger was created, and takes WEFT_LOG_LEVEL at start', () => {
    const r = runScript(`const a = logger('a'); a.warn('first'); setLogLevel('debug'); a.debug('second'); logger('b').debug('third'); setLogLevel('error'); a.warn('dropped');`);
    expect(r.stderr.trim().split('\n').map((l) => JSON.parse(l).msg)).toEqual(['first', 'second', 'third']);
    const e = runScript(`logger('c').info('from env');`, { WEFT_LOG_LEVEL: 'info' });
    expect(JSON.parse(e.stderr.trim())).toMatchObject({ level: 30, msg: 'from env' });
  });

  it('refuses an unknown level and names the valid ones', () => {
    const r = runScript(`try { setLogLevel('loud'); } catch (e) { console.log(e.message); }`);
    expect(r.stdout).toContain('unknown log level "loud" (valid: fatal, error, warn, info, debug, trace, silent)');
  });
});
