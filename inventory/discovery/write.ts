// Writes a discovered fabric as fabric.yaml (README, File formats), or merges
// it into an existing one: devices and links that are new are added, fields a
// device lacks are filled in, and everything already written by hand (values,
// comments, endpoints, order) stays as it was. The result is loaded back
// before it is written, atomically, so a bad merge writes nothing.

import { renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isMap, isSeq, parseDocument, stringify, type Document, type YAMLMap } from 'yaml';
import { InputError } from '../../orchestrator/diagnostics.ts';
import { WEFT_API_VERSION } from '../../orchestrator/yaml/source.ts';
import { parseInventory } from '../load.ts';
import { linkKey, type DiscoveredDevice, type DiscoveredFabric } from './merge.ts';

function deviceDoc(d: DiscoveredDevice): Record<string, unknown> {
  const o: Record<string, unknown> = { name: d.name, kind: d.kind };
  if (d.pipeline) o.pipeline = d.pipeline;
  if (d.profile) o.profile = d.profile;
  if (d.attachedTo) o.attachedTo = d.attachedTo;
  o.mgmt = { ...d.mgmt };
  return o;
}

function linkDoc(l: DiscoveredFabric['links'][number]): Record<string, unknown> {
  return { endpoints: [`${l.a.device}:${l.a.port}`, `${l.b.device}:${l.b.port}`] };
}

export function renderFabric(found: DiscoveredFabric, name: string): string {
  const doc = {
    apiVersion: WEFT_API_VERSION,
    kind: 'Fabric',
    metadata: { name },
    spec: { devices: found.devices.map(deviceDoc), links: found.links.map(linkDoc), endpoints: [] },
  };
  return `# Fabric ${name}, written by weft discover (${found.devices.length} devices, ${found.links.length} links); hand edits are kept by weft discover --update.\n${stringify(doc, { lineWidth: 0 })}`;
}

export interface UpdateReport {
  devices: string[];
  links: string[];
  /** "device field" for each field filled into an existing device. */
  fields: string[];
}

function badUpdate(file: string, message: string): InputError {
  return new InputError([{ code: 'bad-update-target', severity: 'error', message: `${file}: ${message}`, span: { file, line: 1, col: 1 }, hint: 'valid: a Weft fabric.yaml (apiVersion weft.dev/v1, kind Fabric) with spec.devices and spec.links lists' }]);
}

/** Adds to `m` the keys of `want` it lacks, recursively into maps both have; returns the paths added. */
function fillMissing(doc: Document, m: YAMLMap, want: Record<string, unknown>, path: string): string[] {
  const added: string[] = [];
  for (const [k, v] of Object.entries(want)) {
    const have = m.get(k, true);
    if (have === undefined) {
      m.set(k, doc.createNode(v));
      added.push(`${path}${k}`);
    } else if (isMap(have) && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      added.push(...fillMissing(doc, have, v as Record<string, unknown>, `${path}${k}.`));
    }
  }
  return added;
}

export function updateFabric(text: string, file: string, found: DiscoveredFabric): { text: string; report: UpdateReport } {
  // Loading first reports a broken file with its own positions.
  parseInventory(text, file);
  const doc = parseDocument(text);
  if (doc.get('kind') !== 'Fabric') throw badUpdate(file, 'not a Weft fabric (a containerlab file cannot be updated; write a fabric with --out)');
  if (!doc.hasIn(['spec', 'devices'])) doc.setIn(['spec', 'devices'], doc.createNode([]));
  if (!doc.hasIn(['spec', 'links'])) doc.setIn(['spec', 'links'], doc.createNode([]));
  const devices = doc.getIn(['spec', 'devices'], true);
  const links = doc.getIn(['spec', 'links'], true);
  if (!isSeq(devices) || !isSeq(links)) throw badUpdate(file, 'spec.devices and spec.links must be lists');

  const report: UpdateReport = { devices: [], links: [], fields: [] };
  const existing = new Map<string, YAMLMap>();
  for (const item of devices.items) if (isMap(item)) existing.set(String(item.get('name')), item);
  for (const d of found.devices) {
    const m = existing.get(d.name);
    if (!m) {
      devices.add(doc.createNode(deviceDoc(d)));
      report.devices.push(d.name);
      continue;
    }
    const { name: _name, ...rest } = deviceDoc(d);
    // Kind-dependent keys only where the hand-set kind agrees with what was seen.
    if (m.get('kind') !== d.kind) {
      delete rest.pipeline;
      delete rest.profile;
      delete rest.attachedTo;
    }
    report.fields.push(...fillMissing(doc, m, rest, '').map((f) => `${d.name} ${f}`));
  }
  const have = new Set<string>();
  for (const item of links.items) {
    const ends = isMap(item) ? item.get('endpoints') : undefined;
    if (!isSeq(ends) || ends.items.length !== 2) continue;
    const [a, b] = ends.toJSON() as string[];
    const split = (s: string): { device: string; port: string } => ({ device: s.slice(0, s.indexOf(':')), port: s.slice(s.indexOf(':') + 1) });
    have.add(linkKey(split(a), split(b)));
  }
  for (const l of found.links) {
    const k = linkKey(l.a, l.b);
    if (have.has(k)) continue;
    links.add(doc.createNode(linkDoc(l)));
    report.links.push(k);
  }
  return { text: doc.toString({ lineWidth: 0 }), report };
}

/** Loads the text back as an inventory (any error is thrown, nothing written), then writes it atomically. */
export function writeFabricFile(path: string, text: string): void {
  parseInventory(text, path);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, path);
}
