// `weft report` on the example bundle: the page draws every device and
// unmanaged endpoint, places every rule with its file:line:col, shows each
// device's entries against capacity and the analysis warnings, carries its
// explain data, and references nothing outside itself. Bad bundles and bad
// --out exit 2 and write nothing.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHADOWED_RULE, writeShadowedExamplePolicy } from '../testing/shadowed.ts';
import type { Device } from '../../inventory/model.ts';
import { main } from '../cli/main.ts';
import { compileBundle } from '../compile/driver.ts';
import type { ManifestDevice } from '../compile/manifest.ts';
import { loadPolicy } from '../policy/load.ts';
import { loadInventory } from '../../inventory/load.ts';
import { usageOf } from './capacity.ts';
import { renderReport } from './report.ts';


let work: string;
let bundle: string;
let html: string;
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'weft-report-test-'));
  const policyPath = writeShadowedExamplePolicy(work);
  bundle = join(work, 'bundle');
  await compileBundle({ policyPath, inventoryPath: 'examples/fabric.yaml', outDir: bundle });
  html = await renderReport(bundle);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function cli(...argv: string[]): { code: Promise<number>; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { code: main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) }), out, err };
}

describe('weft report page', () => {
  it('draws every device and unmanaged endpoint of the fabric, coloured by target and mode', () => {
    const fabric = loadInventory('examples/fabric.yaml');
    const drawn = [...html.matchAll(/<g class="dev ([^"]*)" data-name="([^"]+)"/g)].map((m) => ({ cls: m[1], name: m[2] }));
    const unmanaged = fabric.endpoints.filter((e) => e.host === undefined).map((e) => e.name);
    expect(drawn.map((d) => d.name).sort()).toEqual([...fabric.devices.map((d) => d.name), ...unmanaged].sort());
    const cls = (name: string) => drawn.find((d) => d.name === name)!.cls;
    expect(cls('leaf1')).toBe('role-leaf t-p4 m-prefilter');
    expect(cls('leaf4')).toBe('role-leaf t-openconfig m-exact');
    expect(cls('spine1')).toBe('role-spine t-openconfig m-prefilter');
    expect(cls('dpu3')).toBe('role-dpu t-dpu m-prefilter');
    expect(cls('host1')).toBe('role-host t-host m-exact');
    expect(cls('legacy-db')).toBe('role-endpoint t-none');
    // One line per link plus one per unmanaged endpoint.
    expect([...html.matchAll(/<line class="link"/g)].length).toBe(fabric.links.length + unmanaged.length);
  });

  it('lists every rule in order with its section, file:line:col and where it is enforced', () => {
    const policy = loadPolicy(join(bundle, 'source/policy.yaml'));
    const rows = [...html.matchAll(/<tr data-rule="([^"]+)"><td class="num">(\d+)<\/td><td>([^<]*)<\/td>.*?<td class="loc">([^<]+)<\/td><td>(.*?)<\/td><\/tr>/g)];
    expect(rows.map((r) => r[1])).toEqual(policy.rules.map((r) => r.name));
    for (const [i, r] of policy.rules.entries()) {
      expect(rows[i][3]).toBe(r.section || '-');
      expect(rows[i][4]).toBe(`source/policy.yaml:${r.span.line}:${r.span.col}`);
    }
    const quarantineIn = rows.find((r) => r[1] === 'quarantine-in')!;
    expect(quarantineIn[5]).toMatch(/18 points on 12 devices \(10 exact, 8 prefilter\)/);
    // The points themselves travel once in the page's data, by index.
    const data = JSON.parse(html.match(/<script type="application\/json" id="weft-report-data">(.*?)<\/script>/s)![1]);
    const reasons = data.explain.rules[1].points.map((i: number) => data.explain.points[i].reason);
    expect(reasons).toHaveLength(18);
    expect(reasons).toContain('leaf2 eth5 ingress exact: traffic from monitor-1 (unmanaged behind leaf2:eth5) is checked as it enters');
  });

  it('shows entries against capacity for every compiled device', () => {
    const rows = [...html.matchAll(/<tr class="usage-(\w+)" data-device="([^"]+)">(.*?)<\/tr>/g)];
    expect(rows.length).toBe(14);
    const leaf3 = rows.find((r) => r[2] === 'leaf3')!;
    expect(leaf3[1]).toBe('ok');
    expect(leaf3[3]).toMatch(/<td class="num">\d+<\/td><td class="num">1,024<\/td>/);
    // Hosts record no limit in the example: said so, not invented.
    expect(rows.find((r) => r[2] === 'host1')![3]).toContain('no limit recorded');
  });

  it('classifies usage: ok, near (80%), over, unknown', () => {
    const m = (stats: Record<string, number>): ManifestDevice => ({ name: 'd', kind: 'switch', target: 'p4', mode: 'exact', generation: '', files: [], notes: [], stats });
    const dev = (aclEntries?: number) => ({ capacity: aclEntries === undefined ? undefined : { aclEntries } }) as Device;
    expect(usageOf(m({ entries: 10, capacity: 100 }), dev())).toEqual({ used: 10, limit: 100, limitFrom: 'codegen', level: 'ok' });
    expect(usageOf(m({ entries: 80 }), dev(100))).toEqual({ used: 80, limit: 100, limitFrom: 'inventory', level: 'near' });
    expect(usageOf(m({ policyEntries: 101 }), dev(100)).level).toBe('over');
    expect(usageOf(m({ entries: 5 }), dev()).level).toBe('unknown');
  });

  it('shows the analysis warnings as validate reports them', () => {
    expect(html).toContain('<code>shadowed-rule</code>');
    expect(html).toMatch(new RegExp(`policy\\.yaml:\\d+:\\d+</td><td>[^<]*${SHADOWED_RULE}`));
  });

  it('is self-contained: no external scripts, styles, images or fonts', () => {
    expect(html).not.toMatch(/<(script|img|link|iframe)[^>]+(src|href)=/i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    const data = JSON.parse(html.match(/<script type="application\/json" id="weft-report-data">(.*?)<\/script>/s)![1]);
    expect(data.explain.rules.length).toBe(24);
    expect(Object.keys(data.nodes)).toContain('legacy-db');
  });
});

describe('weft report CLI', () => {
  it('writes the page and says where', async () => {
    const out = join(work, 'r.html');
    const r = cli('report', '--bundle', bundle, '--out', out);
    expect(await r.code).toBe(0);
    expect(r.out.join('\n')).toContain(`wrote ${out}`);
    expect(readFileSync(out, 'utf8')).toBe(html);
  });

  it('exits 2 with a clear error on a missing, foreign or damaged bundle, writing nothing', async () => {
    const out = join(work, 'never.html');
    const missing = cli('report', '--bundle', join(work, 'no-such-dir'), '--out', out);
    expect(await missing.code).toBe(2);
    expect(missing.err.join('\n')).toMatch(/no-such-dir is not a Weft bundle \(no manifest\.json; create one with weft compile\)/);

    const foreign = join(work, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'manifest.json'), '{"kind": "Something"}');
    const bad = cli('report', '--bundle', foreign, '--out', out);
    expect(await bad.code).toBe(2);
    expect(bad.err.join('\n')).toMatch(/foreign\/manifest\.json: invalid bundle manifest/);

    const damaged = join(work, 'damaged');
    mkdirSync(damaged);
    writeFileSync(join(damaged, 'manifest.json'), readFileSync(join(bundle, 'manifest.json')));
    const dmg = cli('report', '--bundle', damaged, '--out', out);
    expect(await dmg.code).toBe(2);
    expect(dmg.err.join('\n')).toMatch(/is missing from the bundle/);
    expect(existsSync(out)).toBe(false);
  });

  it('exits 2 when --out cannot be written as a file', async () => {
    const noDir = cli('report', '--bundle', bundle, '--out', join(work, 'nowhere', 'r.html'));
    expect(await noDir.code).toBe(2);
    expect(noDir.err.join('\n')).toMatch(/does not exist/);
    const isDir = cli('report', '--bundle', bundle, '--out', work);
    expect(await isDir.code).toBe(2);
    expect(isDir.err.join('\n')).toMatch(/is a directory/);
    const missing = cli('report', '--out', join(work, 'x.html'));
    expect(await missing.code).toBe(2);
    expect(missing.err.join('\n')).toMatch(/missing required option --bundle/);
  });
});
