// Report benchmark: the page for a 1,000-device fabric (four spines over the
// compile benchmark's leaves, hosts and DPUs; 3,000 endpoints, 500 rules).
// Measures building the model (layout included) and the HTML, the page's
// size, and, when Debian's chromium is installed, how long the page takes to
// open from disk and to answer one explain query. The manifest is made from
// the placement without running codegen (which the compile and target
// benchmarks measure), so devices show no entry counts here. Run alone:
//   npm run bench -- report

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle } from '../orchestrator/compile/bundle.ts';
import { buildIr } from '../orchestrator/ir/build.ts';
import { place } from '../orchestrator/placement/place.ts';
import { reportModel } from '../orchestrator/report/model.ts';
import { renderPage } from '../orchestrator/report/page.ts';
import { chromiumMissing, launchOffline } from '../test/browser/chromium.ts';
import { benchScenario } from './compile.ts';

const SPINES = 4;

function ms(since: number): number {
  return Math.round(performance.now() - since);
}

/** Opens the page in headless chromium (no network) and times the load and one explain query. */
async function inBrowser(file: string, src: string, dst: string): Promise<Record<string, number | string>> {
  const browser = await launchOffline();
  try {
    const page = await browser.context.newPage();
    let started = performance.now();
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    const loadMs = ms(started);
    const drawn = await page.locator('#fabric-svg g.dev').count();
    await page.fill('#explain-form input[name=src]', src);
    await page.fill('#explain-form input[name=dst]', dst);
    await page.fill('#explain-form input[name=port]', '443');
    started = performance.now();
    await page.click('#explain-form button[type=submit]');
    const verdict = await page.locator('#explain-out dl').getAttribute('data-verdict');
    return { browserLoadMs: loadMs, browserDrawnNodes: drawn, browserExplainMs: ms(started), browserVerdict: verdict ?? 'none', browserRefusedRequests: browser.refused.length };
  } finally {
    await browser.close();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const { policy, fabric } = benchScenario({ rules: 500, endpoints: 3_000, devices: 1_000 - SPINES, apps: 60, seed: 1, anyToAny: false });
  const leaves = fabric.devices.filter((d) => d.kind === 'switch').map((d) => d.name);
  for (let s = 0; s < SPINES; s++) {
    const name = `spine${s}`;
    fabric.devices.push({ name, kind: 'switch', pipeline: 'openconfig', mgmt: {}, labels: {}, span: { file: fabric.file, line: 1, col: 1 } });
    leaves.forEach((leaf, i) => fabric.links.push({ a: { device: leaf, port: `up${s}` }, b: { device: name, port: `eth${i + 1}` }, span: { file: fabric.file, line: 1, col: 1 } }));
  }
  let started = performance.now();
  const ir = buildIr(policy, fabric);
  const placement = place(policy, fabric, ir);
  const prepareMs = ms(started);
  const bundle: Bundle = {
    dir: '/bench/bundle',
    manifest: {
      apiVersion: 'weft.dev/v1',
      kind: 'Bundle',
      schemaVersion: 1,
      generator: 'weft bench',
      fabric: { name: fabric.name, digest: fabric.digest, source: 'source/inventory.yaml' },
      policy: { name: policy.name, digest: policy.digest, source: 'source/policy.yaml' },
      warnings: {},
      devices: placement.devices.map((d) => ({ name: d.device, kind: fabric.devices.find((x) => x.name === d.device)!.kind, target: d.target, mode: d.mode, generation: '', files: [], notes: [], stats: {} })),
    },
    policy,
    fabric,
    ir,
    placement,
    deviceDir: (name) => join('/bench/bundle/devices', name),
  };
  started = performance.now();
  const model = reportModel(bundle, []);
  const modelMs = ms(started);
  started = performance.now();
  const html = renderPage(model);
  const renderMs = ms(started);
  const figures: Record<string, unknown> = {
    devices: fabric.devices.length,
    drawnNodes: model.layout.nodes.length,
    links: model.layout.edges.length,
    rules: policy.rules.length,
    endpoints: fabric.endpoints.length,
    identities: ir.identities.length,
    irAndPlacementMs: prepareMs,
    modelMs,
    renderMs,
    pageBytes: Buffer.byteLength(html),
    explainDataBytes: Buffer.byteLength(JSON.stringify(model.explain)),
    svgWidthPx: model.layout.width,
    svgHeightPx: model.layout.height,
  };
  const missing = chromiumMissing();
  if (missing) return { ...figures, browser: `skipped: ${missing}` };
  const dir = mkdtempSync(join(tmpdir(), `weft-bench-report-${process.pid}-`));
  try {
    const file = join(dir, 'report.html');
    writeFileSync(file, html);
    const managed = fabric.endpoints.filter((e) => e.host !== undefined);
    const addr = (i: number) => {
      const a = managed[i].addresses[0];
      return `${Number((a.value >> 24n) & 255n)}.${Number((a.value >> 16n) & 255n)}.${Number((a.value >> 8n) & 255n)}.${Number(a.value & 255n)}`;
    };
    return { ...figures, ...(await inBrowser(file, addr(0), addr(managed.length - 1))) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
