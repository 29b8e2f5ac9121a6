// Debian's chromium for the report's browser test and benchmark: headless,
// no sandbox (tests run as root), nothing that talks to the network on its
// own, a fresh profile each time, and every request that is not a file
// refused, so a page that needs the network fails instead of fetching.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Why chromium cannot run here, or undefined. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (apt-get install chromium; scripts/setup.sh installs it)`;
}

export interface OfflineBrowser {
  context: BrowserContext;
  /** URLs the pages asked for and were refused. */
  refused: string[];
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

export async function launchOffline(viewport = { width: 1400, height: 1000 }): Promise<OfflineBrowser> {
  const profile = mkdtempSync(join(tmpdir(), `weft-chromium-profile-${process.pid}-`));
  const refused: string[] = [];
  try {
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport });
    await context.route(/^(?!file:)/, (route) => {
      refused.push(route.request().url());
      return route.abort();
    });
    return {
      context,
      refused,
      close: async () => {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
}
