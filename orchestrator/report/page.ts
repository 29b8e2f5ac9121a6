// The report as one HTML document: inline CSS, the fabric SVG, the tables,
// the data the page's scripts read, and the scripts themselves, so the file
// opens from disk with no network access.

import { formatDiagnostic } from '../diagnostics.ts';
import { EXPLAIN_JS, PAGE_CSS, PAGE_JS } from './assets.ts';
import { NEAR_FULL, type Usage } from './capacity.ts';
import { esc, jsonForScript, scriptSource } from './html-text.ts';
import type { DeviceRow, ReportModel, RuleRow } from './model.ts';
import { fabricSvg } from './svg.ts';

/** Targets in legend order, with what the legend says of each. */
const TARGET_LEGEND: [string, string][] = [
  ['host', 'host (eBPF)'],
  ['dpu', 'DPU / SmartNIC'],
  ['p4', 'P4 switch'],
  ['openconfig', 'OpenConfig switch'],
  ['none', 'no Weft target / unmanaged'],
];

function legend(): string {
  const swatch = (cls: string, text: string): string =>
    `<span class="item"><svg width="30" height="16" aria-hidden="true"><g class="dev ${cls}"><rect x="1" y="1" width="28" height="14" rx="3"/></g></svg>${esc(text)}</span>`;
  return `<div class="legend">${TARGET_LEGEND.map(([t, text]) => swatch(`t-${t}`, text)).join('')}${swatch('t-legend m-exact', 'exact (solid outline)')}${swatch('t-legend m-prefilter', 'prefilter (dashed outline)')}</div>`;
}

function usageCells(u: Usage): string {
  const pct = u.used !== undefined && u.limit ? Math.round((100 * u.used) / u.limit) : undefined;
  const bar = pct === undefined ? '' : `<span class="bar"><span style="width:${Math.min(100, pct)}%"></span></span> ${pct}%`;
  const limit = u.limit === undefined ? '<span class="muted">no limit recorded</span>' : `${u.limit.toLocaleString('en')}${u.limitFrom === 'inventory' ? ' <span class="muted">(inventory)</span>' : ''}`;
  return `<td class="num">${u.used === undefined ? '-' : u.used.toLocaleString('en')}</td><td class="num">${limit}</td><td class="usage">${bar}</td>`;
}

function deviceRow(d: DeviceRow): string {
  const notes = d.notes.length ? `<details><summary>${d.notes.length} note${d.notes.length === 1 ? '' : 's'}</summary><ul>${d.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul></details>` : '';
  return (
    `<tr class="usage-${d.usage.level}" data-device="${esc(d.name)}"><td><a href="#fabric" data-select="${esc(d.name)}">${esc(d.name)}</a></td><td>${esc(d.kind)}</td>` +
    `<td><span class="tag t-${esc(d.target)}">${esc(d.target)}</span></td><td>${esc(d.mode)}</td>${usageCells(d.usage)}` +
    `<td class="num">${d.files}</td><td class="num">${d.bytes.toLocaleString('en')} B</td><td>${notes}</td></tr>`
  );
}

/** The list of points opens on demand (assets/page.js fills it from the data): large fabrics place a rule on hundreds of devices. */
function ruleRow(r: RuleRow): string {
  const devices = new Set(r.points.map((p) => p.device));
  const modes = (['exact', 'prefilter'] as const).map((mode) => [mode, r.points.filter((p) => p.mode === mode).length] as const).filter(([, n]) => n > 0);
  const where = r.points.length
    ? `<details class="points" data-rule-index="${r.index}"><summary>${r.points.length} point${r.points.length === 1 ? '' : 's'} on ${devices.size} device${devices.size === 1 ? '' : 's'} (${modes.map(([mode, n]) => `${n} ${mode}`).join(', ')})</summary><ul></ul></details>`
    : '<span class="muted">no enforcement point (placement.json lists none for it)</span>';
  return (
    `<tr data-rule="${esc(r.name)}"><td class="num">${r.index}</td><td>${esc(r.section || '-')}</td><td><b>${esc(r.name)}</b></td>` +
    `<td><span class="verdict ${esc(r.action)}">${esc(r.action)}</span></td><td>${esc(r.match)}</td><td class="loc">${esc(r.location)}</td><td>${where}</td></tr>`
  );
}

