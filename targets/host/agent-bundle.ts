// The host agent as shipped: agent-main.ts and all it imports, bundled by
// esbuild into one ES module, weft-agent.mjs; beside it koffi.node, koffi's
// native module (machine code for one platform, so it cannot live inside the
// JavaScript file; the agent loads it from its own directory), and
// agent.json naming the version and the sha256 of both. A host needs Node 20
// and libbpf1; nothing of the orchestrator's layout.
//
// Where the files come from: `npm run build` writes them to dist/agent/
// (scripts/build-agent.ts); from sources (tests, development) they are built
// once per process into .weft-build/agent/, so they always match the code.

import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { packagePath } from '../../orchestrator/package-root.ts';
import { AGENT_VERSION } from './agent-version.ts';

export const AGENT_FILE = 'weft-agent.mjs';
export const KOFFI_FILE = 'koffi.node';
export const AGENT_MANIFEST = 'agent.json';
const MANIFEST_FORMAT = 'weft.host.agent-files/v1';

export interface AgentManifest {
  format: typeof MANIFEST_FORMAT;
  version: string;
  /** The files to ship, in the order they are checked; the manifest itself is not among them. */
  files: { name: string; sha256: string; bytes: number }[];
}

/** Node's platform naming, as koffi's prebuilt packages use it (glibc Linux: what Debian runs). */
const KOFFI_PLATFORM = `${process.platform}-${process.arch}`;

function koffiNative(): string {
  const fromKoffi = createRequire(createRequire(import.meta.url).resolve('koffi'));
  let pkg: string;
  try {
    pkg = dirname(fromKoffi.resolve(`@koromix/koffi-${KOFFI_PLATFORM}/package.json`));
  } catch {
    throw new Error(`koffi has no prebuilt native module for ${KOFFI_PLATFORM} (@koromix/koffi-${KOFFI_PLATFORM} is not installed)`);
  }
  return join(pkg, `${process.platform}_${process.arch}`, 'koffi.node');
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Bundles the agent into the empty directory tmp; returns its manifest. Needs esbuild (a devDependency). */
async function bundleInto(tmp: string): Promise<AgentManifest> {
  const esbuild = await import('esbuild');
  const shim = packagePath('targets', 'host', 'koffi-native.ts');
  await esbuild.build({
    entryPoints: [packagePath('targets', 'host', 'agent-main.ts')],
    outfile: join(tmp, AGENT_FILE),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    // CommonJS dependencies (pino) require Node's built-ins; an ES module has no `require` of its own.
    banner: { js: `#!/usr/bin/env node\n// weft-agent ${AGENT_VERSION}\nimport { createRequire as weftCreateRequire } from 'node:module';\nconst require = weftCreateRequire(import.meta.url);` },
    plugins: [
      {
        name: 'koffi-native-beside-agent',
        setup(b) {
          b.onResolve({ filter: /^\.\/src\/static\.js$/ }, (a) => (a.importer.includes('/node_modules/koffi/') ? { path: shim } : undefined));
        },
      },
    ],
  });
  copyFileSync(koffiNative(), join(tmp, KOFFI_FILE));
  const manifest: AgentManifest = {
    format: MANIFEST_FORMAT,
    version: AGENT_VERSION,
    files: [AGENT_FILE, KOFFI_FILE].map((name) => {
      const b = readFileSync(join(tmp, name));
      return { name, sha256: sha256(b), bytes: b.length };
    }),
  };
  writeFileSync(join(tmp, AGENT_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

function freshTemp(near: string): string {
  const tmp = `${near}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  return tmp;
}

/** Builds the agent files into outDir (replaced whole); returns their manifest. */
export async function buildAgentFiles(outDir: string): Promise<AgentManifest> {
  const tmp = freshTemp(outDir);
  const manifest = await bundleInto(tmp);
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir);
  return manifest;
}

/** Reads and checks a built agent directory's manifest against its files. */
export function readAgentFiles(dir: string): AgentManifest {
  const f = join(dir, AGENT_MANIFEST);
  if (!existsSync(f)) throw new Error(`${f} is missing: build the host agent with \`npm run build\``);
  const m = JSON.parse(readFileSync(f, 'utf8')) as AgentManifest;
  if (m.format !== MANIFEST_FORMAT) throw new Error(`${f}: unknown format "${String(m.format)}" (expected ${MANIFEST_FORMAT})`);
  if (m.version !== AGENT_VERSION) throw new Error(`${f}: agent ${m.version} does not belong to this release (${AGENT_VERSION}); run \`npm run build\``);
  for (const file of m.files) {
    if (sha256(readFileSync(join(dir, file.name))) !== file.sha256) throw new Error(`${join(dir, file.name)} does not match ${f}; run \`npm run build\``);
  }
  return m;
}

/** True when this module runs as compiled JavaScript under dist/ (the installed `weft`). */
const COMPILED = import.meta.url.endsWith('.js');
export const DIST_AGENT_DIR = packagePath('dist', 'agent');
const CACHE_DIR = packagePath('.weft-build', 'agent');
/** The agent files of this process, once known. */
let built: Promise<{ dir: string; manifest: AgentManifest }> | undefined;

/**
 * From sources: bundles once per process into a directory named by the
 * agent file's digest, so concurrent processes never replace files another
 * one is shipping.
 */
async function buildCached(): Promise<{ dir: string; manifest: AgentManifest }> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = freshTemp(join(CACHE_DIR, 'build'));
  const manifest = await bundleInto(tmp);
  const dir = join(CACHE_DIR, manifest.files[0].sha256.slice(0, 16));
  if (existsSync(join(dir, AGENT_MANIFEST))) rmSync(tmp, { recursive: true, force: true });
  else {
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  return { dir, manifest };
}

/**
 * The directory holding the agent files this orchestrator ships, and their
 * manifest; checked (or built) once per process, since a rollout asks once
 * per host and hashing the files each time would cost more than the push.
 */
export async function agentFiles(): Promise<{ dir: string; manifest: AgentManifest }> {
  built ??= COMPILED ? Promise.resolve().then(() => ({ dir: DIST_AGENT_DIR, manifest: readAgentFiles(DIST_AGENT_DIR) })) : buildCached();
  return built;
}
