// The report page in a real browser: Debian's chromium, headless, driven by
// playwright-core with a fresh profile and every network request refused.
// It opens the example's report from disk, checks that the drawing shows
// every device of examples/fabric.yaml, asks the explain box about flows and
// compares its verdicts and deciding rules with the reference evaluator, and
// takes a screenshot (WEFT_REPORT_SCREENSHOT=path keeps it, for the README).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../inventory/load.ts';
import { compileBundle } from '../../orchestrator/compile/driver.ts';
import { protoName } from '../../orchestrator/explain/explain.ts';
import type { Flow } from '../../orchestrator/flow.ts';
import { formatIp } from '../../orchestrator/net/ip.ts';
import { loadPolicy } from '../../orchestrator/policy/load.ts';
import { ReferenceEvaluator } from '../../orchestrator/reference/evaluator.ts';
import { writeReport } from '../../orchestrator/report/report.ts';
import { flow } from '../../orchestrator/testing/build.ts';
import { generateFlows, makeRng } from '../../orchestrator/testing/generate.ts';
import { chromiumMissing, launchOffline, type OfflineBrowser } from './chromium.ts';

const why = chromiumMissing();
if (why && process.env.CI === 'true') throw new Error(`report browser test cannot run: ${why}`);
if (why) console.log(`skipping the report browser test: ${why}`);

const policy = loadPolicy('examples/policy.yaml');
const fabric = loadInventory('examples/fabric.yaml');
const reference = new ReferenceEvaluator(policy, fabric);

let work: string;
let browser: OfflineBrowser;
let page: Page;
const pageErrors: string[] = [];

/** Asks the page's explain box about a flow; returns what the page shows. */
async function askPage(f: Flow): Promise<{ verdict: string | null; rule: string | null; text: string }> {
  const icmp = f.proto === 1 || f.proto === 58;
  await page.fill('#explain-form input[name=src]', formatIp(f.src.family, f.src.value));
  await page.fill('#explain-form input[name=dst]', formatIp(f.dst.family, f.dst.value));
  await page.selectOption('#explain-form select[name=proto]', protoName(f.proto));
  await page.fill('#explain-form input[name=port]', String(icmp ? (f.icmpType ?? 0) : f.dport));
  await page.click('#explain-form button[type=submit]');
  const out = page.locator('#explain-out dl');
  return { verdict: await out.getAttribute('data-verdict'), rule: await out.getAttribute('data-rule'), text: await page.locator('#explain-out').innerText() };
}

describe.skipIf(why !== undefined)('weft report in headless chromium', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), `weft-report-browser-${process.pid}-`));
    const bundle = join(work, 'bundle');
    await compileBundle({ policyPath: 'examples/policy.yaml', inventoryPath: 'examples/fabric.yaml', outDir: bundle });
    await writeReport(bundle, join(work, 'report.html'));
    browser = await launchOffline();
    page = await browser.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`file://${join(work, 'report.html')}`);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('draws every device of examples/fabric.yaml, visibly, and requests nothing from the network', async () => {
    for (const d of fabric.devices) {
      const box = await page.locator(`#fabric-svg g.dev[data-name="${d.name}"]`).boundingBox();
      expect(box, d.name).not.toBeNull();
      expect(box!.width * box!.height, d.name).toBeGreaterThan(100);
    }
    expect(await page.locator('#fabric-svg g.dev').count()).toBe(fabric.devices.length + fabric.endpoints.filter((e) => e.host === undefined).length);
    expect(browser.refused).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('shows a device’s details when it is clicked', async () => {
    await page.click('#fabric-svg g.dev[data-name="leaf2"]');
    const details = await page.locator('#details').innerText();
    expect(details).toContain('leaf2');
    expect(details).toMatch(/[\d,]+ of 4,096 entries \(\d+%, ok\)/);
    expect(details).toMatch(/monitor-1 on eth5/);
    expect(await page.locator('#fabric-svg line.link.hl').count()).toBe(5);
  });

  it('lists where a rule is enforced and why when its row is opened', async () => {
    const row = page.locator('#rules tr[data-rule="quarantine-in"] details.points');
    await row.locator('summary').click();
    // The list is filled by the 'toggle' event, which the page gets as a task after the click.
    await row.locator('li').first().waitFor();
    expect(await row.locator('li').count()).toBe(18);
    expect(await row.innerText()).toContain('leaf2 eth5 ingress exact: traffic from monitor-1 (unmanaged behind leaf2:eth5) is checked as it enters');
  });

  it('explains flows with the reference evaluator’s verdicts and rules', async () => {
    const chosen: Flow[] = [
      flow('10.0.1.11', '10.0.3.99', 'icmp', 8, 0),
      flow('10.0.1.11', '10.0.2.21', 'tcp', 49152, 8443),
      flow('10.0.2.21', '10.0.3.31', 'tcp', 49152, 5432),
      flow('10.250.9.5', '10.0.3.31', 'tcp', 49152, 5432),
      flow('198.51.100.7', '10.0.1.11', 'tcp', 49152, 443),
      flow('fd00:1::11', 'fd00:3::31', 'tcp', 49152, 5432),
      flow('10.250.1.10', '10.0.1.12', 'tcp', 49152, 22),
      ...generateFlows(makeRng(7), policy, fabric, 400)
        .filter((f) => f.proto === 6 || f.proto === 17 || (f.proto === 1 && f.src.family === 4) || (f.proto === 58 && f.src.family === 6))
        .filter((f) => f.icmpCode === undefined || f.icmpCode === 0)
        .slice(0, 25),
    ];
    const verdicts = new Set<string>();
    for (const f of chosen) {
      const want = reference.verdict(f);
      const got = await askPage(f);
      expect({ verdict: got.verdict, rule: got.rule }, got.text).toEqual({ verdict: want.verdict, rule: want.rule >= 0 ? policy.rules[want.rule].name : '' });
      verdicts.add(want.verdict);
    }
    console.log(`report browser test: ${chosen.length} flows explained in the page, all as the reference evaluator decides`);
    expect(verdicts).toEqual(new Set(['allow', 'deny']));
    expect(pageErrors).toEqual([]);
  });

  it('says what is wrong with a flow it cannot evaluate', async () => {
    await page.fill('#explain-form input[name=src]', 'web-1');
    await page.click('#explain-form button[type=submit]');
    expect(await page.locator('#explain-out [data-error]').innerText()).toMatch(/not an IPv4 or IPv6 address/);
  });

  it('takes a screenshot of the fabric with an explained flow', async () => {
    const ping = await askPage(flow('10.0.1.11', '10.0.3.99', 'icmp', 8, 0));
    expect(ping.verdict).toBe('deny');
    expect(await page.locator('#fabric-svg g.dev.on-path').count()).toBeGreaterThanOrEqual(4);
    await page.click('#fabric-svg g.dev[data-name="leaf4"]');
    const path = process.env.WEFT_REPORT_SCREENSHOT ?? join(work, 'report.png');
    await page.screenshot({ path, fullPage: true, clip: { x: 0, y: 0, width: 1400, height: 1320 } });
    const png = readFileSync(path);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(20_000);
  });
});