function warningsSection(m: ReportModel): string {
  if (m.warnings === undefined) return '<p class="muted">This bundle records no analysis (compiled by an older Weft): run <code>weft validate</code> or recompile it.</p>';
  if (m.warnings.length === 0) return '<p class="ok">No warnings: no shadowed or redundant rules, no empty groups.</p>';
  const rows = m.warnings.map((d) => {
    const loc = d.span ? `${d.span.file}:${d.span.line}:${d.span.col}` : '';
    return `<tr class="sev-${esc(d.severity)}" title="${esc(formatDiagnostic(d))}"><td>${esc(d.severity)}</td><td><code>${esc(d.code)}</code></td><td class="loc">${esc(loc)}</td><td>${esc(d.message)}</td><td>${esc(d.hint ?? '')}</td></tr>`;
  });
  return `<table class="warnings"><thead><tr><th>severity</th><th>code</th><th>where</th><th>what</th><th>hint</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function explainForm(): string {
  return `<form id="explain-form" autocomplete="off">
<label>source <input name="src" placeholder="10.0.1.11" required></label>
<label>destination <input name="dst" placeholder="10.0.3.31" required></label>
<label>protocol <select name="proto"><option>tcp</option><option>udp</option><option>icmp</option><option>icmpv6</option></select></label>
<label>port / ICMP type <input name="port" placeholder="5432" size="8"></label>
<button type="submit">explain</button>
</form>
<div id="explain-out" aria-live="polite"><p class="muted">Enter a flow: the verdict, the rule that decides it and its path over the fabric are computed in this page from the bundle's rules and groups.</p></div>`;
}

export function renderPage(m: ReportModel): string {
  const c = m.counts;
  const warningCount = m.warnings?.length;
  const near = m.devices.filter((d) => d.usage.level === 'near' || d.usage.level === 'over').length;
  const svg = fabricSvg(m.layout, (name) => {
    const n = m.nodes[name];
    return { target: n.target, mode: n.mode, tooltip: `${n.name}: ${n.kind}, target ${n.target}${n.mode ? `, ${n.mode}` : ''}${n.attach ? `, at ${n.attach}` : ''}` };
  });
  const pageData = { nodes: m.nodes, explain: m.explain };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Weft report: ${esc(m.policy)} on ${esc(m.fabric)}</title>
<style>
${PAGE_CSS}</style>
</head>
<body>
<header>
<h1>Weft report: policy <b>${esc(m.policy)}</b> on fabric <b>${esc(m.fabric)}</b></h1>
<p class="summary">${c.devices} devices, ${c.endpoints} endpoints, ${c.rules} rules, ${c.groups} groups, ${c.identities} identities, ${c.rulesWithAnySide} rules with an any side;
${warningCount === undefined ? 'analysis not recorded' : `${warningCount} warning${warningCount === 1 ? '' : 's'}`}; ${near} device${near === 1 ? '' : 's'} near or over capacity. <span class="muted">Compiled by ${esc(m.generator)} from policy digest ${esc(m.policyDigest.slice(0, 12))}.</span></p>
<nav><a href="#fabric">fabric</a><a href="#explain">explain a flow</a><a href="#rules">rules</a><a href="#devices">devices</a><a href="#warnings">warnings</a></nav>
</header>
<main>
<section id="fabric">
<h2>Fabric</h2>
${legend()}
<div class="fabric-wrap">
<div class="fabric-pane">
<div class="toolbar"><button type="button" data-zoom="in" title="zoom in">+</button><button type="button" data-zoom="out" title="zoom out">&minus;</button><button type="button" data-zoom="fit" title="fit the width">fit</button><span class="muted">click a device for its details; ctrl+wheel zooms</span></div>
<div id="fabric-view">
${svg}
</div>
</div>
<aside id="details"><p class="muted">Click a device for its details.</p></aside>
</div>
</section>
<section id="explain">
<h2>Explain a flow</h2>
${explainForm()}
</section>
<section id="rules">
<h2>Rules, in order: where each is enforced and why</h2>
<table class="rules"><thead><tr><th>#</th><th>section</th><th>rule</th><th>action</th><th>match</th><th>source</th><th>enforced at</th></tr></thead>
<tbody>${m.rules.map(ruleRow).join('\n')}</tbody></table>
<p class="muted">Flows no rule matches get the default action, <span class="verdict ${esc(m.explain.defaultAction)}">${esc(m.explain.defaultAction)}</span>.</p>
</section>
<section id="devices">
<h2>Devices: entries against capacity</h2>
<table class="devices"><thead><tr><th>device</th><th>kind</th><th>target</th><th>mode</th><th>entries</th><th>capacity</th><th>used</th><th>files</th><th>size</th><th>notes</th></tr></thead>
<tbody>${m.devices.map(deviceRow).join('\n')}</tbody></table>
<p class="muted">Highlighted: <span class="usage-near legend-row">at or above ${Math.round(NEAR_FULL * 100)}% of capacity</span> <span class="usage-over legend-row">over capacity</span>.</p>
</section>
<section id="warnings">
<h2>Analysis warnings</h2>
${warningsSection(m)}
</section>
</main>
<script type="application/json" id="weft-report-data">${jsonForScript(pageData)}</script>
<script>
${scriptSource(EXPLAIN_JS)}</script>
<script>
${scriptSource(PAGE_JS)}</script>
</body>
</html>
`;
}
