// Packs Weft with `npm pack` and installs the tarball into an empty directory
// outside the checkout, as a user would, so tests can run the installed
// `weft` with nothing from the checkout. The dependencies come from npm's
// cache (offline) when it holds them, else from the registry: the install is
// pinned by a lockfile made from Weft's own, so it gets the same versions.

import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packagePath } from '../../orchestrator/package-root.ts';

interface LockEntry {
  dev?: boolean;
  [key: string]: unknown;
}
interface PackageJson {
  name: string;
  version: string;
  license?: string;
  bin?: Record<string, string>;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
}

export interface PackedInstall {
  /** The temporary directory holding the tarball and the installing project. */
  dir: string;
  tarball: string;
  /** node_modules/weft inside the installing project. */
  packageDir: string;
  /** The installed `weft` entry point (run it with node). */
  bin: string;
  remove(): void;
}

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
}

/**
 * Packs the checkout (dist/ must be current: the test set-up builds it, so
 * `prepare` is not run again) and installs the tarball into a new temporary
 * directory readable by every user.
 */
export function installPacked(prefix: string): PackedInstall {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-${process.pid}-`));
  chmodSync(dir, 0o755);
  try {
    const packed = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], packagePath())) as { filename: string }[];
    const tarball = join(dir, packed[0].filename);
    const project = join(dir, 'project');
    const pkg = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as PackageJson;
    const lock = JSON.parse(readFileSync(packagePath('package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    const spec = `file:../${packed[0].filename}`;
    const packages: Record<string, unknown> = {
      '': { name: 'weft-install-test', version: '1.0.0', dependencies: { weft: spec } },
      'node_modules/weft': {
        version: pkg.version,
        resolved: spec,
        integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
        license: pkg.license,
        dependencies: pkg.dependencies,
        bin: pkg.bin,
        engines: pkg.engines,
      },
    };
    for (const [path, entry] of Object.entries(lock.packages)) if (path !== '' && !entry.dev) packages[path] = entry;
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'weft-install-test', version: '1.0.0', private: true, dependencies: { weft: spec } }, null, 2));
    writeFileSync(join(project, 'package-lock.json'), JSON.stringify({ name: 'weft-install-test', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2));
    npm(['ci', '--prefer-offline', '--no-audit', '--no-fund'], project);
    const packageDir = join(project, 'node_modules', 'weft');
    return { dir, tarball, packageDir, bin: join(project, 'node_modules', '.bin', 'weft'), remove: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
