// The fabric as an SVG drawing: links first, then one group per device (or
// unmanaged endpoint) coloured by target and outlined by mode, each with a
// tooltip; the page's script adds selection and zoom on top of it.

import { esc } from './html-text.ts';
import { NODE_H, NODE_W, type Layout } from './layout.ts';

/** What the drawing needs to know of each node beyond its position. */
export interface NodeStyle {
  /** host | dpu | p4 | openconfig | none */
  target: string;
  mode?: string;
  tooltip: string;
}

const LABEL_CHARS = 12;

function label(name: string): string {
  return name.length > LABEL_CHARS ? `${name.slice(0, LABEL_CHARS - 1)}…` : name;
}

export function fabricSvg(layout: Layout, style: (name: string) => NodeStyle): string {
  const at = new Map(layout.nodes.map((n) => [n.name, n]));
  const out: string[] = [];
  out.push(`<svg id="fabric-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${layout.width} ${layout.height}" width="${layout.width}" height="${layout.height}" role="img" aria-label="fabric">`);
  out.push('<g class="bands">');
  for (const b of layout.bands) {
    out.push(`<text class="band" x="8" y="${b.y + NODE_H / 2 + 4}">${esc(b.label)}</text>`);
  }
  out.push('</g><g class="links">');
  for (const [a, b] of layout.edges) {
    const na = at.get(a);
    const nb = at.get(b);
    if (!na || !nb) continue;
    const [upper, lower] = na.y <= nb.y ? [na, nb] : [nb, na];
    const same = upper.y === lower.y;
    const x1 = upper.x + NODE_W / 2;
    const x2 = lower.x + NODE_W / 2;
    const y1 = same ? upper.y + NODE_H / 2 : upper.y + NODE_H;
    const y2 = same ? lower.y + NODE_H / 2 : lower.y;
    out.push(`<line class="link" data-a="${esc(a)}" data-b="${esc(b)}" x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}"/>`);
  }
  out.push('</g><g class="devices">');
  for (const n of layout.nodes) {
    const s = style(n.name);
    const cls = `dev role-${n.role} t-${s.target}${s.mode ? ` m-${s.mode}` : ''}`;
    out.push(
      `<g class="${cls}" data-name="${esc(n.name)}" transform="translate(${n.x},${n.y})" tabindex="0">` +
        `<title>${esc(s.tooltip)}</title>` +
        `<rect width="${NODE_W}" height="${NODE_H}" rx="${n.role === 'endpoint' ? NODE_H / 2 : 4}"/>` +
        `<text x="${NODE_W / 2}" y="${NODE_H / 2 + 4}">${esc(label(n.name))}</text></g>`,
    );
  }
  out.push('</g></svg>');
  return out.join('\n');
}
